"""The store: one object that opens the database (a SQLite file, or a PostgreSQL server) and offers
everything the upper layers may do with it, as one repository per concern (storage/repos/), each an
attribute named for what it holds: ``store.reference``, ``snapshots``, ``runs``, ``observations``,
``events``, ``alerts``, ``audit``, ``requests``, ``leases``, ``briefings``. This module holds what is
the store's as a whole: opening and closing it, its schema's version, read-only queries across its
tables, the writer's health (and writing what waits while the database cannot be written), and the
listeners told of every commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from storage import alerting, writes
from storage.clock import to_text, utcnow
from storage.conn import Connection
from storage.dialect import Dialect, dialect_for
from storage.hooks import tell
from storage.lock import PROCESS_ID
from storage.migrations import SchemaTooNew
from storage.models import AlertParams, Indicator, Severity
from storage.pg import migrate as pg_migrate
from storage.pg.adapter import shown
from storage.pg.notify import EVENTS, REQUESTS, Handler, Listen
from storage.repos.alerts import Alerts
from storage.repos.audit import AuditLog
from storage.repos.base import Listener, StoreState, Unstarted
from storage.repos.briefings import Briefings
from storage.repos.events import Events
from storage.repos.leases import Leases
from storage.repos.observations import Observations
from storage.repos.reference import Reference
from storage.repos.requests import RunRequest, RunRequests
from storage.repos.runs import Runs
from storage.repos.snapshots import PastSnapshot, Snapshot, SnapshotFilter, Snapshots
from storage.writer import Writer, unwritable
from storage.writes import RunFinish, StoreError, StoreUnavailable

__all__ = ["PastSnapshot", "RunRequest", "Snapshot", "SnapshotFilter", "Store", "StoreError", "StoreUnavailable"]

log = logging.getLogger(__name__)

WRITE_ALERT = ("storage.write_failed", "database")  # (rule, subject) of the alert while writes fail
PROBE_EVERY = 2.0  # seconds between attempts to write what waits, while writes fail


class WriteAlert(NamedTuple):
    """The alert fired while the database cannot be written (by the recovery task, once it can)."""

    texts: tuple[str, str | None]
    params: AlertParams
    detail: str


class Store:
    """Open with ``await Store.open(path)``; close with ``await store.close()`` (or ``async with``).

    What it holds, one repository per concern (storage/repos/), all over one ``StoreState``:
    ``reference`` (categories, agencies, areas, the catalogue, what the codes stand for), ``snapshots``
    (the latest figures at one seq, now or as known in the past), ``runs`` (the run record),
    ``observations`` (the ingest, cursors, figures, revisions, provenance, payloads), ``events`` (the
    log the feed sends), ``alerts`` (alerts and silences), ``audit`` (the hash-chained log and the
    database's checks), ``requests`` (manual runs queued for a collector process), ``leases`` (this
    process's leases on sources, among several collector processes) and ``briefings`` (the leaders'
    briefings made, as made)."""

    def __init__(self, state: StoreState, source_agencies: Mapping[str, str]) -> None:
        self.state = state
        self.path = state.path
        self.dialect: Dialect = state.dialect
        self._listeners: list[Listener] = []
        self.reference = Reference(state, source_agencies)
        self.snapshots = Snapshots(state, self.reference)
        self.leases = Leases(state)
        self.runs = Runs(state, self.leases, on_unwritten=self._write_failed)
        self.observations = Observations(state, self.runs)
        self.events = Events(state)
        self.alerts = Alerts(state, self.reference)
        self.audit = AuditLog(state)
        self.requests = RunRequests(state)
        self.briefings = Briefings(state)
        state.writer.on_commit = self._notify
        # While writes fail, the recovery task writes what the runs could not (their ends, the runs that
        # could not begin) and fires the alert, as soon as the database can be written.
        self._recovery: asyncio.Task[None] | None = None
        self.probe_every = PROBE_EVERY
        state.writer.on_failure = self._write_failed
        # On PostgreSQL: the LISTEN connection (storage/pg/notify.py) through which other processes'
        # commits reach this one's listeners, as this one's own commits do through ``on_commit``.
        self._listen: Listen | None = None
        # The highest seq the listeners were told of: a commit may be heard twice (this process's
        # writer, then its own NOTIFY; a catch-up after a reconnect), listeners hear it once.
        self._told = 0
        # The schema's version as this store found it, before migrating it (0: no schema yet).
        self.schema_was = 0

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        extra_indicators: Iterable[Indicator] = (),
        source_agencies: Mapping[str, str] | None = None,
    ) -> Store:
        """Open (creating or upgrading as needed) the database at ``path``: a SQLite file, or a
        PostgreSQL server given by a ``postgresql://`` URL (the engine is chosen here, nowhere else).
        ``source_agencies``: the agency each configured source speaks for (alert texts name it)."""
        path = str(path)
        dialect = dialect_for(path)  # the one place the engine is chosen
        if dialect.local_file:
            parent = Path(path).parent
            if not parent.exists():
                raise StoreError(f"cannot create the database {path}: folder {parent} does not exist")
        writer = Writer(path, dialect)
        try:
            await writer.open()
            schema_was, _ = await writer.call(dialect.migrate)
            reader = await dialect.open_reader(path)
        except (sqlite3.DatabaseError, SchemaTooNew, pg_migrate.SchemaTooNew, psycopg.Error) as exc:
            await writer.close()
            raise StoreError(f"cannot open the database {shown(path)}: {exc}") from exc
        state = StoreState(path, writer, reader)
        store = cls(state, dict(source_agencies or {}))
        store.schema_was = schema_was
        extra = list(extra_indicators)
        state.epoch = await writer.run(lambda conn: writes.first_start(conn, extra))
        await store.reference.reload_catalogue()
        await store.alerts.read_open()
        if WRITE_ALERT in store.alerts.open_keys:  # left open by a process stopped while writes failed
            store._write_failed()  # the recovery task resolves it once a write gets through
        if dialect.notifies:
            store._told = await store.events.last_seq()
            store._listen = Listen(path)
            store._listen.on(EVENTS, store._heard)
            store._listen.start()
        return store

    @property
    def epoch(self) -> str:
        """The event log's epoch: seqs are comparable within one epoch (a new database, a new epoch)."""
        return self.state.epoch

    async def close(self) -> None:
        if self._listen is not None:
            await self._listen.close()
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.wait({self._recovery})
        if self.runs.unended or self.runs.unstarted:
            log.warning(
                "closing with %d run ends and %d unstarted runs not written (the database could not be "
                "written); the next start records the runs left running as interrupted",
                len(self.runs.unended),
                len(self.runs.unstarted),
            )
        await self.state.writer.close()
        await self.state.reader.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        """The schema's version (each engine numbers its own migrations)."""
        async with self.state.reader.execute(self.dialect.schema_version) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def read_rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the reader connection (``query_only``: it cannot write).

        For the data-quality rules (``rules/reporting.py`` and friends) and the feed's metrics, whose
        questions (reports per period, sums of provinces, two sources of one figure, open alerts of a
        rule, a source's runs) are theirs to ask, across the store's tables."""
        async with self.state.reader.execute(sql, tuple(params)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    def write_problem(self) -> str | None:
        """Why the database cannot be written now (None: it can); for readiness checks."""
        problem = self.state.writer.health.problem()
        return f"database: {problem}" if problem else None

    def _write_failed(self) -> None:
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover(), name="opscentre-store-recovery")

    async def _recover(self) -> None:
        """While writes fail: fire the alert, and write the runs' ends and the runs that could not
        begin, as soon as a write gets through; once the database is writable again (no failure
        for a while), resolve the alert. Every attempt is one small transaction."""
        while True:
            try:
                await self._write_pending()
            except StoreUnavailable:
                pass
            except Exception as exc:
                # Not ending here, whatever failed: the runs' ends waiting would never be written. A
                # read fails too while a server is away (the alert's texts), with the engine's own error.
                if not unwritable(exc):
                    log.exception("writing what waits for the database failed; trying again")
            if self.state.writer.health.ok and not self.runs.unended and not self.runs.unstarted:
                with contextlib.suppress(StoreUnavailable):
                    await self.alerts.resolve(*WRITE_ALERT)
                    return
            await asyncio.sleep(self.probe_every)

    async def _write_pending(self) -> None:
        """One attempt, in one transaction: the alert (if not open yet), the runs' ends, the runs
        that could not begin; or, with nothing to write, a probe of whether a transaction commits."""
        health = self.state.writer.health
        runs, open_keys = self.runs, self.alerts.open_keys
        unended = dict(runs.unended)
        unstarted = list(runs.unstarted)
        alert: WriteAlert | None = None
        if WRITE_ALERT not in open_keys and not health.ok:
            params = AlertParams(reason="disk_full" if health.disk_full else None)
            texts = await self.alerts.texts(*WRITE_ALERT, Severity.CRITICAL, params)
            since = to_text(health.failing_since or utcnow())
            detail = f"the database {shown(self.path)} cannot be written since {since}: {health.error}"
            alert = WriteAlert(texts, params, detail)
        await self.state.writer.run(lambda conn: _catch_up(conn, alert, unended, unstarted))
        if alert is not None:
            open_keys.add(WRITE_ALERT)
        for run_id in unended:
            runs.unended.pop(run_id, None)
        del runs.unstarted[: len(unstarted)]

    @property
    def hears_other_processes(self) -> bool:
        """Whether listeners are told of other processes' commits too (PostgreSQL's LISTEN/NOTIFY,
        with a catch-up after a reconnection); on SQLite only this process's own commits are told."""
        return self._listen is not None

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(last_seq)`` after every commit that appended events."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_request_listener(self, handler: Handler) -> bool:
        """Call ``handler(request id or None)`` when any process asks for a manual run (and with None
        after each (re)connect). False on SQLite, which has no notifications: poll there."""
        if self._listen is None:
            return False
        self._listen.on(REQUESTS, handler)
        return True

    def remove_request_listener(self, handler: Handler) -> None:
        if self._listen is not None:
            self._listen.off(REQUESTS, handler)

    async def _heard(self, payload: str | None) -> None:
        """A commit of any process (the seq it ended at), or a (re)connect: tell the listeners the
        current last seq, so that they read whatever they missed by seq."""
        seq = int(payload) if payload else await self.events.last_seq()
        await self._notify(seq)

    async def _notify(self, seq: int) -> None:
        if seq <= self._told:
            return
        self._told = seq
        await tell(self._listeners, seq, log, "store listener")


def _catch_up(
    conn: Connection,
    alert: WriteAlert | None,
    unended: dict[int, RunFinish],
    unstarted: list[Unstarted],
) -> None:
    if alert is not None:
        (vi, en), params, detail = alert
        alerting.fire(conn, *WRITE_ALERT, Severity.CRITICAL, vi, False, params, detail, message_en=en)
    for run_id, done in unended.items():
        with contextlib.suppress(StoreError):  # already ended (marked interrupted meanwhile)
            writes.finish_run(conn, run_id, done.outcome, **done.fields())
    for u in unstarted:
        writes.record_unstarted(conn, u.source, u.trigger, u.requested_by, u.at, u.error, PROCESS_ID)
    # A real write (a page of the WAL), so that the attempt says whether the disk takes one.
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('write_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (to_text(utcnow()),),
    )
