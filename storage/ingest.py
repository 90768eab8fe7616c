"""Checking a batch of upstream records against the catalogue, and writing it as one transaction.

The checks run in Python against an in-memory copy of the catalogue (each distinct indicator,
period and area is judged once per batch). A record past its series' latest stored period is
appended as is; the others are compared in Python with the stored revisions of their keys, read
in one query per batch, and those whose value or status differs are appended as new revisions.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from storage.clock import to_text, utcnow
from storage.conn import Connection
from storage.models import (
    Area,
    Indicator,
    IngestResult,
    ObservationIn,
    Rejection,
    Revision,
)
from storage.writes import ConstraintError
from wording.periods import Frequency, Period, PeriodError

_RECORD = TypeAdapter(ObservationIn)
# indicator, area, period, value, status (its text), source, published_at (the store's time text, or None)
Row = tuple[str, str, str, float, str, str, str | None]
Row9 = tuple[str, str, str, float, str, str, str | None, int, int | None]  # a Row, its revision and predecessor
_FREQ_NAMES = {
    Frequency.DAILY: "daily",
    Frequency.MONTHLY: "monthly",
    Frequency.QUARTERLY: "quarterly",
    Frequency.YEARLY: "yearly",
    Frequency.LIVE: "live (a timestamp)",
}


@dataclass
class Batch:
    """One upstream payload's worth of records for one source, written all or nothing."""

    source: str
    records: Sequence[ObservationIn | Mapping[str, Any]]
    run_id: int | None = None
    collected_at: datetime = field(default_factory=utcnow)
    payload: bytes | None = None  # the raw bytes received; stored compressed, deduplicated by sha256
    content_type: str | None = None
    content_encoding: str | None = None  # the Content-Encoding undone before ``payload`` (digest: decoded bytes)
    payload_digest: str | None = None  # set from ``payload``; or name one stored before
    cursor: str | None = None  # saved as the source's next starting point, with this batch
    rejected: list[Rejection] = field(default_factory=list)  # records the adapter could not read
    positions: list[int] | None = None  # each record's position in the payload (for rejection reports)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch's many small objects are made.

    They hold no cycles, but every 700 allocations CPython would walk all live objects again;
    on a 100,000-record batch that doubles the time. Collection resumes right after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@dataclass
class Plan:
    """A checked batch, split by what the store already holds of each series."""

    fresh: list[Row]  # past their series' latest stored period: cannot exist yet, plain appends
    known: list[Row]  # must be compared with the stored revision
    newest: list[tuple[str, str, str, str]]  # (indicator, area, source, period): each series' newest period here


class _Series:
    """What ``Catalogue.check`` knows of one series: the days its area exists (ordinals), its latest
    stored period for the source (None: none stored), the newest period the batch brings."""

    __slots__ = ("days", "last", "newest")

    def __init__(self, days: list[tuple[int, int]], last: str | None) -> None:
        self.days = days
        self.last = last
        self.newest = ""


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

    def _period_verdict(self, code: str, period: str) -> str | int:
        """The period's last day (as an ordinal) if ``period`` fits indicator ``code``, else the problem."""
        ind = self.indicators.get(code)
        if ind is None:
            return f"unknown indicator {code!r}"
        try:
            p = Period.parse(period)
        except PeriodError as exc:
            return str(exc)
        if p.frequency is not ind.frequency:
            return (
                f"period {period!r} is {_FREQ_NAMES[p.frequency]} but {code} is reported {_FREQ_NAMES[ind.frequency]}"
            )
        return p.end_date.toordinal()

    def _series(self, code: str, area: str, last: str | None) -> str | _Series:
        """The series (code, area), if ``area`` fits indicator ``code``; else the problem."""
        ind = self.indicators.get(code)
        if ind is None:
            return f"unknown indicator {code!r}"
        versions = self.areas.get(area)
        if not versions:
            return f"unknown area {area!r}"
        if not ind.level.allows(area):
            return f"area {area!r} does not fit indicator {code}, which is reported at level {ind.level.value}"
        days = [((v.valid_from or date.min).toordinal(), (v.valid_to or date.max).toordinal()) for v in versions]
        return _Series(days, last)

    def _not_in_force(self, area: str, on: date) -> str:
        last = max(self.areas[area], key=lambda a: a.valid_from or date.min)
        where = f"; succeeded by {last.successor_code}" if last.successor_code else ""
        return f"area {area} ({last.name_vi}) was not in force on {on.isoformat()}{where}"

    def check(
        self,
        records: Sequence[ObservationIn | Mapping[str, Any]],
        source: str = "",
        latest: Mapping[tuple[str, str], str] | None = None,
    ) -> tuple[Plan, list[Rejection]]:
        """Split records into a plan of rows to write and rejections with reasons.

        ``latest`` is each series' latest stored period for ``source``: a row past it cannot
        exist yet ("fresh"); the others must be compared with what is stored ("known"). It may be
        read before the write transaction: if it went stale, a "fresh" row that exists after all
        hits the unique key and the write falls back to comparing every row.

        The hot loop: each record costs a few cached look-ups; each distinct (indicator, period)
        and (indicator, area) is judged once.
        """
        latest = latest or {}
        fresh: list[Row] = []
        known: list[Row] = []
        rejected: list[Rejection] = []
        # per indicator: each period's verdict (its last day's ordinal, or why not) and each series'
        seen: dict[str, tuple[dict[str, str | int], dict[str, str | _Series]]] = {}
        first_at: dict[tuple[str, str, str], int] = {}  # key -> position of its first record
        duplicates: list[tuple[int, ObservationIn]] = []
        rec: ObservationIn
        for i, raw in enumerate(records):
            if raw.__class__ is ObservationIn:
                rec = raw  # (not cast(): a call per record)
            else:
                try:
                    rec = _RECORD.validate_python(raw)
                except ValidationError as exc:
                    rejected.append(Rejection(index=i, record=_plain(raw), reason=_first_error(exc)))
                    continue
            code, area, period = rec.indicator, rec.area, rec.period
            verdicts = seen.get(code)
            if verdicts is None:
                verdicts = seen[code] = ({}, {})
            end = verdicts[0].get(period)
            if end is None:
                end = verdicts[0][period] = self._period_verdict(code, period)
            series = verdicts[1].get(area)
            if series is None:
                series = verdicts[1][area] = self._series(code, area, latest.get((code, area)))
            if isinstance(end, str) or isinstance(series, str):
                reason = end if isinstance(end, str) else str(series)
                rejected.append(Rejection(index=i, record=rec.model_dump(mode="json"), reason=reason))
                continue
            for lo, hi in series.days:
                if lo <= end <= hi:
                    break
            else:
                reason = self._not_in_force(area, date.fromordinal(end))
                rejected.append(Rejection(index=i, record=rec.model_dump(mode="json"), reason=reason))
                continue
            if first_at.setdefault((code, area, period), i) != i:
                duplicates.append((i, rec))
                continue
            at = None if rec.published_at is None else _time_text(rec.published_at)
            # the status as its plain text: sqlite3 binds a str subclass through its adapter look-up
            row = (code, area, period, rec.value, rec.status._value_, source, at)
            last = series.last
            (fresh if last is None or period > last else known).append(row)
            if period > series.newest:
                series.newest = period
        newest = {(code, area): s.newest for code, (_, by_area) in seen.items() for area, s in by_area.items()
                  if not isinstance(s, str) and s.newest}  # fmt: skip
        if duplicates:
            fresh, known = _settle_duplicates(fresh, known, first_at, duplicates, rejected)
            newest = {}  # a contradiction's key is written by no row: the newest of the rows left
            for r in (*fresh, *known):
                newest[r[0], r[1]] = max(r[2], newest.get((r[0], r[1]), ""))
        return Plan(fresh, known, [(ind, area, source, p) for (ind, area), p in newest.items()]), rejected


def _settle_duplicates(
    fresh: list[Row],
    known: list[Row],
    first_at: dict[tuple[str, str, str], int],
    duplicates: list[tuple[int, ObservationIn]],
    rejected: list[Rejection],
) -> tuple[list[Row], list[Row]]:
    """A repeated key with the same figure is dropped as a duplicate; with another figure, the
    upstream contradicts itself and every record of that key is rejected."""
    repeated = {(rec.indicator, rec.area, rec.period) for _, rec in duplicates}
    kept = {r[:3]: r for rows in (fresh, known) for r in rows if r[:3] in repeated}
    conflicting: set[tuple[str, str, str]] = set()
    for i, rec in duplicates:
        key = (rec.indicator, rec.area, rec.period)
        first = kept[key]
        if (first[3], first[4]) == (rec.value, rec.status):
            reason = f"duplicate of record {first_at[key]} in the same payload"
        else:
            conflicting.add(key)
            reason = f"conflicting figures for {'/'.join(key)} in the same payload"
        rejected.append(Rejection(index=i, record=rec.model_dump(mode="json"), reason=reason))
    for key in conflicting:
        r = kept[key]
        record = {"indicator": r[0], "area": r[1], "period": r[2], "value": r[3], "status": r[4]}
        reason = f"conflicting figures for {'/'.join(key)} in the same payload"
        rejected.append(Rejection(index=first_at[key], record=record, reason=reason))
    rejected.sort(key=lambda r: r.index)
    if not conflicting:
        return fresh, known
    return [r for r in fresh if r[:3] not in conflicting], [r for r in known if r[:3] not in conflicting]


@functools.lru_cache(maxsize=4096)
def _time_text(moment: datetime) -> str:
    """``to_text``, cached: a batch's figures share a few publication times (one per release)."""
    return to_text(moment)


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


# The batch's series, each with the oldest period it brings that may be stored already.
_SERIES = """
CREATE TEMP TABLE IF NOT EXISTS ingest_series (
    indicator TEXT NOT NULL,
    area      TEXT NOT NULL,
    since     TEXT NOT NULL,
    PRIMARY KEY (indicator, area)
)"""

# Every stored revision of those series' figures from that period on. CROSS JOIN: SQLite walks the
# few series and seeks each in the observations' unique key (left to itself, it scans that key whole).
_STORED = """
SELECT o.indicator, o.area, o.period, o.value, o.status, o.id, o.revision
FROM ingest_series s CROSS JOIN observations o
WHERE o.indicator = s.indicator AND o.area = s.area AND o.period >= s.since AND o.source = ?"""

_EVENTS = """
INSERT INTO events (type, at, obs_id)
SELECT 'observation', ?2, id FROM observations WHERE id > ?1 ORDER BY id"""

_LATEST = """
INSERT INTO series_latest (indicator, area, source, period, obs_id)
SELECT ?1, ?2, ?3, ?4, o.id FROM (SELECT id FROM observations
                                  WHERE indicator = ?1 AND area = ?2 AND period = ?4 AND source = ?3
                                  ORDER BY revision DESC LIMIT 1) o
WHERE true
ON CONFLICT (indicator, area, source) DO UPDATE SET period = excluded.period, obs_id = excluded.obs_id
WHERE excluded.period >= series_latest.period"""


def store_payload(conn: Connection, batch: Batch) -> int | None:
    """Store the batch's raw payload (once per digest); its id, or None when there is none."""
    if batch.payload is not None:
        batch.payload_digest = digest(batch.payload)
        conn.execute(
            "INSERT INTO raw_payloads (digest, size, codec, content_type, received_at, body, wire_encoding) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (batch.payload_digest, len(batch.payload), "zlib", batch.content_type, to_text(batch.collected_at),
             zlib.compress(batch.payload, 6), batch.content_encoding),
        )  # fmt: skip
    if batch.payload_digest is None:
        return None
    row = conn.execute("SELECT id FROM raw_payloads WHERE digest = ?", (batch.payload_digest,)).fetchone()
    if row is None:
        raise LookupError(f"no stored payload with sha256 {batch.payload_digest}")
    return int(row[0])


# A batch's rows: the row as checked, its revision and predecessor (fresh: 1 and none), then what the
# whole batch shares (collected_at, run_id, payload_id) as literals, bound once per batch (``_literal``):
# binding them per row cost a sixth of the insert.
_ROW = """
INSERT INTO observations
    (indicator, area, period, value, status, source, published_at, revision, supersedes, collected_at, run_id,
     payload_id)
VALUES (?, ?, ?, ?, ?, ?, ?, {revision}, {shared})"""


def _literal(value: object) -> str:
    """One of our own values (an id, a time as the store's text) as an SQL literal."""
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    if type(value) is str and "\0" not in value:
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


# Appends a checked batch's changed rows: (the payload's id, what was appended). The dialect's (storage/dialect.py).
Append = Callable[[Connection, Batch, Plan], tuple[int | None, IngestResult]]


def write(
    conn: Connection, batch: Batch, work: Plan, rejected: list[Rejection], append: Append | None = None
) -> IngestResult:
    """Append the changed rows of a checked batch and log the ingest (in the writer's transaction); ``append``
    is the engine's write (the dialect's), else the generic one below."""
    payload_id, result = (append or _append)(conn, batch, work)
    if batch.positions is not None:  # report payload positions, not positions among the readable records
        rejected = [r.model_copy(update={"index": batch.positions[r.index]}) for r in rejected]
    result.rejected = sorted([*batch.rejected, *rejected], key=lambda r: r.index)
    records = len(work.fresh) + len(work.known) + len(result.rejected)
    log_ingest(conn, batch, payload_id, records, result)
    if batch.cursor is not None:
        conn.execute(
            "INSERT INTO source_state (source, cursor, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            (batch.source, batch.cursor, to_text(utcnow())),
        )
    return result


def _append(conn: Connection, batch: Batch, work: Plan) -> tuple[int | None, IngestResult]:
    result = IngestResult()
    if batch.run_id is not None and conn.execute("SELECT 1 FROM runs WHERE id = ?", (batch.run_id,)).fetchone() is None:
        raise LookupError(f"no collection run {batch.run_id}")
    payload_id = store_payload(conn, batch)
    if not work.fresh and not work.known:
        return payload_id, result
    shared = ", ".join(_literal(v) for v in (to_text(batch.collected_at), batch.run_id, payload_id))
    before = conn.execute("SELECT coalesce(max(id), 0) FROM observations").fetchone()[0]
    fresh, known = work.fresh, work.known
    inserted = 0
    with paused_gc():  # a batch's rows are many small objects without cycles
        if fresh:
            conn.execute("SAVEPOINT fresh")
            try:  # the rows as checked: no new tuple each
                inserted += conn.executemany(_ROW.format(revision="1, NULL", shared=shared), fresh).rowcount
            except ConstraintError:  # either engine's (storage/dialect.py, storage/pg/adapter.py)
                # Our idea of the latest periods was stale: compare every row instead.
                conn.execute("ROLLBACK TO fresh")
                known, fresh, inserted = known + fresh, [], 0
            conn.execute("RELEASE fresh")
        if known:
            # One statement's rows get consecutive ids (SQLite: max + 1 each), the first after the fresh ones.
            rows, result.revised = _changed(conn, batch.source, known, before + inserted + 1)
            if rows:
                inserted += conn.executemany(_ROW.format(revision="?, ?", shared=shared), rows).rowcount
                if conn.execute("SELECT max(id) FROM observations").fetchone()[0] != before + inserted:
                    raise RuntimeError("the appended observations' ids are not consecutive")
            del rows  # freed before the collector resumes, not walked by it once more
    result.unchanged = len(fresh) + len(known) - inserted
    if inserted:
        result.new = inserted - len(result.revised)
        conn.execute(_EVENTS, (before, to_text(utcnow())))
        # Ours: on SQLite the one writer's, on PostgreSQL numbered under a lock held to commit.
        last_seq = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        result.last_seq = last_seq
        result.first_seq = None if last_seq is None else last_seq - inserted + 1
        result.first_id, result.last_id = before + 1, before + inserted
        conn.executemany(_LATEST, work.newest)
    return payload_id, result


_new_tuple = tuple.__new__  # Revision(...) less its Python-level __new__: half the cost of 100,000 of them


def _changed(conn: Connection, source: str, known: list[Row], first_id: int) -> tuple[list[Row9], list[Revision]]:
    """The rows of ``known`` whose value or status differs from the stored revision of their key (or
    that have none), with their revision and predecessor for ``_ROW``; and the revisions among them,
    as they will be stored from id ``first_id`` on.

    The stored revisions are read once, for the batch's series from the oldest period it brings: a
    re-poll of 100,000 figures is one read and a Python comparison, not 100,000 look-ups in SQL.
    """
    since: dict[tuple[str, str], str] = {}
    for r in known:
        first = since.get((r[0], r[1]))
        if first is None or r[2] < first:
            since[(r[0], r[1])] = r[2]
    conn.execute(_SERIES)
    conn.execute("DELETE FROM ingest_series")
    conn.executemany("INSERT INTO ingest_series (indicator, area, since) VALUES (?, ?, ?)",
                     [(*k, p) for k, p in since.items()])  # fmt: skip
    stored: dict[tuple[str, str, str], Any] = {}
    for s in conn.execute(_STORED, (source,)):
        key = s[:3]
        top = stored.get(key)
        if top is None or s[6] > top[6]:
            stored[key] = s
    rows: list[Row9] = []
    revised: list[Revision] = []
    for r in known:
        s = stored.get(r[:3])
        if s is None:
            rows.append((*r, 1, None))
        elif s[3] != r[3] or s[4] != r[4]:  # equal value and status: unchanged, whatever else
            revised.append(
                _new_tuple(Revision, (first_id + len(rows), r[0], r[1], r[2], s[6] + 1, r[3], r[4], s[3], s[4]))
            )
            rows.append((*r, s[6] + 1, s[5]))
    return rows, revised


def log_ingest(conn: Connection, batch: Batch, payload_id: int | None, records: int, result: IngestResult) -> int:
    """Record the ingest itself, with the reasons for its rejections (in the writer's transaction)."""
    cur = conn.execute(
        """INSERT INTO ingests (source, run_id, payload_id, at, records, new, revised, unchanged, rejected,
           first_obs, last_obs, first_seq, last_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id""",
        (batch.source, batch.run_id, payload_id, to_text(batch.collected_at), records, result.new,
         len(result.revised), result.unchanged, len(result.rejected), result.first_id, result.last_id,
         result.first_seq, result.last_seq),
    )  # fmt: skip
    ingest_id = int(cur.fetchone()[0])
    if result.rejected:
        conn.executemany(
            "INSERT INTO rejections (ingest_id, position, reason, record) VALUES (?,?,?,?)",
            [
                (ingest_id, r.index, r.reason, json.dumps(r.record, ensure_ascii=False, default=str)[:4000])
                for r in result.rejected[:1000]
            ],
        )
    return ingest_id
