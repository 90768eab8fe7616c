"""Shared fixtures: a real SQLite file per test, opened through the real Store."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import Store
from storage.dialect import connect_sqlite, dialect_for
from storage.pg.adapter import PgConnection
from tests.pgkit import own_server, pg_empty_url, pg_server, pg_url  # noqa: F401  (fixtures: a throwaway PostgreSQL)

ROOT = Path(__file__).resolve().parent.parent


ENGINES = ("sqlite", "postgresql")


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The store's engine: SQLite, or both in a module that sets ``BOTH_ENGINES = True``."""
    return str(getattr(request, "param", "sqlite"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_ENGINES", False):
        metafunc.parametrize("engine", ENGINES, indirect=True)


PG_FIXTURES = {"pg_server", "pg_url", "pg_empty_url", "own_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``pg`` tier by what a test uses: a PostgreSQL fixture, or the store on ``postgresql``.
    (``browser`` and ``slow`` are marked where the tests are written: only the module knows.)

    Then the modules holding slow or browser tests go first, each kept whole (its module fixtures
    set up once): the workers start the minute-long scenarios at once and fill in around them with
    the short tests, instead of one worker running a long test alone at the end."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("engine") == "postgresql"
        if names & PG_FIXTURES or on_pg:
            item.add_marker(pytest.mark.pg)
    heavy = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("browser")}
    items.sort(key=lambda item: item.path not in heavy)  # stable: the order within each module stays


@pytest.fixture
def store_target(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a test's store lives: a SQLite file, or a fresh migrated PostgreSQL database's URL."""
    if engine == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "ops.db")


def raw_db(target: str) -> Any:
    """A plain DB-API connection to a store's database, beside the store (to inject faults, to check
    what it wrote): sqlite3 for a file, the store's own PostgreSQL adapter (autocommit) for a URL."""
    if dialect_for(target).is_pg:
        return PgConnection(target)
    return connect_sqlite(target)


@pytest.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    s = await Store.open(store_target)
    try:
        yield s
    finally:
        await s.close()


def run_cli(
    *args: str, cwd: Path | None = None, input: str | None = None, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `opscentre` command (``cli.main.main``) in this process, as a child process would:
    its exit code, what it printed to stdout and stderr; an uncaught exception is exit 1 with its
    traceback on stderr, as Python itself would give. ``env``: variables set (or, given None,
    removed) while it runs.

    Called from a test's event loop, a thread of its own runs it, so the command's loop never meets
    the test's; it cannot set signal handlers there (only the main thread may), so such commands need
    a sync test or ``run_cli_process``, which runs the installed entry point for real. In-process
    saves the interpreter's start and the imports: about 0.9 s of CPU a call.
    """
    from cli.main import main

    stdout, stderr = io.StringIO(), io.StringIO()
    code: list[int] = []

    def run() -> None:
        try:
            code.append(main(list(args)))
        except SystemExit as exc:  # argparse: --help, usage errors
            code.append(exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1))
            if isinstance(exc.code, str):
                stderr.write(exc.code + "\n")
        except BaseException:
            stderr.write(traceback.format_exc())
            code.append(1)

    with (
        _CLI_LOCK,
        contextlib.chdir(cwd or ROOT),
        _environ(env or {}),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        saved_stdin = sys.stdin
        sys.stdin = io.StringIO(input or "")
        try:
            if _loop_running():
                worker = threading.Thread(target=run, name="opscentre-cli")
                worker.start()
                worker.join(timeout=120)
                if worker.is_alive():
                    raise subprocess.TimeoutExpired(["opscentre", *args], 120)
            else:
                run()
        finally:
            sys.stdin = saved_stdin
    return subprocess.CompletedProcess(["opscentre", *args], code[0], stdout.getvalue(), stderr.getvalue())


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_CLI_LOCK = threading.Lock()  # stdout, stderr, stdin and the directory are the process's: one command at a time


@contextlib.contextmanager
def _environ(changes: dict[str, str | None]) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in changes}
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_cli_process(*args: str, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `opscentre` entry point (the console script in the environment) in a child process."""
    env = {**os.environ, "PYTHONUTF8": "1"}
    exe = Path(sys.executable).with_name("opscentre")
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd or ROOT,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
