"""Checking a batch of upstream records against the catalogue, and writing it as one transaction.

The checks run in Python against an in-memory copy of the catalogue (each distinct indicator,
period and area is judged once per batch); the write is set-based SQL: the batch goes into a
temporary staging table with the id of each key's current revision, and one INSERT ... SELECT
appends every record whose value or status differs from that revision.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import aiosqlite
from pydantic import TypeAdapter, ValidationError

from storage.clock import to_text, utcnow
from storage.models import (
    Area,
    Indicator,
    IngestResult,
    Observation,
    ObservationIn,
    ObservationStatus,
    Rejection,
    Revision,
)
from storage.periods import Period, PeriodError

_RECORD = TypeAdapter(ObservationIn)


@dataclass
class Batch:
    """One upstream payload's worth of records for one source, written all or nothing."""

    source: str
    records: Sequence[ObservationIn | Mapping[str, Any]]
    run_id: int | None = None
    collected_at: datetime = field(default_factory=utcnow)
    payload: bytes | None = None  # the raw bytes received; stored compressed, deduplicated by sha256
    content_type: str | None = None
    payload_digest: str | None = None  # set from ``payload``; or name one stored before


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class Catalogue:
    """What a record is checked against: indicators and every version of every area."""

    def __init__(self, indicators: Iterable[Indicator], areas: Iterable[Area]) -> None:
        self.indicators = {i.code: i for i in indicators}
        self.areas: dict[str, list[Area]] = {}
        for a in areas:
            self.areas.setdefault(a.code, []).append(a)

    def area_on(self, code: str, day: date) -> Area | None:
        for version in self.areas.get(code, ()):
            if version.in_force(day):
                return version
        return None

    def _period_problem(self, ind: Indicator, period: str) -> tuple[str | None, date | None]:
        try:
            p = Period.parse(period, ind.frequency)
        except PeriodError as exc:
            return f"{exc} for {ind.code} (frequency {ind.frequency.value})", None
        return None, p.end_date

    def _area_problem(self, ind: Indicator, code: str, on: date) -> str | None:
        versions = self.areas.get(code)
        if not versions:
            return f"unknown area {code!r}"
        if not ind.level.allows(code):
            return f"area {code!r} does not fit indicator {ind.code}, which is reported at level {ind.level.value}"
        if self.area_on(code, on) is None:
            last = max(versions, key=lambda a: a.valid_from or date.min)
            where = f"; succeeded by {last.successor_code}" if last.successor_code else ""
            return f"area {code} ({last.name_vi}) was not in force on {on.isoformat()}{where}"
        return None

    def check(
        self, records: Sequence[ObservationIn | Mapping[str, Any]]
    ) -> tuple[list[tuple[str, str, str, float, str]], list[int], list[Rejection]]:
        """Split records into rows to write (with their positions) and rejections with reasons."""
        rows: list[tuple[str, str, str, float, str]] = []
        positions: list[int] = []
        rejected: list[Rejection] = []
        period_seen: dict[tuple[str, str], tuple[str | None, date | None]] = {}
        area_seen: dict[tuple[str, str, date], str | None] = {}
        first_at: dict[tuple[str, str, str], int] = {}  # key -> index in rows
        duplicates: list[tuple[int, ObservationIn]] = []
        indicators = self.indicators
        for i, rec in enumerate(records):
            if not isinstance(rec, ObservationIn):
                try:
                    rec = _RECORD.validate_python(rec)
                except ValidationError as exc:
                    rejected.append(Rejection(index=i, record=_plain(rec), reason=_first_error(exc)))
                    continue
            code, area, period = rec.indicator, rec.area, rec.period
            ind = indicators.get(code)
            if ind is None:
                rejected.append(Rejection(index=i, record=rec.model_dump(mode="json"), reason=f"unknown indicator {code!r}"))
                continue
            pk = (code, period)
            found = period_seen.get(pk)
            if found is None:
                found = period_seen[pk] = self._period_problem(ind, period)
            problem, end = found
            if problem is None:
                assert end is not None
                ak = (code, area, end)
                if ak in area_seen:
                    problem = area_seen[ak]
                else:
                    problem = area_seen[ak] = self._area_problem(ind, area, end)
            if problem is not None:
                rejected.append(Rejection(index=i, record=rec.model_dump(mode="json"), reason=problem))
                continue
            key = (code, area, period)
            if key in first_at:
                duplicates.append((i, rec))
                continue
            first_at[key] = len(rows)
            rows.append((code, area, period, rec.value, rec.status.value))
            positions.append(i)
        if duplicates:
            rows, positions = _settle_duplicates(rows, positions, first_at, duplicates, rejected)
        return rows, positions, rejected


def _settle_duplicates(
    rows: list[tuple[str, str, str, float, str]],
    positions: list[int],
    first_at: dict[tuple[str, str, str], int],
    duplicates: list[tuple[int, ObservationIn]],
    rejected: list[Rejection],
) -> tuple[list[tuple[str, str, str, float, str]], list[int]]:
    """A repeated key with the same figure is dropped as a duplicate; with another figure, the
    upstream contradicts itself and every record of that key is rejected."""
    conflicting: set[tuple[str, str, str]] = set()
    for i, rec in duplicates:
        key = (rec.indicator, rec.area, rec.period)
        kept = rows[first_at[key]]
        if (kept[3], kept[4]) == (rec.value, rec.status.value):
            reason = f"duplicate of record {positions[first_at[key]]} in the same payload"
        else:
            conflicting.add(key)
            reason = f"conflicting figures for {'/'.join(key)} in the same payload"
        rejected.append(Rejection(index=i, record=rec.model_dump(mode="json"), reason=reason))
    if conflicting:
        kept_rows, kept_pos = [], []
        for r, pos in zip(rows, positions, strict=True):
            if r[:3] in conflicting:
                rec = {"indicator": r[0], "area": r[1], "period": r[2], "value": r[3], "status": r[4]}
                reason = f"conflicting figures for {'/'.join(r[:3])} in the same payload"
                rejected.append(Rejection(index=pos, record=rec, reason=reason))
            else:
                kept_rows.append(r)
                kept_pos.append(pos)
        rows, positions = kept_rows, kept_pos
    rejected.sort(key=lambda r: r.index)
    return rows, positions


def _plain(rec: object) -> dict[str, Any]:
    return {str(k): v for k, v in rec.items()} if isinstance(rec, Mapping) else {"record": repr(rec)[:200]}


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = []
    for e in errors[:3]:
        loc = ".".join(str(x) for x in e["loc"]) or "record"
        parts.append(f"{loc}: {e['msg']}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS ingest_stage (
    pos       INTEGER PRIMARY KEY,
    indicator TEXT NOT NULL,
    area      TEXT NOT NULL,
    period    TEXT NOT NULL,
    value     REAL NOT NULL,
    status    TEXT NOT NULL,
    prev_id   INTEGER
)"""

_STAGE_ROW = """
INSERT INTO temp.ingest_stage (indicator, area, period, value, status, prev_id)
VALUES (?1, ?2, ?3, ?4, ?5, (SELECT id FROM observations
        WHERE indicator = ?1 AND area = ?2 AND period = ?3 AND source = ?6 ORDER BY revision DESC LIMIT 1))"""

_APPEND_CHANGED = """
INSERT INTO observations
    (indicator, area, period, source, revision, value, status, collected_at, run_id, payload_digest)
SELECT s.indicator, s.area, s.period, ?1, coalesce(p.revision, 0) + 1, s.value, s.status, ?2, ?3, ?4
FROM temp.ingest_stage s LEFT JOIN observations p ON p.id = s.prev_id
WHERE p.id IS NULL OR p.value IS NOT s.value OR p.status IS NOT s.status
ORDER BY s.pos"""

_REVISED = """
SELECT n.id, n.indicator, n.area, n.period, n.source, n.revision, n.value, n.status, n.collected_at,
       n.run_id, n.payload_digest, p.value, p.status
FROM observations n JOIN observations p
  ON p.indicator = n.indicator AND p.area = n.area AND p.period = n.period AND p.source = n.source
 AND p.revision = n.revision - 1
WHERE n.id > ? AND n.revision > 1
ORDER BY n.id"""

_EVENTS = """
INSERT INTO events (type, at, obs_id)
SELECT 'observation', ?2, id FROM observations WHERE id > ?1 ORDER BY id"""

_LATEST = """
INSERT INTO series_latest (indicator, area, source, period, obs_id)
SELECT indicator, area, source, max(period), id FROM observations WHERE id > ?1
GROUP BY indicator, area, source
ON CONFLICT (indicator, area, source) DO UPDATE SET period = excluded.period, obs_id = excluded.obs_id
WHERE excluded.period >= series_latest.period"""


async def store_payload(conn: aiosqlite.Connection, batch: Batch) -> str | None:
    if batch.payload is None:
        return batch.payload_digest
    d = digest(batch.payload)
    await conn.execute(
        "INSERT OR IGNORE INTO raw_payloads (digest, size, codec, content_type, received_at, body) VALUES (?,?,?,?,?,?)",
        (d, len(batch.payload), "zlib", batch.content_type, to_text(batch.collected_at), zlib.compress(batch.payload, 6)),
    )
    return d


async def write(
    conn: aiosqlite.Connection, batch: Batch, rows: list[tuple[str, str, str, float, str]], positions: list[int]
) -> IngestResult:
    """Append the changed rows of a checked batch; the caller holds the write transaction."""
    result = IngestResult()
    payload_digest = await store_payload(conn, batch)
    if not rows:
        result.unchanged = 0
        return result
    async with conn.execute("SELECT coalesce(max(id), 0) FROM observations") as cur:
        before = (await cur.fetchone() or (0,))[0]
    await conn.execute(_STAGE)
    await conn.execute("DELETE FROM temp.ingest_stage")
    source = batch.source
    await conn.executemany(_STAGE_ROW, [(*r, source) for r in rows])
    cur = await conn.execute(_APPEND_CHANGED, (source, to_text(batch.collected_at), batch.run_id, payload_digest))
    inserted = cur.rowcount
    await cur.close()
    await conn.execute("DELETE FROM temp.ingest_stage")
    result.unchanged = len(rows) - inserted
    if inserted:
        async with conn.execute(_REVISED, (before,)) as cur:
            for r in await cur.fetchall():
                result.revised.append(
                    Revision.model_construct(
                        observation=observation_from_row(r[:11]),
                        previous_value=r[11],
                        previous_status=ObservationStatus(r[12]),
                    )
                )
        result.new = inserted - len(result.revised)
        cur = await conn.execute(_EVENTS, (before, to_text(utcnow())))
        last_seq = cur.lastrowid
        await cur.close()
        result.last_seq = last_seq
        result.first_seq = None if last_seq is None else last_seq - inserted + 1
        await conn.execute(_LATEST, (before,))
    return result


OBSERVATION_COLUMNS = (
    "id, indicator, area, period, source, revision, value, status, collected_at, run_id, payload_digest"
)


def observation_from_row(r: Sequence[Any]) -> Observation:
    return Observation.model_construct(
        id=r[0],
        indicator=r[1],
        area=r[2],
        period=r[3],
        source=r[4],
        revision=r[5],
        value=r[6],
        status=ObservationStatus(r[7]),
        collected_at=datetime.fromisoformat(r[8]),
        run_id=r[9],
        payload_digest=r[10],
    )
