"""The ingest's write on PostgreSQL by set operations: a checked batch is COPYed, classified and appended
in a few statements, whatever its size (issue 18).

The generic write (storage/ingest.py) sends statements per row through the adapter: right for SQLite,
where a statement is a function call, but on PostgreSQL each is a round of parsing and executing on the
server. Here, in the writer's transaction:

1. the batch's rows are COPYed into a temporary staging table (``ingest_batch``: emptied before each
   use, and at every commit), in the batch's order (``pos``);
2. one statement classifies and writes: each staged row against the latest revision of its key (a
   LATERAL probe of the observations' key index); new and revised rows are appended (``revision`` + 1,
   ``supersedes`` its predecessor, the batch's provenance), their events numbered once for the batch
   (``events_seq_base()``, migration 0008: the seq lock taken once, held to commit, only when something
   is appended), and the snapshot index (``series_latest``) moved for each series' newest period
   appended; it returns the counts, id and seq ranges and the revised figures with their predecessors.

A re-poll of unchanged figures writes nothing (no row, no event, no index update, no seq lock) and
reads each key once. A concurrent writer of the same keys (two processes on one source, which the
leases prevent) makes this batch fail on the key's unique revision, never write a wrong revision.
"""

from __future__ import annotations

from typing import Any

import psycopg

from storage.clock import to_text, utcnow
from storage.conn import Connection
from storage.ingest import Batch, Plan, Row, paused_gc, store_payload
from storage.models import IngestResult, Revision
from storage.pg.adapter import PgConnection
from storage.writes import ConstraintError

# ON COMMIT DELETE ROWS: nothing staged outlives its transaction; a rolled-back batch takes its rows along.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS ingest_batch (
    pos       bigint GENERATED ALWAYS AS IDENTITY,  -- the batch's order
    indicator text NOT NULL,
    area      text NOT NULL,
    period    text NOT NULL,
    value     double precision NOT NULL,
    status    text NOT NULL,
    source    text NOT NULL,  -- the batch's (the rows as checked, unchanged: COPYed as they are)
    published timestamptz
) ON COMMIT DELETE ROWS"""

# In one round trip: the staging table, emptied of whatever an earlier batch of this transaction left; and
# for this transaction, no JIT (compiling the statement below took longer than running it) and the memory
# to sort a batch's rows without spilling them to disk.
_PREPARE = f"""{_STAGE};
TRUNCATE ingest_batch RESTART IDENTITY;
SET LOCAL jit = off;
SET LOCAL work_mem = '64MB'"""

_COPY = "COPY ingest_batch (indicator, area, period, value, status, source, published) FROM STDIN"

# ?1 source, ?2 collected_at, ?3 run_id, ?4 payload_id, ?5 the events' time.
# A record whose value and status are those stored is unchanged, whatever its publication time says.
_WRITE = """
WITH changed AS MATERIALIZED (
    SELECT s.pos, s.indicator, s.area, s.period, s.value, s.status, s.published,
           p.id AS prev_id, p.revision AS prev_revision, p.value AS prev_value, p.status AS prev_status
    FROM ingest_batch s
    LEFT JOIN LATERAL (SELECT o.id, o.revision, o.value, o.status FROM observations o
                       WHERE o.indicator = s.indicator AND o.area = s.area AND o.period = s.period
                         AND o.source = ?1
                       ORDER BY o.revision DESC LIMIT 1) p ON true
    WHERE p.id IS NULL OR p.value IS DISTINCT FROM s.value OR p.status IS DISTINCT FROM s.status
), base AS MATERIALIZED (
    -- Takes the seq lock (held to commit) before the first row is appended, and only if one is:
    -- a batch's observation ids are then consecutive too.
    SELECT events_seq_base() AS seq WHERE EXISTS (SELECT FROM changed)
), added AS (
    INSERT INTO observations
        (indicator, area, period, source, revision, value, status, collected_at, run_id, payload_id, supersedes,
         published_at)
    SELECT c.indicator, c.area, c.period, ?1, coalesce(c.prev_revision, 0) + 1, c.value, c.status, ?2, ?3, ?4,
           c.prev_id, c.published
    FROM changed c CROSS JOIN base
    ORDER BY c.pos
    RETURNING id, indicator, area, period, revision, supersedes
), logged AS (
    INSERT INTO events (seq, type, at, obs_id)
    SELECT b.seq + row_number() OVER (ORDER BY a.id), 'observation', ?5, a.id FROM added a CROSS JOIN base b
    RETURNING seq
), newest AS (
    SELECT indicator, area, max(period) AS period FROM added GROUP BY indicator, area
), indexed AS (
    INSERT INTO series_latest (indicator, area, source, period, obs_id)
    SELECT a.indicator, a.area, ?1, a.period, a.id FROM added a JOIN newest n USING (indicator, area, period)
    ON CONFLICT (indicator, area, source) DO UPDATE SET period = excluded.period, obs_id = excluded.obs_id
    WHERE excluded.period >= series_latest.period
)
SELECT t.appended, t.first_id, t.last_id, e.first_seq, e.last_seq, r.id, r.pos, r.revision, r.prev_value, r.prev_status
FROM (SELECT count(*) AS appended, min(id) AS first_id, max(id) AS last_id FROM added) t
CROSS JOIN (SELECT min(seq) AS first_seq, max(seq) AS last_seq FROM logged) e
LEFT JOIN (SELECT a.id, c.pos, a.revision, c.prev_value, c.prev_status
           FROM added a JOIN changed c ON c.prev_id = a.supersedes
           WHERE a.supersedes IS NOT NULL AND c.prev_id IS NOT NULL) r ON true
ORDER BY r.id"""


def append(conn: Connection, batch: Batch, work: Plan) -> tuple[int | None, IngestResult]:
    """Append the changed rows of a checked batch (the dialect's ``append``, in the writer's transaction)."""
    assert isinstance(conn, PgConnection)
    result = IngestResult()
    if batch.run_id is not None and conn.execute("SELECT 1 FROM runs WHERE id = ?", (batch.run_id,)).fetchone() is None:
        raise LookupError(f"no collection run {batch.run_id}")
    payload_id = store_payload(conn, batch)
    staged = work.fresh + work.known  # fresh rows first, as the generic write appends them: pos 1, 2, ...
    if not staged:
        return payload_id, result
    conn.execute(_PREPARE)
    _copy(conn.raw, staged)
    params = (batch.source, to_text(batch.collected_at), batch.run_id, payload_id, to_text(utcnow()))
    rows = conn.execute(_WRITE, params).fetchall()
    appended, first_id, last_id, first_seq, last_seq = rows[0][:5]
    result.unchanged = len(staged) - appended
    if appended:
        if rows[0][5] is not None:  # revisions
            with paused_gc():
                result.revised = [_revision(staged[r[6] - 1], *r) for r in rows]
        result.new = appended - len(result.revised)
        result.first_id, result.last_id, result.first_seq, result.last_seq = first_id, last_id, first_seq, last_seq
    return payload_id, result


def _revision(row: Row, *returned: Any) -> Revision:
    """A revised figure: the staged row it came from (by its ``pos``), with what ``_WRITE`` returned of it."""
    indicator, area, period, value, status, _source, _published = row
    obs_id, _pos, revision, previous_value, previous_status = returned[5:]
    return Revision(obs_id, indicator, area, period, revision, value, status, previous_value, previous_status)


def _copy(raw: psycopg.Connection[Any], rows: list[Row]) -> None:
    """The batch's rows, as checked, into the staging table."""
    try:
        with raw.cursor() as cur, cur.copy(_COPY) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg.IntegrityError as exc:
        raise ConstraintError(str(exc).strip()) from exc
