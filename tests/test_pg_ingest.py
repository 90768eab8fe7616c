"""The ingest's write on PostgreSQL (storage/pg/ingest.py): COPY into a staging table, one statement that
classifies and appends, and the batch's seqs numbered once (migration 0008). What the generic tests of
tests/test_ingest.py cannot see: several writing stores at once, the staging table, a batch failing
after it was staged."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from storage import Batch, ConstraintError, ObservationIn, Store
from storage import ingest as ingest_mod
from storage.conn import Connection
from storage.models import IngestResult
from storage.pg import ingest as pg_ingest
from tests.conftest import raw_db

pytestmark = pytest.mark.pg  # the whole module is about the PostgreSQL engine


def rec(period: str, value: float, area: str = "VN") -> ObservationIn:
    return ObservationIn(indicator="CPI_YOY", area=area, period=period, value=value, status="official")


@pytest.fixture
def engine() -> str:
    return "postgresql"  # tests/conftest.py's ``store``, on PostgreSQL alone


def counts(url: str) -> tuple[int, ...]:
    conn = raw_db(url)
    try:
        tables = ("observations", "events", "series_latest", "ingests", "raw_payloads")
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)
    finally:
        conn.close()


def watch_events(url: str, stop: threading.Event, seen: list[int], gaps: list[list[int]]) -> None:
    """Read the committed events over and over, as a feed process does: never a later seq before an earlier one."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            got = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq").fetchall()]
            if got != list(range(1, len(got) + 1)):
                gaps.append(got)
            seen.append(len(got))


async def test_two_stores_ingesting_at_once_number_their_events_without_gap_in_commit_order(pg_url: str) -> None:
    stores = [await Store.open(pg_url), await Store.open(pg_url)]  # two connections, two writer threads
    stop = threading.Event()
    seen: list[int] = []
    gaps: list[list[int]] = []
    watcher = threading.Thread(target=watch_events, args=(pg_url, stop, seen, gaps))
    watcher.start()
    try:

        async def feed(store: Store, source: str) -> list[IngestResult]:
            results = []
            for round_ in range(12):  # a year more each round, all revised every third round, the rest unchanged
                years = range(2010, 2010 + round_ % 3 + 1)
                batch = [rec(f"{y}-{m:02d}", round_ // 3 + m / 100) for y in years for m in range(1, 13)]
                results.append(await store.observations.ingest(Batch(source, batch)))
            return results

        runs = await asyncio.gather(feed(stores[0], "gso"), feed(stores[1], "mof"))
    finally:
        stop.set()
        watcher.join()
        for s in stores:
            await s.close()

    assert gaps == [] and len(seen) > 1
    results = [r for run in runs for r in run if r.changed]
    total = sum(r.changed for r in results)
    ranges = sorted((r.first_seq or 0, r.last_seq or 0) for r in results)
    assert [s for lo, hi in ranges for s in range(lo, hi + 1)] == list(range(1, total + 1))
    conn = raw_db(pg_url)
    try:
        assert [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")] == list(range(1, total + 1))
        for run, source in zip(runs, ("gso", "mof"), strict=True):
            for r in run:
                if not r.changed:
                    continue
                assert r.first_id and r.last_id and r.first_seq and r.last_seq
                # The batch's figures have consecutive ids, and its events name exactly them, in order.
                assert r.last_id - r.first_id + 1 == r.changed
                rows = conn.execute(
                    "SELECT e.seq, o.id, o.source FROM events e JOIN observations o ON o.id = e.obs_id "
                    "WHERE e.seq BETWEEN ? AND ? ORDER BY e.seq",
                    (r.first_seq, r.last_seq),
                ).fetchall()
                assert [(seq, oid) for seq, oid, _ in rows] == list(
                    zip(range(r.first_seq, r.last_seq + 1), range(r.first_id, r.last_id + 1), strict=True)
                )
                assert {src for *_, src in rows} == {source}
    finally:
        conn.close()


async def test_rows_left_in_the_staging_table_are_never_ingested(store: Store) -> None:
    junk = "INSERT INTO ingest_batch (indicator, area, period, value, status, source) VALUES (?, 'VN', ?, 9, 'official', ?)"

    def staged(conn: Connection) -> int:
        return int(conn.execute("SELECT count(*) FROM ingest_batch").fetchone()[0])

    def stage_junk(conn: Connection) -> int:
        conn.execute(pg_ingest._PREPARE)
        conn.execute(junk, ("CPI_YOY", "1999-01", "gso"))
        return staged(conn)

    # Left by an earlier operation of the same transaction (the writer's group commit): emptied first.
    batch = Batch("gso", [rec("2024-01", 1.0), rec("2024-02", 2.0)])

    def junk_then_ingest(conn: Connection) -> IngestResult:
        stage_junk(conn)
        plan, rejected = store.state.catalogue.check(batch.records, batch.source)
        return ingest_mod.write(conn, batch, plan, rejected, store.dialect.append)

    result = await store.state.writer.run(junk_then_ingest)
    assert (result.new, len(result.revised), result.unchanged) == (2, 0, 0)
    # Left by a committed transaction: gone with its commit.
    assert await store.state.writer.run(stage_junk) == 1
    assert await store.state.writer.run(staged) == 0
    again = await store.observations.ingest(Batch("gso", [rec("2024-02", 2.5)]))
    assert (again.new, len(again.revised), again.unchanged) == (0, 1, 0)
    history = await store.observations.history("CPI_YOY", "VN")
    assert [(o.period, o.value) for o in history] == [("2024-01", 1.0), ("2024-02", 2.5)]


async def test_a_batch_failing_after_it_was_staged_leaves_nothing(store: Store) -> None:
    first = await store.observations.ingest(Batch("gso", [rec("2024-01", 1.0), rec("2024-02", 2.0)]))
    before = counts(store.path)
    conn = raw_db(store.path)
    conn.execute(
        "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN IF NEW.value = 666 THEN RAISE EXCEPTION 'disk on fire' USING ERRCODE = '23000'; END IF; "
        "RETURN NEW; END $$"
    )
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON observations FOR EACH ROW EXECUTE FUNCTION boom()")
    conn.close()
    # A revision, a new figure, and one the database refuses: after the COPY, the seq lock and the first rows.
    failing = [rec("2024-01", 1.5), rec("2024-03", 3.0), rec("2024-04", 666)]
    with pytest.raises(ConstraintError, match="disk on fire"):
        await store.observations.ingest(Batch("gso", failing, payload=b"the failing page"))
    assert counts(store.path) == before
    snapshot = await store.snapshots.current()
    assert [(o.period, o.value) for o in snapshot.observations] == [("2024-02", 2.0)]
    # The next batch is whole, its seqs right after the last committed one.
    after = await store.observations.ingest(Batch("gso", [rec("2024-01", 1.5), rec("2024-03", 3.0)]))
    assert (after.new, len(after.revised), after.first_seq) == (1, 1, (first.last_seq or 0) + 1)
    assert after.revised[0].previous_value == 1.0 and after.revised[0].revision == 2
