"""Shared fixtures: a real SQLite file per test, opened through the real Store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import Store
from storage.pg.adapter import PgConnection, is_url
from tests.pgkit import pg_empty_url, pg_server, pg_url  # noqa: F401  (fixtures: a throwaway PostgreSQL)

ROOT = Path(__file__).resolve().parent.parent


ENGINES = ("sqlite", "postgresql")


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The store's engine: SQLite, or both in a module that sets ``BOTH_ENGINES = True``."""
    return str(getattr(request, "param", "sqlite"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_ENGINES", False):
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def store_target(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a test's store lives: a SQLite file, or a fresh migrated PostgreSQL database's URL."""
    if engine == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "ops.db")


def raw_db(target: str) -> Any:
    """A plain DB-API connection to a store's database, beside the store (to inject faults, to check
    what it wrote): sqlite3 for a file, the store's own PostgreSQL adapter (autocommit) for a URL."""
    if is_url(target):
        return PgConnection(target)
    return sqlite3.connect(target)


@pytest.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    s = await Store.open(store_target)
    try:
        yield s
    finally:
        await s.close()


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `opscentre` entry point in a child process."""
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd or ROOT,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
