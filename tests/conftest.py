"""Shared fixtures: a real SQLite file per test, opened through the real Store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Store
from tests.pgkit import pg_empty_url, pg_server, pg_url  # noqa: F401  (fixtures: a throwaway PostgreSQL)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "ops.db")
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
