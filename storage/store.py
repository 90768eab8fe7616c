"""The repository: one object that opens the SQLite file and offers everything the upper layers
may do with it. Writes run in the writer thread (storage/writer.py), each in a transaction
together with the events it appends; reads use a second connection (aiosqlite), so a long ingest
never holds up a snapshot (WAL lets readers see the last committed state).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from storage import alerting, writes
from storage import audit as audit_log
from storage import ingest as ingest_mod
from storage.alerting import DEFAULT_INHIBITIONS, Inhibition
from storage.audit import AuditReport
from storage.clock import from_text, to_text, utcnow
from storage.ingest import OBS_SELECT, Batch, Catalogue, observation_from_row, paused_gc
from storage.lock import PROCESS_ID, DatabaseBusy
from storage.lock import holder as lock_holder
from storage.migrations import SchemaTooNew, migrate
from storage.models import (
    Agency,
    Alert,
    AlertParams,
    AlertState,
    Area,
    AuditEntry,
    Category,
    CollectionRun,
    Event,
    EventType,
    Indicator,
    IngestLog,
    IngestResult,
    Observation,
    Rejection,
    RunOutcome,
    RunTrigger,
    Severity,
    Silence,
    SilenceMatch,
)
from storage.rows import (
    ALERT_COLUMNS,
    OPEN_END,
    OPEN_START,
    RUN_COLUMNS,
    alert_from_row,
    area_from_row,
    indicator_from_row,
    open_date,
    run_from_row,
)
from storage.writer import Writer
from storage.writes import RunFinish, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

Listener = Callable[[int], Awaitable[None] | None]

WRITE_ALERT = ("storage.write_failed", "database")  # (rule, subject) of the alert while writes fail
PROBE_EVERY = 2.0  # seconds between attempts to write what waits, while writes fail


@dataclass(frozen=True)
class _Unstarted:
    """A run that could not begin because the database could not be written."""

    source: str
    trigger: RunTrigger
    requested_by: str | None
    at: datetime
    error: str


@dataclass(frozen=True)
class SnapshotFilter:
    """Which series a snapshot (or a feed subscription) covers; empty means all."""

    indicators: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    agencies: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()


@dataclass
class Snapshot:
    epoch: str
    seq: int  # the snapshot is exactly the state after this event
    observations: list[Observation] = field(default_factory=list)


PAST_RUNS = 50  # runs in a snapshot of the past, as in a live one


@dataclass
class PastSnapshot:
    """The centre as known at ``as_of`` (``Store.snapshot_as_of``); ``seq``: the last event by then."""

    epoch: str
    seq: int
    as_of: datetime
    observations: list[Observation]
    alerts: list[Alert]
    runs: list[CollectionRun]


def _alert_at(alert: Alert, at: datetime, muted: str | None = None) -> Alert:
    """An alert as it stood at ``at`` (open then), from its own timestamps: what came later is left out.
    ``muted``: its muting then, from its last transition by then (``inhibited:ID``, ``silenced:ID``)."""
    kind, _, by = (muted or "").partition(":")
    fired = alert.fired_at if alert.fired_at is not None and alert.fired_at <= at else None
    acked = alert.acknowledged_at is not None and alert.acknowledged_at <= at
    state = AlertState.ACKNOWLEDGED if acked else AlertState.FIRING if fired else AlertState.PENDING
    stamps = [t for t in (alert.opened_at, fired, alert.acknowledged_at if acked else None) if t is not None]
    return alert.model_copy(
        update={
            "state": state,
            "fired_at": fired,
            "acknowledged_at": alert.acknowledged_at if acked else None,
            "acknowledged_by": alert.acknowledged_by if acked else None,
            "ack_note": alert.ack_note if acked else None,
            "resolved_at": None,
            "updated_at": alert.updated_at if alert.updated_at <= at else max(stamps),
            "inhibited_by": int(by) if kind == "inhibited" else None,
            "silenced_by": int(by) if kind == "silenced" else None,
        }
    )


def _run_at(run: CollectionRun, at: datetime) -> CollectionRun:
    """A run as it stood at ``at``: one that had not ended yet is running, with no result."""
    if run.ended_at is not None and run.ended_at <= at:
        return run
    return CollectionRun(
        id=run.id,
        source=run.source,
        trigger=run.trigger,
        requested_by=run.requested_by,
        started_at=run.started_at,
        ended_at=None,
        outcome=RunOutcome.RUNNING,
    )


async def _reader(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA busy_timeout = 10000")
    await conn.execute("PRAGMA query_only = ON")
    return conn


class Store:
    """Open with ``await Store.open(path)``; close with ``await store.close()`` (or ``async with``)."""

    def __init__(self, path: str, writer: Writer, reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._r = reader
        self._read_lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self.epoch = ""
        self.catalogue = Catalogue((), ())
        # (rule, subject) of the open alerts: resolving one that is not open costs no write. This
        # process is the one that writes alerts (the server); the set is read back on every open.
        self._open_alerts: set[tuple[str, str]] = set()
        # Which firing alerts mute which others (storage/alerting.py); a server may set its own.
        self.inhibitions: tuple[Inhibition, ...] = DEFAULT_INHIBITIONS
        writer.on_commit = self._notify
        # While writes fail: the ends of runs, and the runs that could not begin, to be written
        # (and the alert fired) by the recovery task as soon as the database can be written.
        self._unended: dict[int, RunFinish] = {}
        self._unstarted: list[_Unstarted] = []
        self._recovery: asyncio.Task[None] | None = None
        self.probe_every = PROBE_EVERY
        writer.on_failure = self._write_failed

    # --- life cycle -----------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path, *, extra_indicators: Iterable[Indicator] = ()) -> Store:
        """Open (creating or upgrading as needed) the database at ``path``."""
        path = str(path)
        parent = Path(path).parent
        if not parent.exists():
            raise StoreError(f"cannot create the database {path}: folder {parent} does not exist")
        writer = Writer(path)
        try:
            await writer.open()
            await writer.call(migrate)
        except (sqlite3.DatabaseError, SchemaTooNew) as exc:
            await writer.close()
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        store = cls(path, writer, await _reader(path))
        extra = list(extra_indicators)
        store.epoch = await writer.run(lambda conn: writes.first_start(conn, extra))
        await store._reload_catalogue()
        store._open_alerts = {(a.rule, a.subject) for a in await store.alerts(limit=100_000)}
        if WRITE_ALERT in store._open_alerts:  # left open by a process stopped while writes failed
            store._write_failed()  # the recovery task resolves it once a write gets through
        return store

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.wait({self._recovery})
        if self._unended or self._unstarted:
            log.warning(
                "closing with %d run ends and %d unstarted runs not written (the database could not be "
                "written); the next start records the runs left running as interrupted",
                len(self._unended),
                len(self._unstarted),
            )
        await self._writer.close()
        await self._r.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _reload_catalogue(self) -> None:
        self.catalogue = Catalogue(await self.indicators(), await self.area_versions())

    async def schema_version(self) -> int:
        async with self._r.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # --- write health ---------------------------------------------------------------------------

    def write_problem(self) -> str | None:
        """Why the database cannot be written now (None: it can); for readiness checks."""
        problem = self._writer.health.problem()
        return f"database: {problem}" if problem else None

    def _write_failed(self) -> None:
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover(), name="opscentre-store-recovery")

    async def _recover(self) -> None:
        """While writes fail: fire the alert, and write the runs' ends and the runs that could not
        begin, as soon as a write gets through; once the database is writable again (no failure
        for a while), resolve the alert. Every attempt is one small transaction."""
        while True:
            with contextlib.suppress(StoreUnavailable):
                await self._write_pending()
            if self._writer.health.ok and not self._unended and not self._unstarted:
                with contextlib.suppress(StoreUnavailable):
                    await self.resolve_alert(*WRITE_ALERT)
                    return
            await asyncio.sleep(self.probe_every)

    async def _write_pending(self) -> None:
        """One attempt, in one transaction: the alert (if not open yet), the runs' ends, the runs
        that could not begin; or, with nothing to write, a probe of whether a transaction commits."""
        health = self._writer.health
        unended = dict(self._unended)
        unstarted = list(self._unstarted)
        alert: tuple[str, str] | None = None
        if WRITE_ALERT not in self._open_alerts and not health.ok:
            full = "ổ đĩa đầy; " if health.disk_full else ""
            message = (
                f"Không ghi được cơ sở dữ liệu {Path(self.path).name}: {full}số liệu mới chưa được lưu, "
                "các lượt thu thập sẽ được ghi lại khi ghi được trở lại"
            )
            since = to_text(health.failing_since or utcnow())
            alert = (message, f"the database {self.path} cannot be written since {since}: {health.error}")
        await self._writer.run(lambda conn: _catch_up(conn, alert, unended, unstarted))
        if alert is not None:
            self._open_alerts.add(WRITE_ALERT)
        for run_id in unended:
            self._unended.pop(run_id, None)
        self._unstarted = self._unstarted[len(unstarted) :]

    # --- listeners ------------------------------------------------------------------------------

    @staticmethod
    async def _max_seq(conn: aiosqlite.Connection) -> int:
        async with conn.execute("SELECT coalesce(max(seq), 0) FROM events") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(last_seq)`` after every commit that appended events."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def _notify(self, seq: int) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(seq)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("store listener failed")

    # --- reference data ---------------------------------------------------------------------------

    async def categories(self) -> list[Category]:
        async with self._r.execute("SELECT code, name_vi, name_en FROM categories ORDER BY code") as cur:
            return [Category(code=r[0], name_vi=r[1], name_en=r[2]) for r in await cur.fetchall()]

    async def agencies(self) -> list[Agency]:
        sql = "SELECT code, name_vi, name_en, kind, valid_from, valid_to, successor_code FROM agencies ORDER BY code"
        async with self._r.execute(sql) as cur:
            return [
                Agency(code=r[0], name_vi=r[1], name_en=r[2], kind=r[3], valid_from=open_date(r[4], OPEN_START),
                       valid_to=open_date(r[5], OPEN_END), successor_code=r[6])
                for r in await cur.fetchall()
            ]  # fmt: skip

    async def area_versions(self, code: str | None = None) -> list[Area]:
        sql = "SELECT code, name_vi, kind, valid_from, valid_to, successor_code FROM areas"
        args: tuple[str, ...] = ()
        if code is not None:
            sql, args = sql + " WHERE code = ?", (code,)
        async with self._r.execute(sql + " ORDER BY code, valid_from", args) as cur:
            return [area_from_row(r) for r in await cur.fetchall()]

    async def areas_in_force(self, on: date, *, include_nation: bool = False) -> list[Area]:
        """The provinces and centrally-run cities in force on ``on`` (and the nation, if asked)."""
        sql = (
            "SELECT code, name_vi, kind, valid_from, valid_to, successor_code FROM areas "
            "WHERE valid_from <= ?1 AND ?1 <= valid_to AND (?2 OR kind != 'nation') ORDER BY kind = 'nation' DESC, code"
        )
        async with self._r.execute(sql, (on.isoformat(), include_nation)) as cur:
            return [area_from_row(r) for r in await cur.fetchall()]

    async def successor(self, code: str, on: date) -> Area:
        """The unit that ``code`` had become by ``on`` (itself, if still in force).

        A code names the unit as it first existed; the chain of successors is followed forward.
        """
        versions = self.catalogue.areas.get(code)
        if not versions:
            raise StoreError(f"unknown area {code!r}")
        return self._follow(min(versions, key=lambda a: a.valid_from or date.min), on)

    def _follow(self, current: Area, on: date) -> Area:
        for _ in range(20):  # chains are short; a loop in the data must not hang us
            if current.in_force(on):
                return current
            if current.valid_from and on < current.valid_from:
                raise StoreError(f"area {current.code} did not exist yet on {on.isoformat()}")
            if not current.successor_code or current.valid_to is None:
                raise StoreError(
                    f"area {current.code} ({current.name_vi}) ended on {current.valid_to} with no successor"
                )
            day_after = date.fromordinal(current.valid_to.toordinal() + 1)
            nxt = self.catalogue.area_on(current.successor_code, day_after)
            if nxt is None:
                raise StoreError(
                    f"successor {current.successor_code} of area {current.code} is not in force on {day_after}"
                )
            current = nxt
        raise StoreError(f"the succession of area {current.code} does not end")

    async def predecessors(self, code: str, on: date) -> list[Area]:
        """Former units that had become ``code`` by ``on`` (the unit in force then), directly or not."""
        found: list[Area] = []
        for versions in self.catalogue.areas.values():
            for a in versions:
                if a.valid_to is None or a.valid_to >= on:
                    continue
                try:
                    if self._follow(a, on).code == code:
                        found.append(a)
                except StoreError:
                    continue
        return sorted(found, key=lambda a: (a.code, a.valid_from or date.min))

    async def indicators(self, category: str | None = None, agency: str | None = None) -> list[Indicator]:
        """The catalogue, optionally of one category and one agency (an agency's predecessors count)."""
        sql = "SELECT code, name_vi, name_en, unit, frequency, category, owner, level, kind, formula, magnitude FROM indicators"
        where, args = [], []
        if category:
            where.append("category = ?")
            args.append(category)
        if agency:
            owners = await self.agency_lineage(agency)
            where.append(f"owner IN ({','.join('?' * len(owners))})")
            args.extend(owners)
        if where:
            sql += " WHERE " + " AND ".join(where)
        async with self._r.execute(sql + " ORDER BY category, code", args) as cur:
            return [indicator_from_row(r) for r in await cur.fetchall()]

    async def indicator(self, code: str) -> Indicator | None:
        return self.catalogue.indicators.get(code)

    async def agency_lineage(self, code: str) -> list[str]:
        """``code`` and every agency that was merged into it, directly or not."""
        async with self._r.execute("SELECT code, successor_code FROM agencies") as cur:
            rows = await cur.fetchall()
        lineage, frontier = [code], [code]
        while frontier:
            nxt = [r[0] for r in rows if r[1] in frontier and r[0] not in lineage]
            lineage += nxt
            frontier = nxt
        return lineage

    async def upsert_indicators(self, indicators: Sequence[Indicator]) -> None:
        """Add or update catalogue entries (indicators from the configuration)."""
        rows = list(indicators)
        await self._writer.run(lambda conn: writes.upsert_indicators(conn, rows))
        await self._reload_catalogue()

    # --- ingest -----------------------------------------------------------------------------------

    async def ingest(self, batch: Batch, *, finish: Callable[[IngestResult], RunFinish] | None = None) -> IngestResult:
        """Check and write one batch in one transaction; see :class:`IngestResult`.

        Records that fail a check are rejected with a reason and the rest still go in. Writing
        the same batch again finds every record unchanged and appends nothing. With ``finish``,
        the batch's run is finished in the same transaction (``finish(result)`` says how).
        """
        catalogue = self.catalogue
        small = len(batch.records) <= 2000

        def write(conn: sqlite3.Connection) -> IngestResult:
            if small:  # cheaper to check here, in the writer, than to hop threads twice more
                rows = conn.execute(
                    "SELECT indicator, area, period FROM series_latest WHERE source = ?", (batch.source,)
                )
                work, rejected = _prepare(catalogue, batch, {(r[0], r[1]): r[2] for r in rows})
            else:
                work, rejected = prepared
            result = ingest_mod.write(conn, batch, work, rejected)
            if finish is not None:
                assert batch.run_id is not None
                done = finish(result)
                result.run = writes.finish_run(conn, batch.run_id, done.outcome, **done.fields())
            return result

        if not small:  # keep the event loop responsive on large payloads: check in a thread first
            async with self._r.execute(
                "SELECT indicator, area, period FROM series_latest WHERE source = ?", (batch.source,)
            ) as cur:
                latest = {(r[0], r[1]): r[2] for r in await cur.fetchall()}
            prepared = await asyncio.to_thread(_prepare, catalogue, batch, latest)
        try:
            return await self._writer.run(write)
        except LookupError as exc:
            raise StoreError(str(exc)) from None

    async def newest_periods(self) -> dict[tuple[str, str, str], str]:
        """Each series' (indicator, area, source) newest period."""
        async with self._r.execute("SELECT indicator, area, source, period FROM series_latest") as cur:
            return {(r[0], r[1], r[2]): r[3] for r in await cur.fetchall()}

    async def read_rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the reader connection (``query_only``: it cannot write).

        For the data-quality rules (``collectors/reporting.py`` and friends), whose questions
        (reports per period, sums of provinces, two sources of one figure) are theirs to ask."""
        async with self._r.execute(sql, tuple(params)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def cursor(self, source: str) -> str | None:
        """Where the source's next incremental pull starts (None: from the beginning)."""
        async with self._r.execute("SELECT cursor FROM source_state WHERE source = ?", (source,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def reset_cursor(self, source: str) -> None:
        """Make the next pull of ``source`` a full one (ingest stays idempotent)."""
        await self._writer.run(lambda conn: writes.reset_cursor(conn, source))

    # --- observations -------------------------------------------------------------------------------

    async def observation(self, obs_id: int) -> Observation | None:
        async with self._r.execute(f"SELECT {OBS_SELECT} FROM observations o WHERE o.id = ?", (obs_id,)) as cur:
            row = await cur.fetchone()
        return observation_from_row(row) if row else None

    async def history(
        self,
        indicator: str,
        area: str,
        *,
        source: str | None = None,
        as_of: datetime | None = None,
        since: str | None = None,
    ) -> list[Observation]:
        """The series, one figure per period and source: the latest revision known at ``as_of``
        (default: now), oldest period first."""
        cutoff = to_text(as_of) if as_of else "9999"
        sql = f"""
        SELECT {OBS_SELECT} FROM observations o
        WHERE indicator = ?1 AND area = ?2 AND (?3 IS NULL OR source = ?3) AND collected_at <= ?4
          AND (?5 IS NULL OR period >= ?5)
          AND revision = (SELECT max(revision) FROM observations m
                          WHERE m.indicator = o.indicator AND m.area = o.area AND m.period = o.period
                            AND m.source = o.source AND m.collected_at <= ?4)
        ORDER BY period, source"""
        async with self._r.execute(sql, (indicator, area, source, cutoff, since)) as cur:
            return [observation_from_row(r) for r in await cur.fetchall()]

    async def revisions(self, indicator: str, area: str, period: str, source: str | None = None) -> list[Observation]:
        """Every revision of one figure, first to last."""
        sql = f"""SELECT {OBS_SELECT} FROM observations o
        WHERE indicator = ?1 AND area = ?2 AND period = ?3 AND (?4 IS NULL OR source = ?4)
        ORDER BY source, revision"""
        async with self._r.execute(sql, (indicator, area, period, source)) as cur:
            return [observation_from_row(r) for r in await cur.fetchall()]

    async def value_as_of(
        self, indicator: str, area: str, period: str, as_of: datetime, source: str | None = None
    ) -> Observation | None:
        """The figure for one period as the centre knew it at ``as_of``."""
        sql = f"""SELECT {OBS_SELECT} FROM observations o
        WHERE indicator = ?1 AND area = ?2 AND period = ?3 AND (?4 IS NULL OR source = ?4) AND collected_at <= ?5
        ORDER BY collected_at DESC, revision DESC LIMIT 1"""
        async with self._r.execute(sql, (indicator, area, period, source, to_text(as_of))) as cur:
            row = await cur.fetchone()
        return observation_from_row(row) if row else None

    async def ingest_log(self, run_id: int | None = None, limit: int = 100) -> list[IngestLog]:
        """Recorded ingests, newest first; of one run if given."""
        sql = """SELECT i.id, i.source, i.run_id, p.digest, i.at, i.records, i.new, i.revised, i.unchanged, i.rejected,
                 i.first_obs, i.last_obs, i.first_seq, i.last_seq
                 FROM ingests i LEFT JOIN raw_payloads p ON p.id = i.payload_id
                 WHERE ?1 IS NULL OR i.run_id = ?1 ORDER BY i.id DESC LIMIT ?2"""
        async with self._r.execute(sql, (run_id, limit)) as cur:
            rows = await cur.fetchall()
        fields = IngestLog.model_fields.keys()
        return [IngestLog.model_validate(dict(zip(fields, r, strict=True))) for r in rows]

    async def rejections(self, ingest_id: int) -> list[Rejection]:
        """Why records of one ingest were refused (the first 1,000 are kept)."""
        sql = "SELECT position, reason, record FROM rejections WHERE ingest_id = ? ORDER BY position"
        async with self._r.execute(sql, (ingest_id,)) as cur:
            return [Rejection(index=r[0], reason=r[1], record=json.loads(r[2])) for r in await cur.fetchall()]

    async def run_observations(self, run_id: int) -> list[Observation]:
        """The figures a run appended, in order (found through its ingests' id ranges)."""
        out: list[Observation] = []
        for log in reversed(await self.ingest_log(run_id, limit=100_000)):
            if log.first_id is None:
                continue
            sql = f"SELECT {OBS_SELECT} FROM observations o WHERE o.id BETWEEN ? AND ? ORDER BY o.id"
            async with self._r.execute(sql, (log.first_id, log.last_id)) as cur:
                out += [observation_from_row(r) for r in await cur.fetchall()]
        return out

    async def provenance(self, obs_id: int) -> dict[str, Any] | None:
        """Where one figure came from: its revisions, the ingest and run that brought it, the payload."""
        obs = await self.observation(obs_id)
        if obs is None:
            return None
        sql = """SELECT i.id, i.source, i.run_id, p.digest, i.at, i.records, i.new, i.revised, i.unchanged, i.rejected,
                 i.first_obs, i.last_obs, i.first_seq, i.last_seq, p.size, p.content_type, p.wire_encoding
                 FROM ingests i LEFT JOIN raw_payloads p ON p.id = i.payload_id
                 WHERE i.first_obs <= ?1 AND i.last_obs >= ?1 LIMIT 1"""
        async with self._r.execute(sql, (obs_id,)) as cur:
            row = await cur.fetchone()
        ingest = None
        payload = None
        if row is not None:
            fields = IngestLog.model_fields.keys()
            ingest = IngestLog.model_validate(dict(zip(fields, row[:14], strict=True))).model_dump(mode="json")
            if row[3] is not None:
                # sha256 and size are of the decoded bytes; wire_encoding names what was undone (gzip, ...)
                payload = {"sha256": row[3], "size": row[14], "content_type": row[15], "wire_encoding": row[16]}
        run = await self.run(obs.run_id) if obs.run_id is not None else None
        revisions = await self.revisions(obs.indicator, obs.area, obs.period, obs.source)
        return {
            "observation": obs.model_dump(mode="json"),
            "revisions": [r.model_dump(mode="json") for r in revisions],
            "ingest": ingest,
            "run": run.model_dump(mode="json") if run else None,
            "payload": payload,
        }

    async def payload(self, digest: str) -> bytes | None:
        """The exact bytes a figure came from."""
        async with self._r.execute("SELECT codec, body FROM raw_payloads WHERE digest = ?", (digest,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return zlib.decompress(row[1]) if row[0] == "zlib" else bytes(row[1])

    async def snapshot(self, flt: SnapshotFilter | None = None) -> Snapshot:
        """The latest figure of every series matching ``flt``, consistent with one event seq."""
        flt = flt or SnapshotFilter()
        where, args = _filter_sql(flt, await self._agency_codes(flt))
        sql = f"""
        SELECT {OBS_SELECT}
        FROM series_latest l JOIN observations o ON o.id = l.obs_id JOIN indicators i ON i.code = l.indicator
        {where} ORDER BY o.indicator, o.area, o.source"""
        conn = self._r
        async with self._read_tx(conn):
            seq = await self._max_seq(conn)
            async with conn.execute(sql, args) as cur:
                rows = await cur.fetchall()
        return Snapshot(self.epoch, seq, [observation_from_row(r) for r in rows])

    async def snapshot_as_of(self, as_of: datetime, flt: SnapshotFilter | None = None) -> PastSnapshot:
        """The centre as it was known at ``as_of``: each series' newest period known then, at the
        revision known then; the alerts open then, in the state they were in; the newest runs begun
        by then (one still going then shows as running, with nothing of how it ended).

        Read on a connection of its own, in one read transaction: the shared reader, which the live
        feed uses on every tick, is never held up by a long look into the past.
        """
        flt = flt or SnapshotFilter()
        at = to_text(as_of)
        where, args = _filter_sql(flt, await self._agency_codes(flt))
        known = f"{where} AND l.collected_at <= ?" if where else "WHERE l.collected_at <= ?"
        series_sql = f"""
        WITH ranked AS (
            SELECT l.id, row_number() OVER (
                PARTITION BY l.indicator, l.area, l.source ORDER BY l.period DESC, l.revision DESC) AS rn
            FROM observations l JOIN indicators i ON i.code = l.indicator
            {known})
        SELECT {OBS_SELECT} FROM ranked r JOIN observations o ON o.id = r.id
        WHERE r.rn = 1 ORDER BY o.indicator, o.area, o.source"""
        alerts_sql = (
            f"SELECT {ALERT_COLUMNS}, (SELECT muted FROM alert_transitions t WHERE t.alert_id = alerts.id "
            "AND t.at <= ?1 ORDER BY t.id DESC LIMIT 1) FROM alerts "
            "WHERE opened_at <= ?1 AND (resolved_at IS NULL OR resolved_at > ?1) ORDER BY id DESC"
        )
        runs_sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE started_at <= ? ORDER BY id DESC LIMIT ?"
        conn = await _reader(self.path)
        try:
            await conn.execute("BEGIN")
            async with conn.execute("SELECT coalesce(max(seq), 0) FROM events WHERE at <= ?", (at,)) as cur:
                row = await cur.fetchone()
            async with conn.execute(series_sql, (*args, at)) as cur:
                observations = [observation_from_row(r) for r in await cur.fetchall()]
            async with conn.execute(alerts_sql, (at,)) as cur:
                alerts = [_alert_at(alert_from_row(r[:-1]), as_of, r[-1]) for r in await cur.fetchall()]
            async with conn.execute(runs_sql, (at, PAST_RUNS)) as cur:
                runs = [_run_at(run_from_row(r), as_of) for r in await cur.fetchall()]
        finally:
            # Shielded: a reader cancelled midway (its client left) still closes its connection.
            await asyncio.shield(asyncio.ensure_future(conn.close()))
        return PastSnapshot(self.epoch, int(row[0]) if row else 0, as_of, observations, alerts, runs)

    @asynccontextmanager
    async def _read_tx(self, conn: aiosqlite.Connection) -> AsyncIterator[None]:
        async with self._read_lock:  # one explicit read transaction at a time on the shared reader
            try:
                # Once called, BEGIN is queued on the reader's thread even if this task is cancelled
                # while waiting for it; so the COMMIT below is always queued after it, and shielded.
                await conn.execute("BEGIN")
                yield
            finally:
                await asyncio.shield(asyncio.ensure_future(_end_read(conn)))

    async def _agency_codes(self, flt: SnapshotFilter) -> list[str]:
        codes: list[str] = []
        for a in sorted(flt.agencies):
            codes += await self.agency_lineage(a)
        return codes

    # --- events ---------------------------------------------------------------------------------------

    async def last_seq(self) -> int:
        return await self._max_seq(self._r)

    async def first_seq(self) -> int:
        """The oldest event still in the log (0 when the log is empty)."""
        async with self._r.execute("SELECT coalesce(min(seq), 0) FROM events") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def events_after(self, seq: int, limit: int = 1000) -> list[Event]:
        """Events with seq > ``seq``, in order, at most ``limit``."""
        sql = f"""
        SELECT e.seq, e.type, e.at, e.payload, {OBS_SELECT},
               p.value, p.status
        FROM events e
        LEFT JOIN observations o ON o.id = e.obs_id
        LEFT JOIN observations p ON p.id = o.supersedes
        WHERE e.seq > ? ORDER BY e.seq LIMIT ?"""
        async with self._r.execute(sql, (seq, limit)) as cur:
            rows = await cur.fetchall()
        events = []
        for r in rows:
            if r[4] is not None:
                payload = observation_from_row(r[4:15]).model_dump(mode="json")
                payload["previous_value"], payload["previous_status"] = r[15], r[16]
            else:
                payload = json.loads(r[3]) if r[3] else {}
            events.append(
                Event.model_construct(
                    seq=r[0], epoch=self.epoch, type=EventType(r[1]), at=from_text(r[2]), payload=payload
                )
            )
        return events

    async def prune_events(self, keep_after: datetime) -> int:
        """Drop events older than ``keep_after`` (clients that far behind get a fresh snapshot)."""
        return await self._writer.run(lambda conn: writes.prune_events(conn, keep_after))

    # --- collection runs -----------------------------------------------------------------------------

    async def start_run(self, source: str, trigger: RunTrigger, requested_by: str | None = None) -> CollectionRun:
        return await self._writer.run(lambda conn: writes.start_run(conn, source, trigger, requested_by, PROCESS_ID))

    async def begin_run(
        self, source: str, trigger: RunTrigger, requested_by: str | None = None
    ) -> tuple[CollectionRun, str | None]:
        """Start a run and read where its pull starts (the source's cursor), in one step.

        If the database cannot be written, raises StoreUnavailable; the run is recorded (as failed,
        could not start) once the database can be written again.
        """

        def begin(conn: sqlite3.Connection) -> tuple[CollectionRun, str | None]:
            row = conn.execute("SELECT cursor FROM source_state WHERE source = ?", (source,)).fetchone()
            return writes.start_run(conn, source, trigger, requested_by, PROCESS_ID), row[0] if row else None

        at = utcnow()
        try:
            return await self._writer.run(begin)
        except StoreUnavailable as exc:
            self._unstarted.append(_Unstarted(source, trigger, requested_by, at, f"could not start: {exc}"))
            raise

    async def finish_run(
        self,
        run_id: int,
        outcome: RunOutcome,
        *,
        fetched: int = 0,
        new: int = 0,
        revised: int = 0,
        unchanged: int = 0,
        rejected: int = 0,
        error: str | None = None,
        latency_ms: float | None = None,
        bytes_: int | None = None,
        http_status: int | None = None,
    ) -> CollectionRun:
        return await self.end_run(
            run_id,
            RunFinish(outcome, fetched, new, revised, unchanged, rejected, error, latency_ms, bytes_, http_status),
        )

    async def end_run(self, run_id: int, done: RunFinish) -> CollectionRun:
        """Record how a running run ended."""
        return await self._writer.run(lambda conn: writes.finish_run(conn, run_id, done.outcome, **done.fields()))

    async def end_run_eventually(self, run: CollectionRun, done: RunFinish) -> CollectionRun:
        """Record how ``run`` ended; if the database cannot be written now, keep the end and write it
        as soon as it can (the run as it will be recorded is returned either way)."""
        try:
            return await self.end_run(run.id, done)
        except StoreUnavailable:
            self._unended[run.id] = done
            self._write_failed()
            return run.model_copy(update={"ended_at": utcnow(), "outcome": done.outcome, **done.fields()})

    async def mark_interrupted(self, *, only_dead: bool = True) -> list[CollectionRun]:
        """Close runs left 'running' by a process that is gone (or, with ``only_dead=False``, all).

        Gone means: neither this process nor the one holding the collector lock (storage/lock.py).
        While the lock is held by a process that has not yet written its name, nothing is closed.
        """
        alive: set[str] = set()
        if only_dead:
            alive.add(PROCESS_ID)
            try:
                current = lock_holder(self.path)
            except DatabaseBusy:
                return []
            if current is not None:
                alive.add(current.owner)
        return await self._writer.run(lambda conn: writes.mark_interrupted(conn, lambda owner: owner in alive))

    async def run(self, run_id: int) -> CollectionRun | None:
        try:
            return await self._run(self._r, run_id)
        except StoreError:
            return None

    async def runs(self, source: str | None = None, limit: int = 50) -> list[CollectionRun]:
        """Most recent first."""
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR source = ?1) ORDER BY id DESC LIMIT ?2"
        async with self._r.execute(sql, (source, limit)) as cur:
            return [run_from_row(r) for r in await cur.fetchall()]

    async def last_runs(self) -> dict[str, CollectionRun]:
        """Each source's newest run, by source name."""
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT max(id) FROM runs GROUP BY source)"
        async with self._r.execute(sql) as cur:
            return {r.source: r for r in map(run_from_row, await cur.fetchall())}

    async def _run(self, conn: aiosqlite.Connection, run_id: int) -> CollectionRun:
        async with conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise StoreError(f"no run {run_id}")
        return run_from_row(row)

    # --- alerts ------------------------------------------------------------------------------------------

    async def fire_alert(
        self,
        rule: str,
        subject: str,
        severity: Severity,
        message: str,
        *,
        pending: bool = False,
        params: AlertParams | None = None,
        detail: str | None = None,
        for_: timedelta | None = None,
        keep_firing_for: timedelta | None = None,
    ) -> Alert | None:
        """The condition of ``rule`` on ``subject`` holds: open (or update) its alert. Returns it if
        anything visible changed.

        ``for_``: the alert stays pending until the condition has held that long (a later call or
        the timer pass, ``tick_alerts``, fires it). ``keep_firing_for``: once firing, it is resolved
        only after its condition has stayed clear that long (hysteresis: flapping input does not
        flap it). ``pending``: held pending until a call without it.

        ``message`` is Vietnamese, for operators, and never holds a URL or an exception's text:
        those go to ``detail``; ``params`` are what it is about, for clients to word it themselves."""
        inhibitions = self.inhibitions
        alert = await self._writer.run(
            lambda conn: alerting.fire(
                conn, rule, subject, severity, message, pending, params, detail, for_, keep_firing_for, inhibitions
            )
        )
        self._open_alerts.add((rule, subject))
        return alert

    async def resolve_alert(self, rule: str, subject: str) -> Alert | None:
        """The condition of ``rule`` on ``subject`` is clear: resolve its alert (a firing one once it
        has stayed clear for its ``keep_firing_for``). Returns it if it was resolved now."""
        if (rule, subject) not in self._open_alerts:
            return None
        inhibitions = self.inhibitions
        alert, still_open = await self._writer.run(lambda conn: alerting.resolve(conn, rule, subject, inhibitions))
        if not still_open:
            self._open_alerts.discard((rule, subject))
        return alert

    async def source_areas(self, source: str, limit: int = 2) -> list[str]:
        """Areas whose figures ``source`` has delivered (at most ``limit``): a province's own system
        delivers that province's alone, so its alerts can name the province (and mute its late reports)."""
        sql = "SELECT DISTINCT area FROM series_latest WHERE source = ? LIMIT ?"
        async with self._r.execute(sql, (source, limit)) as cur:
            return sorted(r[0] for r in await cur.fetchall())

    async def tick_alerts(self) -> list[Alert]:
        """The timer pass of the alert life cycle: pending alerts whose ``for`` passed fire, alerts
        clear for their ``keep_firing_for`` resolve, expired silences end. Returns what changed."""
        inhibitions = self.inhibitions
        changed = await self._writer.run(lambda conn: alerting.tick(conn, inhibitions))
        for a in changed:
            if a.state is AlertState.RESOLVED:
                self._open_alerts.discard((a.rule, a.subject))
        return changed

    async def acknowledge_alert(
        self, alert_id: int, actor: str, role: str, note: str = "", details: dict[str, Any] | None = None
    ) -> Alert:
        """Acknowledge an open alert; the action is written to the audit log in the same transaction."""
        extra = details or {}
        return await self._writer.run(lambda conn: alerting.acknowledge(conn, alert_id, actor, role, note, extra))

    async def alerts(
        self,
        *,
        open_only: bool = True,
        limit: int = 200,
        states: Iterable[AlertState] = (),
        severities: Iterable[Severity] = (),
    ) -> list[Alert]:
        """The newest alerts first: open ones only, or of the given states and severities."""
        where, args = [], []
        if open_only:
            where.append("state != 'resolved'")
        if wanted := [s.value for s in states]:
            where.append(f"state IN ({','.join('?' * len(wanted))})")
            args += wanted
        if levels := [s.value for s in severities]:
            where.append(f"severity IN ({','.join('?' * len(levels))})")
            args += levels
        sql = f"SELECT {ALERT_COLUMNS} FROM alerts" + (f" WHERE {' AND '.join(where)}" if where else "")
        async with self._r.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)) as cur:
            return [alert_from_row(r) for r in await cur.fetchall()]

    async def alert_transitions(self, alert_id: int) -> list[tuple[datetime, AlertState, str | None, str | None]]:
        """Every transition of an alert, oldest first: (when, state, muted by, who)."""
        sql = "SELECT at, state, muted, actor FROM alert_transitions WHERE alert_id = ? ORDER BY id"
        async with self._r.execute(sql, (alert_id,)) as cur:
            return [(from_text(r[0]), AlertState(r[1]), r[2], r[3]) for r in await cur.fetchall()]

    # --- silences --------------------------------------------------------------------------------------

    async def silence(
        self,
        match: SilenceMatch,
        ends_at: datetime,
        comment: str,
        actor: str,
        role: str,
        details: dict[str, Any] | None = None,
    ) -> tuple[Silence, list[Alert]]:
        """Mute open and future alerts matching ``match`` until ``ends_at`` (audited, ``alert.silence``).
        Returns the silence and the alerts it muted now."""
        inhibitions, extra = self.inhibitions, details or {}
        return await self._writer.run(
            lambda conn: alerting.silence(conn, match, ends_at, comment, actor, role, extra, inhibitions)
        )

    async def unsilence(
        self, silence_id: int, actor: str, role: str, details: dict[str, Any] | None = None
    ) -> tuple[Silence, list[Alert]]:
        """End a silence now (audited, ``silence.remove``); returns it and the alerts it no longer mutes."""
        inhibitions, extra = self.inhibitions, details or {}
        return await self._writer.run(
            lambda conn: alerting.unsilence(conn, silence_id, actor, role, extra, inhibitions)
        )

    async def silences(self, *, active_only: bool = True, limit: int = 200) -> list[Silence]:
        """Silences, newest first (active ones only: not ended, not expired by now)."""
        sql = f"SELECT {alerting.SILENCE_COLUMNS} FROM silences"
        args: tuple[Any, ...] = (limit,)
        if active_only:
            sql += " WHERE ended_at IS NULL AND ends_at > ?"
            args = (to_text(utcnow()), limit)
        async with self._r.execute(sql + " ORDER BY id DESC LIMIT ?", args) as cur:
            return [alerting.silence_from_row(r) for r in await cur.fetchall()]

    # --- audit ------------------------------------------------------------------------------------------

    async def audit(
        self, actor: str, role: str, action: str, target: str, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        extra = details or {}
        return await self._writer.run(lambda conn: audit_log.append(conn, utcnow(), actor, role, action, target, extra))

    async def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:
        sql = "SELECT id, at, actor, role, action, target, details, prev_hash, hash FROM audit ORDER BY id DESC LIMIT ?"
        async with self._r.execute(sql, (limit,)) as cur:
            return [audit_log.entry_from_row(r) for r in await cur.fetchall()]

    async def find_audit(
        self, actor: str, idempotency_key: str, actions: Sequence[str] | None = None
    ) -> AuditEntry | None:
        """The entry of ``actor``'s command with this idempotency key, if it was already done
        (only entries of ``actions``, when given: a refused attempt does not use the key up)."""
        wanted = list(actions or [])
        only = f"AND action IN ({','.join('?' * len(wanted))}) " if wanted else ""
        sql = (
            "SELECT id, at, actor, role, action, target, details, prev_hash, hash FROM audit "
            f"WHERE actor = ? AND json_extract(details, '$.idempotency_key') = ? {only}ORDER BY id LIMIT 1"
        )
        async with self._r.execute(sql, (actor, idempotency_key, *wanted)) as cur:
            row = await cur.fetchone()
        return audit_log.entry_from_row(row) if row else None

    async def verify_audit(self, expected_head: str | None = None) -> AuditReport:
        return await audit_log.verify(self._r, expected_head)

    # --- maintenance -----------------------------------------------------------------------------------

    async def dangling_references(self) -> list[str]:
        """Observations pointing at an indicator, run or payload that does not exist (should be none)."""
        checks = {
            "indicator": "SELECT count(*) FROM observations WHERE indicator NOT IN (SELECT code FROM indicators)",
            "run": "SELECT count(*) FROM observations WHERE run_id IS NOT NULL AND run_id NOT IN (SELECT id FROM runs)",
            "payload": "SELECT count(*) FROM observations WHERE payload_id IS NOT NULL "
            "AND payload_id NOT IN (SELECT id FROM raw_payloads)",
        }
        found = []
        for what, sql in checks.items():
            async with self._r.execute(sql) as cur:
                row = await cur.fetchone()
            if row and row[0]:
                found.append(f"{row[0]} observations refer to a {what} that does not exist")
        return found

    async def integrity_check(self) -> list[str]:
        async with self._r.execute("PRAGMA integrity_check") as cur:
            return [r[0] for r in await cur.fetchall()]


# --- helpers ------------------------------------------------------------------------------------------------


async def _end_read(conn: aiosqlite.Connection) -> None:
    with contextlib.suppress(sqlite3.OperationalError):  # no transaction: its BEGIN failed
        await conn.execute("COMMIT")


def _prepare(
    catalogue: Catalogue, batch: Batch, latest: dict[tuple[str, str], str]
) -> tuple[ingest_mod.Plan, list[Rejection]]:
    with paused_gc():
        return catalogue.check(batch.records, batch.source, latest)


def _catch_up(
    conn: sqlite3.Connection,
    alert: tuple[str, str] | None,
    unended: dict[int, RunFinish],
    unstarted: list[_Unstarted],
) -> None:
    if alert is not None:
        message, detail = alert
        alerting.fire(conn, *WRITE_ALERT, Severity.CRITICAL, message, False, None, detail)
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


def _filter_sql(flt: SnapshotFilter, agency_codes: list[str]) -> tuple[str, list[str]]:
    where: list[str] = []
    args: list[str] = []
    for column, values in (
        ("l.indicator", flt.indicators),
        ("l.area", flt.areas),
        ("i.category", flt.categories),
        ("i.owner", frozenset(agency_codes)),
        ("l.source", flt.sources),
    ):
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            args.extend(sorted(values))
    return ("WHERE " + " AND ".join(where)) if where else "", args
