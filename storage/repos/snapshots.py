"""Snapshots: the latest figure of every series consistent with one event seq, now or as known in the past."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from storage.clock import to_text
from storage.models import (
    Alert,
    AlertState,
    CollectionRun,
    Observation,
    RunOutcome,
    RunResult,
)
from storage.repos.base import StoreState, max_seq
from storage.repos.reference import Reference
from storage.rows import (
    ALERT_COLUMNS,
    OBS_SELECT,
    RUN_COLUMNS,
    alert_from_row,
    observation_from_row,
    run_from_row,
)


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
    """The centre as known at ``as_of`` (``store.snapshots.as_of``); ``seq``: the last event by then."""

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
    began = {name: value for name, value in run if name not in RunResult.model_fields}
    return CollectionRun.model_validate({**began, "ended_at": None, "outcome": RunOutcome.RUNNING})


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


class Snapshots:
    """Snapshots filter by agency, and an agency by its lineage (``reference``)."""

    def __init__(self, state: StoreState, reference: Reference) -> None:
        self._state = state
        self._reference = reference

    async def current(self, flt: SnapshotFilter | None = None) -> Snapshot:
        """The latest figure of every series matching ``flt``, consistent with one event seq."""
        flt = flt or SnapshotFilter()
        where, args = _filter_sql(flt, await self._agency_codes(flt))
        sql = f"""
        SELECT {OBS_SELECT}
        FROM series_latest l JOIN observations o ON o.id = l.obs_id JOIN indicators i ON i.code = l.indicator
        {where} ORDER BY o.indicator, o.area, o.source"""
        async with self._state.read_tx() as conn:
            seq = await max_seq(conn)
            async with conn.execute(sql, args) as cur:
                rows = await cur.fetchall()
        return Snapshot(self._state.epoch, seq, [observation_from_row(r) for r in rows])

    async def as_of(self, as_of: datetime, flt: SnapshotFilter | None = None) -> PastSnapshot:
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
        dialect = self._state.dialect
        conn = await dialect.open_reader(self._state.path)
        try:
            await conn.execute(dialect.begin_read)
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
        return PastSnapshot(self._state.epoch, int(row[0]) if row else 0, as_of, observations, alerts, runs)

    async def _agency_codes(self, flt: SnapshotFilter) -> list[str]:
        codes: list[str] = []
        for a in sorted(flt.agencies):
            codes += await self._reference.agency_lineage(a)
        return codes
