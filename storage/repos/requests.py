"""Manual runs asked of any process, queued for a collector process (collectors/queued.py).

On PostgreSQL a request is claimed with ``FOR UPDATE SKIP LOCKED`` (two collector processes never
take the same one, and neither waits for the other), and inserting one NOTIFYs
``opscentre_requests`` in the same transaction (heard at commit). SQLite has one writer at a time:
the claim's UPDATE is atomic there as it is.

A claim lasts as long as its claimer lives: a request claimed by a process that holds no unexpired
lease any more (storage/repos/leases.py: it died, or lost the database for longer than a lease) is
claimed again by the next process that can run it, unless the dead claimer had begun its run (that
run is recorded, and marked interrupted by whoever took the source over: the request is closed,
never run twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.clock import from_text, to_text, utcnow
from storage.conn import Connection
from storage.dialect import Dialect
from storage.models import RunTrigger
from storage.pg.notify import REQUESTS
from storage.repos.base import StoreState

_COLUMNS = "id, sources, requested_by, trigger, created_at, claimed_by, claimed_at, done_at"


@dataclass(frozen=True)
class RunRequest:
    id: int
    sources: list[str]
    requested_by: str | None
    trigger: RunTrigger
    created_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    done_at: datetime | None


def _request(row: tuple[object, ...]) -> RunRequest:
    return RunRequest(
        id=int(row[0]),  # type: ignore[call-overload]
        sources=list(json.loads(str(row[1]))),
        requested_by=None if row[2] is None else str(row[2]),
        trigger=RunTrigger(str(row[3])),
        created_at=from_text(str(row[4])),
        claimed_by=None if row[5] is None else str(row[5]),
        claimed_at=None if row[6] is None else from_text(str(row[6])),
        done_at=None if row[7] is None else from_text(str(row[7])),
    )


def _insert(
    conn: Connection, d: Dialect, sources: list[str], requested_by: str | None, trigger: RunTrigger
) -> RunRequest:
    row = conn.execute(
        f"INSERT INTO run_requests (sources, requested_by, trigger, created_at) VALUES (?, ?, ?, ?) RETURNING {_COLUMNS}",
        (json.dumps(sources), requested_by, trigger.value, to_text(utcnow())),
    ).fetchone()
    assert row is not None
    d.notify(conn, REQUESTS, str(row[0]))
    return _request(row)


CLAIM_WINDOW = 100  # waiting requests looked at per claim, oldest first


def _claim(conn: Connection, d: Dialect, claimed_by: str, runnable: frozenset[str] | None) -> RunRequest | None:
    # SKIP LOCKED: rows another claimer's transaction is looking at are passed over, not waited for.
    # Waiting: unclaimed, or claimed by a process that holds no unexpired lease (gone).
    now, _, params = d.times(timedelta())
    waiting = conn.execute(
        "SELECT id, sources, claimed_by FROM run_requests WHERE done_at IS NULL AND (claimed_by IS NULL OR "
        f"NOT EXISTS (SELECT 1 FROM source_leases l WHERE l.owner = run_requests.claimed_by AND l.expires_at > {now})) "
        f"ORDER BY id LIMIT {CLAIM_WINDOW}{d.skip_locked}",
        params,
    ).fetchall()
    for request_id, sources, gone in waiting:
        if runnable is not None and not set(json.loads(sources)) <= runnable:
            continue  # another collector process's sources (leases): left for it
        if gone is not None and _began(conn, request_id) & set(json.loads(sources)):
            _done(conn, request_id)  # its run is recorded (interrupted): not run a second time
            continue
        row = conn.execute(
            f"UPDATE run_requests SET claimed_by = ?, claimed_at = ? WHERE id = ? RETURNING {_COLUMNS}",
            (claimed_by, to_text(utcnow()), request_id),
        ).fetchone()
        assert row is not None
        return _request(row)
    return None


def _began(conn: Connection, request_id: int) -> set[str]:
    """The sources of the runs a request's claimer began since it claimed it."""
    rows = conn.execute(
        "SELECT r.source FROM runs r JOIN run_requests q ON r.owner = q.claimed_by AND r.started_at >= q.claimed_at "
        "WHERE q.id = ?",
        (request_id,),
    ).fetchall()
    return {str(r[0]) for r in rows}


def _release(conn: Connection, d: Dialect, request_id: int) -> None:
    conn.execute(
        "UPDATE run_requests SET claimed_by = NULL, claimed_at = NULL WHERE id = ? AND done_at IS NULL", (request_id,)
    )
    d.notify(conn, REQUESTS, str(request_id))


def _done(conn: Connection, request_id: int) -> None:
    conn.execute("UPDATE run_requests SET done_at = ? WHERE id = ?", (to_text(utcnow()), request_id))


def _withdraw(conn: Connection, request_id: int, claimed_by: str | None) -> bool:
    row = conn.execute(
        "UPDATE run_requests SET done_at = ? WHERE id = ? AND claimed_by IS NOT DISTINCT FROM ? AND done_at IS NULL "
        "RETURNING id",
        (to_text(utcnow()), request_id, claimed_by),
    ).fetchone()
    return row is not None


class RunRequests:
    """The queue of manual runs (``run_requests``): added by any process, claimed by a collector process
    (again by another if its claimer dies before running it)."""

    def __init__(self, state: StoreState) -> None:
        self._state = state

    async def add(
        self, sources: list[str], requested_by: str | None, trigger: RunTrigger = RunTrigger.MANUAL
    ) -> RunRequest:
        """Queue a manual run of ``sources`` for whichever collector process claims it first."""
        return await self._state.writer.run(
            lambda conn: _insert(conn, self._state.dialect, sources, requested_by, trigger)
        )

    async def claim(self, claimed_by: str, runnable: frozenset[str] | None = None) -> RunRequest | None:
        """The oldest request nobody has claimed, or whose claimer is gone (of sources all in
        ``runnable``; None: any), now claimed by ``claimed_by``; None: none waits."""
        return await self._state.writer.run(lambda conn: _claim(conn, self._state.dialect, claimed_by, runnable))

    async def release(self, request_id: int) -> None:
        """Give a claimed request back (its source turned out to be another process's to run)."""
        await self._state.writer.run(lambda conn: _release(conn, self._state.dialect, request_id))

    async def withdraw(self, request_id: int, claimed_by: str | None = None) -> bool:
        """Withdraw a request nobody has claimed, or still claimed by ``claimed_by`` (a claimer that is
        gone): no collector will run it later; False: it was claimed (by another), or is done."""
        return await self._state.writer.run(lambda conn: _withdraw(conn, request_id, claimed_by))

    async def finish(self, request_id: int) -> None:
        await self._state.writer.run(lambda conn: _done(conn, request_id))

    async def get(self, request_id: int) -> RunRequest | None:
        async with self._state.reader.execute(
            f"SELECT {_COLUMNS} FROM run_requests WHERE id = ?", (request_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else _request(tuple(row))
