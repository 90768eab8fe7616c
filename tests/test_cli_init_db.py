"""`opscentre init-db` on both engines tells what it did: created the database (or the schema in an
existing empty one), upgraded it from version N to M, or changed nothing. (It used to say "created"
for any PostgreSQL database, however far along, and "upgraded from 0" for an empty SQLite file.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from storage import migrations as sqlite_migrations
from storage.pg import migrate as pg_migrate
from tests.conftest import run_cli

BOTH_ENGINES = True


@pytest.fixture
def empty_target(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database that exists but has no schema: an empty SQLite file, an empty PostgreSQL database."""
    if engine == "postgresql":
        return str(request.getfixturevalue("pg_empty_url"))
    path = tmp_path / "ops.db"
    path.touch()
    return str(path)


def at_version(target: str, engine: str, version: int) -> None:
    """Bring the empty ``target``'s schema to ``version`` only (an older program's database)."""
    if engine == "postgresql":
        with psycopg.connect(target, autocommit=True) as pg:
            assert pg_migrate.migrate(pg, version) == (0, version)
        return
    lite = sqlite3.connect(target, isolation_level=None)
    try:
        assert sqlite_migrations.migrate(lite, version) == (0, version)
    finally:
        lite.close()


def latest(engine: str) -> int:
    return pg_migrate.LATEST if engine == "postgresql" else sqlite_migrations.LATEST


def init_db(target: str) -> str:
    done = run_cli("init-db", "--db", target)
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.split())


def test_init_db_on_an_existing_empty_database_creates_the_schema_then_changes_nothing(
    engine: str, empty_target: str
) -> None:
    first = init_db(empty_target)
    assert "created the schema in database" in first and f"(schema version {latest(engine)};" in first, first
    again = init_db(empty_target)
    assert "created" not in again and "upgraded" not in again, again
    assert f"is up to date (schema version {latest(engine)}); nothing changed" in again, again


def test_init_db_on_an_older_database_says_from_which_version_it_upgraded(engine: str, empty_target: str) -> None:
    at_version(empty_target, engine, 1)
    said = init_db(empty_target)
    assert f"from schema version 1 to {latest(engine)}" in said and said.startswith("upgraded database"), said
    assert "created" not in said
    assert "nothing changed" in init_db(empty_target)


def test_init_db_on_a_new_sqlite_file_says_created(tmp_path: Path) -> None:
    said = init_db(str(tmp_path / "new.db"))
    assert said.startswith(f"created database {tmp_path / 'new.db'} (schema version {sqlite_migrations.LATEST};")
