"""Schema migrations: from an empty file, from every earlier version, repeatable, and refusing
a database newer than the program."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import Batch, ObservationIn, Store, StoreError
from storage.migrations import LATEST, SchemaTooNew, all_migrations, migrate, schema_version
from tests.conftest import run_cli


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [*conn.iterdump(), f"user_version={conn.execute('PRAGMA user_version').fetchone()[0]}"]
    finally:
        conn.close()


def test_migrations_are_numbered_from_one() -> None:
    versions = [m.version for m in all_migrations()]
    assert versions == list(range(1, LATEST + 1)) and LATEST >= 2


def test_from_empty_to_latest(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    try:
        assert schema_version(conn) == 0
        assert migrate(conn) == (0, LATEST)
        assert schema_version(conn) == LATEST
        assert migrate(conn) == (LATEST, LATEST)  # again: nothing to do
    finally:
        conn.close()


@pytest.mark.parametrize("start", range(1, LATEST))
async def test_from_each_earlier_version_keeps_the_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        migrate(conn, target=start)
        assert schema_version(conn) == start
        # Data written by the older program: reference rows and a figure.
        conn.execute("INSERT INTO categories VALUES ('KTVM', 'Kinh tế vĩ mô', 'Macro-economy')")
        conn.execute(
            "INSERT INTO agencies (code, name_vi, name_en, kind) VALUES ('GSO', 'Tổng cục Thống kê', 'GSO', 'agency')"
        )
        conn.execute(
            "INSERT INTO indicators VALUES ('CPI_YOY','Chỉ số giá','CPI','%','M','KTVM','GSO','national+provincial','rate',NULL,2.79)"
        )
        conn.execute(
            "INSERT INTO observations (indicator, area, period, source, revision, value, status, collected_at) "
            "VALUES ('CPI_YOY', 'VN', '2019-12', 'gso', 1, 5.23, 'official', '2020-01-20T00:00:00.000000Z')"
        )
    finally:
        conn.close()

    store = await Store.open(path)  # upgrades in place
    try:
        assert await store.schema_version() == LATEST
        assert [o.value for o in await store.observations.history("CPI_YOY", "VN")] == [5.23]
        result = await store.observations.ingest(
            Batch("gso", [ObservationIn(indicator="CPI_YOY", area="VN", period="2019-12", value=5.2)])
        )
        assert len(result.revised) == 1 and result.revised[0].previous_value == 5.23
        await store.audit.record("admin", "admin", "test", "x")  # a table of a later migration works
        assert (await store.audit.verify()).ok
    finally:
        await store.close()


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.migrations as m

    good = m.all_migrations()
    broken = [*good[:1], m.Migration(2, "broken", "CREATE TABLE half_done (x); THIS IS NOT SQL;")]
    monkeypatch.setattr(m, "all_migrations", lambda: broken)
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, target=2)
        assert schema_version(conn) == 1
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    finally:
        conn.close()


async def test_a_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    conn = sqlite3.connect(path)
    try:
        with pytest.raises(SchemaTooNew, match="newer than this program knows"):
            migrate(conn)
    finally:
        conn.close()
    with pytest.raises(StoreError, match="newer than this program knows"):
        await Store.open(path)


async def test_opening_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await Store.open(tmp_path / "no" / "such" / "ops.db")


def test_init_db_creates_then_changes_nothing_then_upgrades_an_old_database(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    first = run_cli("init-db", "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "created database" in first.stdout
    before = dump(db)
    again = run_cli("init-db", "--db", str(db))
    assert again.returncode == 0 and "up to date" in again.stdout and "nothing changed" in again.stdout
    assert dump(db) == before

    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(all_migrations()[0].sql + "\nPRAGMA user_version = 1;")
    conn.close()
    upgraded = run_cli("init-db", "--db", str(old))
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded database {old} from schema version 1 to {LATEST}" in upgraded.stdout
    conn = sqlite3.connect(old)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert conn.execute("SELECT count(*) FROM indicators").fetchone()[0] == 40
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_init_db_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("this is not a database, it is a shopping list\n" * 100)
    result = run_cli("init-db", "--db", str(bad))
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr and "Traceback" not in result.stderr
    assert bad.read_text().startswith("this is not a database")
