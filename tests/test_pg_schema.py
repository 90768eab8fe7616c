"""The PostgreSQL store's schema (storage/pg) on a throwaway server: its migrations, and the guarantees
the database itself enforces (append-only figures and audit, payloads once per digest, one open alert
per rule and subject, a gap-free event seq with several writing processes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from storage.pg.migrate import LATEST, all_migrations, migrate, schema_version
from tests.conftest import ROOT
from tests.pgkit import start_server

pytestmark = pytest.mark.pg  # the whole module is about the PostgreSQL engine

DIGEST = "ab" * 32


def tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_migrations_apply_on_an_empty_database_and_again_as_a_no_op(pg_empty_url: str) -> None:
    with psycopg.connect(pg_empty_url, autocommit=True) as conn:
        assert schema_version(conn) == 0
        assert migrate(conn) == (0, LATEST)
        made = tables(conn)
        assert {"observations", "raw_payloads", "events", "alerts", "audit", "silences", "schema_version"} <= made
        versions = conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
        assert versions == [(m.version, m.name) for m in all_migrations()]

        assert migrate(conn) == (LATEST, LATEST)
        assert tables(conn) == made
        assert conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall() == versions


def test_a_database_newer_than_the_program_is_refused_and_left_alone(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, 'from_the_future')", (LATEST + 1,))
        with pytest.raises(RuntimeError, match="newer than this program knows"):
            migrate(conn)
        assert schema_version(conn) == LATEST + 1


def add_observation(conn: psycopg.Connection, value: float = 1.5) -> int:
    row = conn.execute(
        """INSERT INTO observations (indicator, area, period, source, revision, value, status, collected_at)
           VALUES ('CPI', 'VN', '2026-10', 'nso-json', 1, %s, 'official', now()) RETURNING id""",
        (value,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_audit(conn: psycopg.Connection) -> int:
    row = conn.execute(
        """INSERT INTO audit (at, actor, role, action, target, details, prev_hash, hash)
           VALUES (now(), 'an', 'admin', 'collect', 'all', '{}', '', 'h1') RETURNING id"""
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("table", "add", "change"),
    [
        ("observations", add_observation, "UPDATE observations SET value = 99 WHERE id = %s"),
        ("observations", add_observation, "DELETE FROM observations WHERE id = %s"),
        ("observations", add_observation, "TRUNCATE observations CASCADE"),
        ("audit", add_audit, "UPDATE audit SET actor = 'someone else' WHERE id = %s"),
        ("audit", add_audit, "DELETE FROM audit WHERE id = %s"),
        ("audit", add_audit, "TRUNCATE audit"),
    ],
)
def test_append_only_tables_refuse_every_edit(pg_url: str, table: str, add: object, change: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row_id = add(conn)  # type: ignore[operator]
        before = conn.execute(f"SELECT * FROM {table}").fetchall()
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="append-only"):
            conn.execute(change, (row_id,) if "%s" in change else None)
        assert conn.execute(f"SELECT * FROM {table}").fetchall() == before


def add_event(conn: psycopg.Connection, kind: str = "observation") -> int:
    row = conn.execute("INSERT INTO events (type, at) VALUES (%s, now()) RETURNING seq", (kind,)).fetchone()
    assert row is not None
    return int(row[0])


def seqs(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq").fetchall()]


def test_a_rolled_back_transaction_leaves_no_gap_and_a_pruned_number_is_never_reused(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert add_event(conn) == 1
        with pytest.raises(RuntimeError, match="given up"), conn.transaction():
            assert [add_event(conn) for _ in range(3)] == [2, 3, 4]
            raise RuntimeError("given up")
        assert add_event(conn) == 2
        assert seqs(conn) == [1, 2]

        conn.execute("DELETE FROM events WHERE seq = 2")  # pruning the newest event
        assert add_event(conn) == 3
        assert seqs(conn) == [1, 3]


def test_a_client_cannot_choose_or_change_a_seq(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        add_event(conn)
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="allocated by the database: 7 given, 2 is next"):
            conn.execute("INSERT INTO events (seq, type, at) VALUES (7, 'observation', now())")
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="never changes"):
            conn.execute("UPDATE events SET seq = 5 WHERE seq = 1")
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="never goes back"):
            conn.execute("UPDATE event_seq_floor SET last_seq = last_seq - 1")
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="pruned with DELETE"):
            conn.execute("TRUNCATE events")
        assert seqs(conn) == [1]
        assert add_event(conn) == 2


def add_events(conn: psycopg.Connection, *given: int) -> list[int]:
    """Events with the given seqs, in one statement (as a batch of the ingest numbers them)."""
    rows = conn.execute(
        "INSERT INTO events (seq, type, at) SELECT s, 'observation', now() FROM unnest(%s::bigint[]) s RETURNING seq",
        (list(given),),
    ).fetchall()
    return [r[0] for r in rows]


def test_a_batch_of_given_seqs_must_be_exactly_the_next_ones(pg_url: str) -> None:
    """Migration 0008: a batch numbered once (events_seq_base) is checked once per statement."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        add_event(conn)
        for wrong, told in [((3, 4), "3..4 given, 2 is next"), ((2, 4), "2..4 given, 2 is next"), ((5,), "5 given")]:
            with pytest.raises(errors.ObjectNotInPrerequisiteState, match=told):
                add_events(conn, *wrong)
        with pytest.raises(errors.UniqueViolation):
            add_events(conn, 1, 2)
        assert seqs(conn) == [1]
        with conn.transaction():
            base = conn.execute("SELECT events_seq_base()").fetchone()
            assert base == (1,)
            assert add_events(conn, 2, 3, 4) == [2, 3, 4]
        conn.execute("DELETE FROM events WHERE seq = 4")  # pruned: 4 is never given again
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="4 given, 5 is next"):
            add_events(conn, 4)
        assert add_events(conn, 5) == [5]
        assert add_event(conn) == 6  # a row without a seq is still numbered by the row trigger
        assert seqs(conn) == [1, 2, 3, 5, 6]


def test_an_event_names_a_figure_and_a_revision_its_predecessor(pg_url: str) -> None:
    """Migration 0008 checks once per statement what two foreign keys checked row by row, and a revision's
    predecessor more strictly: the previous revision of the same figure."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        first = add_observation(conn)
        with pytest.raises(errors.ForeignKeyViolation, match="names no observation"):
            conn.execute("INSERT INTO events (type, at, obs_id) VALUES ('observation', now(), %s)", (first + 1,))
        conn.execute("INSERT INTO events (type, at, obs_id) VALUES ('observation', now(), %s)", (first,))

        def revise(revision: int, supersedes: int | None, period: str = "2026-10") -> None:
            conn.execute(
                """INSERT INTO observations (indicator, area, period, source, revision, value, status, collected_at,
                   supersedes) VALUES ('CPI', 'VN', %s, 'nso-json', %s, 2.5, 'official', now(), %s)""",
                (period, revision, supersedes),
            )

        for revision, supersedes, period in [(2, None, "2026-10"), (2, first + 7, "2026-10"), (3, first, "2026-10"),
                                             (2, first, "2026-11"), (1, first, "2026-12")]:  # fmt: skip
            with pytest.raises(errors.ForeignKeyViolation, match="supersedes the previous revision"):
                revise(revision, supersedes, period)
        revise(2, first)
        rows = conn.execute("SELECT revision, supersedes FROM observations ORDER BY id").fetchall()
        assert rows == [(1, None), (2, first)]


# Each writer: its own connection, 500 events, one transaction each; every 10th transaction first
# writes an extra event and rolls back, so rollbacks happen while the other process writes.
WRITER = textwrap.dedent(
    """
    import sys
    import psycopg

    url, name = sys.argv[1], sys.argv[2]
    with psycopg.connect(url, autocommit=True) as conn:
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(500):
            if i % 10 == 0:
                try:
                    with conn.transaction():
                        conn.execute("INSERT INTO events (type, at, payload) VALUES ('x', now(), 'rolled back')")
                        raise LookupError
                except LookupError:
                    pass
            with conn.transaction():
                conn.execute("INSERT INTO events (type, at, payload) VALUES ('observation', now(), %s)", (f"{name}:{i}",))
    print("done", flush=True)
    """
)


def test_two_writing_processes_number_their_events_without_gap_or_duplicate(pg_url: str) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, pg_url, name],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        for w in writers:  # both connected before either starts: they really write at the same time
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        for w in writers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        for w in writers:
            assert w.wait(timeout=240) == 0
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT seq, payload FROM events ORDER BY seq").fetchall()
    assert [seq for seq, _ in rows] == list(range(1, 1001))
    payloads = [p for _, p in rows]
    assert sorted(payloads) == sorted(f"{name}:{i}" for name in ("a", "b") for i in range(500))
    # Each writer's events numbered in the order it wrote them.
    for name in ("a", "b"):
        assert [p for p in payloads if p.startswith(f"{name}:")] == [f"{name}:{i}" for i in range(500)]


def add_payload(conn: psycopg.Connection, body: bytes, digest: str = DIGEST, on_conflict: str = "") -> list[tuple[int]]:
    return conn.execute(
        f"""INSERT INTO raw_payloads (digest, size, codec, received_at, body)
            VALUES (%s, %s, 'zstd', now(), %s) {on_conflict} RETURNING id""",
        (digest, len(body), body),
    ).fetchall()


def test_a_payload_is_stored_once_per_digest(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        [(first,)] = add_payload(conn, b"the bytes")
        with pytest.raises(errors.UniqueViolation, match="digest"):
            add_payload(conn, b"other bytes, same digest")
        assert add_payload(conn, b"the bytes", on_conflict="ON CONFLICT (digest) DO NOTHING") == []  # merged
        with pytest.raises(errors.CheckViolation, match="digest"):
            add_payload(conn, b"x", digest="not-a-sha256")
        assert conn.execute("SELECT id, body FROM raw_payloads").fetchall() == [(first, b"the bytes")]


def open_alert(conn: psycopg.Connection, state: str = "firing") -> int:
    row = conn.execute(
        """INSERT INTO alerts (rule, subject, severity, state, message, opened_at, updated_at)
           VALUES ('source_down', 'mof-json', 'critical', %s, 'MOF không phản hồi', now(), now()) RETURNING id""",
        (state,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_one_open_alert_per_rule_and_subject(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        first = open_alert(conn)
        with pytest.raises(errors.UniqueViolation, match="alerts_open"):
            open_alert(conn, state="pending")
        conn.execute("UPDATE alerts SET state = 'resolved' WHERE id = %s", (first,))
        second = open_alert(conn)
        states = conn.execute("SELECT id, state FROM alerts ORDER BY id").fetchall()
        assert states == [(first, "resolved"), (second, "firing")]


MIGRATOR = textwrap.dedent(
    """
    import sys
    import psycopg
    from storage.pg.migrate import migrate

    with psycopg.connect(sys.argv[1]) as conn:
        print("ready", flush=True)
        sys.stdin.readline()
        print(migrate(conn), flush=True)
    """
)


def test_two_processes_migrating_at_once_apply_each_migration_once(pg_empty_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, pg_empty_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:  # both told before either is waited for: they really migrate at the same time
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    # The one that waited may find everything done already (before = LATEST): either way, both end at LATEST.
    assert all(out.strip().endswith(f", {LATEST})") for out, _ in outs), outs
    with psycopg.connect(pg_empty_url) as conn:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert versions == [(v,) for v in range(1, LATEST + 1)]


def test_the_server_runs_unprivileged_and_is_removed_when_stopped() -> None:
    server = start_server()
    try:
        assert server.proc is not None
        owner = Path(f"/proc/{server.proc.pid}").stat().st_uid
        assert owner != 0  # PostgreSQL refuses root; as root the kit runs it as opscentre-test
        assert owner == server.user.pw_uid == server.root.stat().st_uid
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert server.proc.poll() is not None
    assert not server.root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url(), connect_timeout=5)
