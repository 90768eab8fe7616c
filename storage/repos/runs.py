"""The run record: collection runs begun, ended, interrupted, and read back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage import writes
from storage.clock import utcnow
from storage.conn import Connection
from storage.lock import PROCESS_ID, DatabaseBusy
from storage.lock import holder as lock_holder
from storage.models import (
    CollectionRun,
    RunOutcome,
    RunTrigger,
)
from storage.repos.base import StoreState, Unstarted
from storage.repos.leases import Leases, check_held
from storage.rows import (
    RUN_COLUMNS,
    run_from_row,
)
from storage.writes import RunFinish, StoreUnavailable


class Runs:
    """Runs begin checking this process's ``leases`` (when they are required), and keep what they could
    not write while the database cannot be written (``unended``, ``unstarted``): ``on_unwritten`` is
    told, and the store's recovery task writes them as soon as it can (storage/store.py)."""

    def __init__(self, state: StoreState, leases: Leases, on_unwritten: Callable[[], None]) -> None:
        self._state = state
        self._leases = leases
        self._on_unwritten = on_unwritten
        self.unended: dict[int, RunFinish] = {}  # run id -> how it ended
        self.unstarted: list[Unstarted] = []

    async def start(self, source: str, trigger: RunTrigger, requested_by: str | None = None) -> CollectionRun:
        return await self._state.writer.run(
            lambda conn: writes.start_run(conn, source, trigger, requested_by, PROCESS_ID)
        )

    async def begin(
        self, source: str, trigger: RunTrigger, requested_by: str | None = None
    ) -> tuple[CollectionRun, str | None]:
        """Start a run and read where its pull starts (the source's cursor), in one step.

        If the database cannot be written, raises StoreUnavailable; the run is recorded (as failed,
        could not start) once the database can be written again.
        """

        def begin(conn: Connection) -> tuple[CollectionRun, str | None]:
            lease = self._leases.needed(source)
            if lease is not None:  # in the same transaction: never a run of a source another process holds
                check_held(conn, self._state.dialect, source, PROCESS_ID, lease)
            row = conn.execute("SELECT cursor FROM source_state WHERE source = ?", (source,)).fetchone()
            return writes.start_run(conn, source, trigger, requested_by, PROCESS_ID), row[0] if row else None

        at = utcnow()
        try:
            return await self._state.writer.run(begin)
        except StoreUnavailable as exc:
            self.unstarted.append(Unstarted(source, trigger, requested_by, at, f"could not start: {exc}"))
            raise

    async def finish(self, run_id: int, outcome: RunOutcome, **result: Any) -> CollectionRun:
        """Record how a running run ended; ``result``: fields of the run record's ``RunResult``."""
        return await self.end(run_id, RunFinish(outcome=outcome, **result))

    async def end(self, run_id: int, done: RunFinish) -> CollectionRun:
        """Record how a running run ended."""
        return await self._state.writer.run(lambda conn: writes.finish_run(conn, run_id, done.outcome, **done.fields()))

    async def end_eventually(self, run: CollectionRun, done: RunFinish) -> CollectionRun:
        """Record how ``run`` ended; if the database cannot be written now, keep the end and write it
        as soon as it can (the run as it will be recorded is returned either way)."""
        try:
            return await self.end(run.id, done)
        except StoreUnavailable:
            self.unended[run.id] = done
            self._on_unwritten()
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
                current = lock_holder(self._state.path)
            except DatabaseBusy:
                return []
            if current is not None:
                alive.add(current.owner)
        return await self._state.writer.run(lambda conn: writes.mark_interrupted(conn, lambda owner: owner in alive))

    async def get(self, run_id: int) -> CollectionRun | None:
        async with self._state.reader.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else run_from_row(row)

    async def recent(self, source: str | None = None, limit: int = 50) -> list[CollectionRun]:
        """Most recent first."""
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR source = ?1) ORDER BY id DESC LIMIT ?2"
        async with self._state.reader.execute(sql, (source, limit)) as cur:
            return [run_from_row(r) for r in await cur.fetchall()]

    async def last_per_source(self) -> dict[str, CollectionRun]:
        """Each source's newest run, by source name."""
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT max(id) FROM runs GROUP BY source)"
        async with self._state.reader.execute(sql) as cur:
            return {r.source: r for r in map(run_from_row, await cur.fetchall())}
