"""`opscentre migrate-store --from PATH --to URL`: a SQLite store copied into an empty PostgreSQL database
(the throwaway server of tests/pgkit.py) with every revision, payload, event and audit entry, and verified;
a non-empty target, a bad URL, a missing file or a file that is not a store refused with nothing changed;
a copy that fails midway leaves the target empty. The command runs as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from storage import Batch, ObservationIn, ObservationStatus, RunOutcome, RunTrigger, Severity, Store
from storage.clock import ManualClock, use_clock
from storage.models import SilenceMatch
from storage.pg.copy import copy_store
from storage.pg.copy_prepare import TABLES, check_schemas, connect_target, open_source, prepare_target
from storage.pg.copy_verify import CopyReport, verify_copy
from tests.conftest import run_cli
from tests.pgkit import PgServer

JUNE_1 = datetime(2024, 6, 1, 9, tzinfo=UTC)
PAYLOAD_1 = json.dumps({"cpi": [3.1], "note": "Chỉ số giá tiêu dùng"}, ensure_ascii=False).encode()
PAYLOAD_2 = b'{"cpi": [3.3, 3.5]}'


def cpi(period: str, value: float, status: str = "official", area: str = "VN") -> ObservationIn:
    return ObservationIn(indicator="CPI_YOY", area=area, period=period, value=value, status=ObservationStatus(status))


async def make_store(path: Path) -> None:
    """A store with runs, revisions, payloads, a rejection, alerts acknowledged, a silence, audit entries, and
    its oldest events pruned (so the copy's numbering must start above them)."""
    clock = ManualClock(JUNE_1)
    with use_clock(clock):
        store = await Store.open(path)
        try:
            run = await store.runs.start("nso", RunTrigger.SCHEDULE)
            await store.observations.ingest(
                Batch("nso", [cpi("2024-05", 3.1, "provisional"), cpi("2024-05", 2.9, "provisional", "01")],
                      run_id=run.id, payload=PAYLOAD_1, content_type="application/json", collected_at=JUNE_1)
            )  # fmt: skip
            await store.runs.finish(run.id, RunOutcome.SUCCESS, fetched=2, new=2, latency_ms=12.5, http_status=200)
            clock.advance(timedelta(days=10))
            run = await store.runs.start("nso", RunTrigger.MANUAL, requested_by="admin")
            await store.observations.ingest(
                Batch("nso", [cpi("2024-05", 3.3), {"indicator": "NO_SUCH", "area": "VN", "period": "2024-05"}],
                      run_id=run.id, payload=PAYLOAD_2, collected_at=clock())
            )  # fmt: skip
            await store.runs.finish(run.id, RunOutcome.PARTIAL, fetched=2, revised=1, rejected=1)
            await store.observations.ingest(Batch("nso", [cpi("2024-06", 3.5, "provisional")], collected_at=clock()))
            alert = await store.alerts.fire("source.down", "gso", Severity.CRITICAL, "Nguồn GSO không phản hồi")
            assert alert is not None
            await store.alerts.acknowledge(alert.id, "tran.b", "operator", note="đang gọi GSO")
            await store.alerts.fire("source.slow", "mof", Severity.WARNING, "slow")
            await store.alerts.silence(
                SilenceMatch(rule="source.slow"), clock() + timedelta(hours=2), "bảo trì", "admin", "admin"
            )
            await store.audit.record("admin", "admin", "config.reload", "config", {"by": "Nguyễn Văn A"})
            clock.advance(timedelta(days=1))
            await store.observations.ingest(Batch("nso", [cpi("2024-07", 3.6, "provisional")], collected_at=clock()))
            assert await store.events.prune(JUNE_1 + timedelta(days=5)) > 0  # the first events are gone
            assert (await store.audit.verify()).ok
        finally:
            await store.close()


@pytest.fixture
async def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "ops.db"
    await make_store(path)
    return path


def sqlite_rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(query).fetchall()


def pg_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def pg_counts(url: str) -> dict[str, int]:
    return {t: pg_rows(url, f"SELECT count(*) FROM {t}")[0][0] for t, _ in TABLES}


def test_a_store_is_copied_with_everything_and_verified(store_path: Path, pg_url: str) -> None:
    done = run_cli("migrate-store", "--from", str(store_path), "--to", pg_url, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout)
    assert report["ok"] and report["problems"] == []
    assert "observations:" in done.stderr  # progress, per table, on stderr
    for table, _ in TABLES:
        n = sqlite_rows(store_path, f"SELECT count(*) FROM {table}")[0][0]
        assert report["tables"][table] == {"source": n, "copy": n}, table
    assert pg_counts(pg_url)["observations"] == 5

    # Every figure with every revision and its predecessor.
    revisions = pg_rows(
        pg_url,
        "SELECT o.area, o.period, o.revision, o.value, o.status, p.value FROM observations o "
        "LEFT JOIN observations p ON p.id = o.supersedes ORDER BY o.id",
    )
    assert revisions == [
        ("VN", "2024-05", 1, 3.1, "provisional", None),
        ("01", "2024-05", 1, 2.9, "provisional", None),
        ("VN", "2024-05", 2, 3.3, "official", 3.1),
        ("VN", "2024-06", 1, 3.5, "provisional", None),
        ("VN", "2024-07", 1, 3.6, "provisional", None),
    ]
    # The payloads, byte for byte, found through the figures that came from them.
    bodies = pg_rows(
        pg_url,
        "SELECT p.digest, p.codec, p.body FROM observations o JOIN raw_payloads p ON p.id = o.payload_id "
        "WHERE o.period = '2024-05' ORDER BY o.id",
    )
    decoded = [zlib.decompress(b) if codec == "zlib" else bytes(b) for _d, codec, b in bodies]
    assert decoded == [PAYLOAD_1, PAYLOAD_1, PAYLOAD_2]
    assert [d for d, _c, _b in bodies] == [hashlib.sha256(b).hexdigest() for b in decoded]
    assert pg_rows(pg_url, "SELECT reason IS NOT NULL FROM rejections") == [(True,)]

    # Events keep their numbers (the pruned ones stay pruned) and the epoch; the next one follows on.
    src_seqs = [r[0] for r in sqlite_rows(store_path, "SELECT seq FROM events ORDER BY seq")]
    assert src_seqs[0] > 1
    assert [r[0] for r in pg_rows(pg_url, "SELECT seq FROM events ORDER BY seq")] == src_seqs
    epoch = sqlite_rows(store_path, "SELECT value FROM meta WHERE key = 'epoch'")[0][0]
    assert report["epoch_copy"] == epoch and report["max_seq_copy"] == src_seqs[-1]
    with psycopg.connect(pg_url) as conn:
        seq = conn.execute("INSERT INTO events (type, at) VALUES ('test', now()) RETURNING seq").fetchone()
        assert seq == (src_seqs[-1] + 1,)
        # New rows get new ids after the copied ones (the identities were moved past them).
        new_id = conn.execute(
            "INSERT INTO audit (at, actor, role, action, target, details, prev_hash, hash) "
            "VALUES (now(), 'x', 'x', 'x', 'x', '{}', 'x', 'x') RETURNING id"
        ).fetchone()
        assert new_id == (report["audit_entries"] + 1,)
        conn.rollback()

    # Alerts with their acknowledgement and transitions, the silence, the audit chain and its head.
    alerts = pg_rows(pg_url, "SELECT rule, state, acknowledged_by, ack_note, silenced_by FROM alerts ORDER BY id")
    assert alerts == [
        ("source.down", "acknowledged", "tran.b", "đang gọi GSO", None),
        ("source.slow", "firing", None, None, 1),
    ]
    assert pg_counts(pg_url)["alert_transitions"] >= 3
    assert pg_rows(pg_url, "SELECT comment, created_by FROM silences") == [("bảo trì", "admin")]
    actions = [r[0] for r in pg_rows(pg_url, "SELECT action FROM audit ORDER BY id")]
    assert len(actions) == 3 and actions[-1] == "config.reload"
    head = sqlite_rows(store_path, "SELECT hash FROM audit ORDER BY id DESC LIMIT 1")[0][0]
    assert report["audit_head_source"] == report["audit_head_copy"] == head
    assert report["payloads_verified"] == 2 and report["rows_compared"]["observations"] == 5


def test_the_text_report_names_the_figures(store_path: Path, pg_empty_url: str) -> None:
    """A database with no schema is migrated first, then filled."""
    done = run_cli("migrate-store", "--from", str(store_path), "--to", pg_empty_url)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "copy verified" in done.stdout and "audit: 3 entries" in done.stdout
    assert pg_counts(pg_empty_url)["observations"] == 5


def test_a_non_empty_target_is_refused_and_left_unchanged(store_path: Path, pg_url: str) -> None:
    assert run_cli("migrate-store", "--from", str(store_path), "--to", pg_url).returncode == 0
    before = pg_counts(pg_url)
    again = run_cli("migrate-store", "--from", str(store_path), "--to", pg_url)
    assert again.returncode == 2
    assert "not empty" in again.stderr and "observations (5 rows)" in again.stderr
    assert pg_counts(pg_url) == before


def test_a_target_holding_other_tables_is_refused(store_path: Path, pg_empty_url: str) -> None:
    with psycopg.connect(pg_empty_url) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    done = run_cli("migrate-store", "--from", str(store_path), "--to", pg_empty_url)
    assert done.returncode == 2 and "invoices" in done.stderr
    tables = pg_rows(pg_empty_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    assert tables == [("invoices",)]  # no schema added either


@pytest.mark.parametrize(
    ("make_url", "message"),
    [
        (lambda server: "mysql://localhost/ops", "must be a PostgreSQL URL"),
        (lambda server: "postgresql://u@127.0.0.1:1/x?nonsense=1", "invalid PostgreSQL URL"),
        (lambda server: server.url("postgres").replace(server.password, "wrong-password"), "cannot connect"),
    ],
)
def test_a_bad_url_is_a_clear_error(store_path: Path, pg_server: PgServer, make_url: Any, message: str) -> None:
    url = make_url(pg_server)
    done = run_cli("migrate-store", "--from", str(store_path), "--to", url)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert pg_server.password not in done.stderr


def test_a_missing_file_or_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path, pg_url: str) -> None:
    missing = run_cli("migrate-store", "--from", str(tmp_path / "nope.db"), "--to", pg_url)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert not (tmp_path / "nope.db").exists()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some text that is long enough to look like a file header\n")
    not_db = run_cli("migrate-store", "--from", str(text), "--to", pg_url)
    assert not_db.returncode == 2 and "not an opscentre store" in not_db.stderr
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    not_store = run_cli("migrate-store", "--from", str(other), "--to", pg_url)
    assert not_store.returncode == 2 and "not an opscentre store" in not_store.stderr
    assert all(n == 0 for t, n in pg_counts(pg_url).items())


def test_a_store_of_another_schema_version_is_refused(store_path: Path, pg_url: str) -> None:
    with sqlite3.connect(store_path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {version + 1}")
    newer = run_cli("migrate-store", "--from", str(store_path), "--to", pg_url)
    assert newer.returncode == 2 and "newer than this program knows" in newer.stderr
    with sqlite3.connect(store_path) as conn:
        conn.execute(f"PRAGMA user_version = {version - 1}")
    older = run_cli("migrate-store", "--from", str(store_path), "--to", pg_url)
    assert older.returncode == 2 and "older than this program's" in older.stderr and "init-db" in older.stderr
    assert all(n == 0 for n in pg_counts(pg_url).values())


def test_a_store_failing_its_integrity_check_is_refused(store_path: Path, pg_url: str) -> None:
    """An index page overwritten on disk: the file still opens, its integrity check does not pass."""
    with sqlite3.connect(store_path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs_by_source'").fetchone()[0]
        assert conn.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)  # all in the main file
    with open(store_path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * page_size)
    done = run_cli("migrate-store", "--from", str(store_path), "--to", pg_url)
    assert done.returncode == 2, done.stderr
    assert "fails its integrity check" in done.stderr
    assert all(n == 0 for n in pg_counts(pg_url).values())


def test_a_copy_that_fails_midway_leaves_the_target_empty(store_path: Path, pg_url: str) -> None:
    """An event missing from the middle of the log (SQLite lets it go; the target's seq trigger refuses the
    gap) fails the copy after the reference data, payloads, runs and observations were sent."""
    with sqlite3.connect(store_path) as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        conn.execute("DELETE FROM events WHERE seq = ?", (seqs[len(seqs) // 2],))
    done = run_cli("migrate-store", "--from", str(store_path), "--to", pg_url)
    assert done.returncode == 1
    assert "copying table events failed, nothing was written" in done.stderr
    assert all(n == 0 for n in pg_counts(pg_url).values())
    assert pg_rows(pg_url, "SELECT last_seq FROM event_seq_floor") == [(0,)]


def test_a_difference_after_the_copy_is_named_with_exit_1(store_path: Path, pg_url: str) -> None:
    """The verification reads the copy back: a payload whose stored bytes do not hash to its digest (the
    original's fault, copied faithfully) is reported as the first difference."""
    with sqlite3.connect(store_path) as conn:
        conn.execute("UPDATE raw_payloads SET body = ? WHERE id = 1", (zlib.compress(b"tampered"),))
    done = run_cli("migrate-store", "--from", str(store_path), "--to", pg_url, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert not report["ok"] and "do not hash to its digest" in report["problems"][0]
    assert "the copy differs" in done.stderr


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE alerts SET ack_note = 'khác' WHERE id = 1", "alerts (id=1): ack_note is 'đang gọi GSO' in the store"),
        ("UPDATE meta SET value = 'other' WHERE key = 'epoch'", "meta: the epoch is"),
        ("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)", "events: the last seq is"),
        ("DELETE FROM silences", "silences: 1 rows in the store, 0 in the copy"),
        (
            "ALTER TABLE audit DISABLE TRIGGER audit_no_update; UPDATE audit SET details = '{}' WHERE id = 2",
            "audit (copy): entry 2 does not match its hash",
        ),
        (
            "ALTER TABLE observations DISABLE TRIGGER observations_no_update; "
            "UPDATE observations SET value = 3.30001 WHERE revision = 2",
            "value is 3.3 in the store but 3.30001 in the copy",
        ),
    ],
)
def test_the_verification_names_a_difference_in_the_copy(
    store_path: Path, pg_url: str, tamper: str, expected: str
) -> None:
    """Each check of the verification, on a copy changed after it was made (as a faulty copy would be)."""
    src = open_source(store_path)
    try:
        with connect_target(pg_url) as conn:
            prepare_target(conn)
            columns = check_schemas(src, conn)
            copy_store(src, conn, columns)
            assert verify_copy(src, conn, columns, CopyReport("s", "t")).ok
            conn.execute(tamper.encode())  # several statements: sent as one simple query
            conn.commit()
            report = verify_copy(src, conn, columns, CopyReport("s", "t"))
    finally:
        src.close()
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


@pytest.mark.slow  # two minutes of the demo, then a whole copy
async def test_a_demo_database_is_copied_whole_and_verified(tmp_path: Path, pg_url: str) -> None:
    """The demo's own store (its configuration on the real simulator playing its scenario, two
    minutes of polls: revisions, alerts, a late province, runs that failed, payloads, audit)."""
    pytest.importorskip("pysdmx")
    import asyncio

    from tests.demokit import demo_service
    from tests.simulator_fixtures import Clock

    db = tmp_path / "demo.db"
    clock = Clock()
    async with demo_service(db, clock) as service:
        assert service.collector is not None and service.store is not None
        start = clock()
        everything = sorted(service.collector.sources)
        for second in (1, 45, 61, 121):
            clock.set(start + timedelta(seconds=second))
            await service.collector.run_many(everything)
            await asyncio.sleep(0.5)  # a few passes of the rules timer
        [alert, *_] = await service.store.alerts.listed()
        await service.store.alerts.acknowledge(alert.id, "admin-user", "admin", "seen")

    def count(sql: str) -> int:
        return int(sqlite_rows(db, sql)[0][0])

    assert count("SELECT count(*) FROM observations WHERE revision > 1") > 0
    assert count("SELECT count(*) FROM alerts") > 0 and count("SELECT count(*) FROM audit") > 0
    done = await asyncio.to_thread(run_cli, "migrate-store", "--from", str(db), "--to", pg_url, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout)
    assert report["ok"] and report["problems"] == []
    for table, _ in TABLES:
        n = count(f"SELECT count(*) FROM {table}")
        assert report["tables"][table] == {"source": n, "copy": n}, table
    figures = "SELECT indicator, area, period, source, revision, value, status FROM observations ORDER BY id"
    assert [tuple(r) for r in pg_rows(pg_url, figures)] == [tuple(r) for r in sqlite_rows(db, figures)]
    digests = "SELECT digest FROM raw_payloads ORDER BY id"
    assert pg_rows(pg_url, digests) == [tuple(r) for r in sqlite_rows(db, digests)]
    head = "SELECT hash FROM audit ORDER BY id DESC LIMIT 1"
    assert pg_rows(pg_url, head) == [tuple(r) for r in sqlite_rows(db, head)]
