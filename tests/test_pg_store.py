"""What only the store on PostgreSQL has: a server that goes away and comes back under a running store,
the URL that selects the engine, and the collector lock as an advisory lock."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from bench import pgserver
from storage import Batch, ObservationIn, RunOutcome, RunTrigger, Store, StoreError
from storage.lock import CollectorLock, DatabaseBusy, holder
from storage.pg.adapter import PgConnection, PgReader
from storage.settings import DatabaseSettings
from storage.writes import RunFinish, StoreUnavailable
from tests.conftest import run_cli
from tests.pgkit import TEMPLATE_DB, PgServer, start_again, stop_server

pytestmark = pytest.mark.pg  # the whole module is about the PostgreSQL engine

RECOVERY_TIMEOUT_S = 60.0  # generous: two noisy cores


def rec(period: str, value: float) -> ObservationIn:
    return ObservationIn(indicator="CPI_YOY", area="VN", period=period, value=value, status="official")


async def test_a_restarted_server_is_written_again_and_nothing_acknowledged_is_lost(
    own_server: PgServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_server.create_database(TEMPLATE_DB)
    store = await Store.open(url)
    store.probe_every = 0.2
    store.state.writer.recovery_hold = 0.0
    try:
        acknowledged = await store.observations.ingest(Batch("gso", [rec("2024-01", 1.0), rec("2024-02", 2.0)]))
        assert acknowledged.new == 2

        stop_server(own_server)
        with pytest.raises(StoreUnavailable):
            await store.observations.ingest(Batch("gso", [rec("2024-03", 3.0)]))
        assert store.write_problem() is not None

        start_again(own_server, monkeypatch)
        # The writer reconnects by itself: the next write after the server is back succeeds.
        deadline = asyncio.get_running_loop().time() + RECOVERY_TIMEOUT_S
        while True:
            try:
                after = await store.observations.ingest(Batch("gso", [rec("2024-04", 4.0)]))
                break
            except StoreUnavailable:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert after.new == 1

        # And the reader: everything acknowledged is there, the refused batch is not, seq has no gap.
        history = await store.observations.history("CPI_YOY", "VN")
        assert [(o.period, o.value) for o in history] == [("2024-01", 1.0), ("2024-02", 2.0), ("2024-04", 4.0)]
        events = await store.events.after(0)
        seqs = [e.seq for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert [e.seq for e in events if e.type == "observation"][-1] == after.last_seq
        # What was said about the outage (logs, the write alert every feed role sees) names the
        # database without its password.
        assert "cannot be written" in caplog.text
        assert own_server.password not in caplog.text
        assert all(own_server.password not in str(e.payload) for e in await store.events.after(0))
    finally:
        await store.close()


async def test_the_first_write_after_a_restart_is_written_on_a_connection_idle_through_it(
    own_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection the server ended while it was idle (a restart) says so only when it is used: the
    writer begins its transaction on a new one then, instead of refusing the first write after the
    restart (a feed process's first audited command, hours later, was answered `internal`)."""
    url = own_server.create_database(TEMPLATE_DB)
    store = await Store.open(url)
    try:
        assert (await store.observations.ingest(Batch("gso", [rec("2024-01", 1.0)]))).new == 1
        stop_server(own_server)
        start_again(own_server, monkeypatch)
        assert (await store.observations.ingest(Batch("gso", [rec("2024-02", 2.0)]))).new == 1
        assert store.write_problem() is None
    finally:
        await store.close()


async def test_a_run_ended_while_the_server_is_away_is_recorded_once_it_is_back(
    own_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store keeps a run's end while the server is away and writes it once it is back. Each
    attempt reads the write alert's texts before writing, and with the server away that read fails
    with the engine's own error (not StoreUnavailable): it must not end the recovery, or the end is
    never written and the run stays 'running' for as long as the process lives."""
    url = own_server.create_database(TEMPLATE_DB)
    store = await Store.open(url)
    store.probe_every = 0.05
    store.state.writer.recovery_hold = 0.0
    try:
        running = await store.runs.start("gso", RunTrigger.SCHEDULE)
        stop_server(own_server)
        ended = await store.runs.end_eventually(running, RunFinish(outcome=RunOutcome.FAILED, error="not stored"))
        assert ended.outcome is RunOutcome.FAILED  # as it will be recorded
        await asyncio.sleep(20 * store.probe_every)  # attempts while the server is away, each failing

        start_again(own_server, monkeypatch)
        deadline = asyncio.get_running_loop().time() + RECOVERY_TIMEOUT_S
        while (run := await store.runs.get(running.id)) is None or run.outcome is RunOutcome.RUNNING:
            assert asyncio.get_running_loop().time() < deadline, "the run's end was never written"
            await asyncio.sleep(0.05)
        assert (run.outcome, run.error) == (RunOutcome.FAILED, "not stored")
    finally:
        await store.close()


def test_the_url_selects_postgresql_and_a_bad_one_is_refused_clearly() -> None:
    assert DatabaseSettings().target == "opscentre.db"
    assert DatabaseSettings(url="postgresql://u:p@db.example:5432/ops").target == "postgresql://u:p@db.example:5432/ops"
    for bad, says in [
        ("mysql://u@h/ops", "expected a PostgreSQL URL"),
        ("postgresql://u@h:5432", "names no database"),
    ]:
        with pytest.raises(ValidationError, match=says):
            DatabaseSettings(url=bad)
    with pytest.raises(ValidationError, match="either"):
        DatabaseSettings(url="postgresql://u@h/ops", path="ops.db")


async def test_an_unreachable_server_is_a_clear_error_without_the_password(pg_server: PgServer) -> None:
    url = f"postgresql://opscentre:sekrit@127.0.0.1:{pgserver.free_port()}/nowhere"
    with pytest.raises(StoreError, match="cannot open the database") as caught:
        await Store.open(url)
    assert "sekrit" not in str(caught.value)


def test_one_collecting_process_per_database_by_advisory_lock(pg_url: str) -> None:
    first, second = CollectorLock(pg_url), CollectorLock(pg_url)
    first.acquire("opscentre serve")
    try:
        with pytest.raises(DatabaseBusy, match="opscentre serve"):
            second.acquire("opscentre collect --local")
        found = holder(pg_url)
        assert found is not None and found.command == "opscentre serve"
    finally:
        first.release()
    assert holder(pg_url) is None
    second.acquire("opscentre collect --local")  # released: free for the next
    second.release()


def test_init_db_on_a_url_opens_postgresql_and_does_not_print_the_password(pg_url: str, pg_server: PgServer) -> None:
    done = run_cli("init-db", "--db", pg_url)
    assert done.returncode == 0, done.stderr
    assert "is up to date" in done.stdout and pg_server.password not in done.stdout + done.stderr


def test_a_multi_host_url_is_told_host_by_host_without_the_password(pg_url: str, pg_server: PgServer) -> None:
    # The form docs/deploy.md gives for a primary and its standby: each host with its own port.
    dbname = pg_url.rsplit("/", 1)[1]
    closed = pgserver.free_port()
    url = (
        f"postgresql://opscentre:{pg_server.password}@127.0.0.1:{closed},127.0.0.1:{pg_server.port}"
        f"/{dbname}?target_session_attrs=read-write"
    )
    done = run_cli("init-db", "--db", url)
    assert done.returncode == 0, done.stderr
    told = f"postgresql://opscentre@127.0.0.1:{closed},127.0.0.1:{pg_server.port}/{dbname}"
    assert told in done.stdout, done.stdout
    assert pg_server.password not in done.stdout + done.stderr


async def test_rows_come_back_in_the_shape_the_store_reads_on_sqlite(pg_url: str) -> None:
    """psycopg's loaders on the store's connections (storage/pg/adapter.py ``STORE_TYPES``): a timestamptz
    is the store's time text, a date its ISO text, a numeric an int when whole and a float otherwise;
    the other types as psycopg gives them. The writer's and the reader's connections alike."""
    sql = (
        "SELECT timestamptz '2024-06-01 16:30:00.25+07', timestamptz '2024-06-01 09:00:00+00', date '2025-07-01', "
        "sum(x), sum(x) / 2, 1.5::numeric, 'abc'::bytea, 2.5::double precision, 7::bigint, 'text', NULL::numeric "
        "FROM (VALUES (3::bigint), (4::bigint)) AS v (x)"
    )
    expected = (
        "2024-06-01T09:30:00.250000Z", "2024-06-01T09:00:00.000000Z", "2025-07-01",
        7, 3.5, 1.5, b"abc", 2.5, 7, "text", None,
    )  # fmt: skip
    writer = PgConnection(pg_url)
    try:
        row = writer.execute(sql).fetchone()
    finally:
        writer.close()
    reader = await PgReader.open(pg_url)
    try:
        read = await (await reader.execute(sql)).fetchone()
    finally:
        await reader.close()
    for got in (row, read):
        assert got == expected
        assert [type(v) for v in got] == [type(v) for v in expected]
