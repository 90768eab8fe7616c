"""The tests' throwaway PostgreSQL (the server itself: ``bench/pgserver.py``, shared with the benchmarks).

Without Debian's ``postgresql`` package the tests that need it skip, except under CI (``CI`` set), where
they fail: CI's ``make test`` installs it, so a missing server there is a broken setup, not a reason to pass.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import pgserver
from bench.pgserver import SUPERUSER, TEMPLATE_DB, PgServer, PgUnavailable

__all__ = ["SUPERUSER", "TEMPLATE_DB", "PgServer", "require_pg_bin", "start_again", "start_server", "stop_server"]


def require_pg_bin() -> Path:
    try:
        return pgserver.require_pg_bin()
    except PgUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def start_server(kind: type[PgServer] = PgServer, *, prefix: str = "opscentre-pg-") -> PgServer:
    """A started server with the migrated template database (skips without PostgreSQL, fails under CI)."""
    return pgserver.start_server(kind, prefix=prefix, pg_bin=require_pg_bin())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One throwaway PostgreSQL for the test session, started on first use, removed at the end."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of the test's own, which it may stop and start again (the session's is shared)."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def stop_server(server: PgServer) -> None:
    """Stop ``server`` (fast shutdown: every session is ended), keeping its data for start_again."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(timeout=60)


def start_again(server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Start the stopped server on the port it had (the stores' URLs name it)."""
    port = server.port
    monkeypatch.setattr(pgserver, "free_port", lambda: port)
    server.start()
    assert server.port == port


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with the whole PostgreSQL schema, dropped after the test."""
    url = pg_server.create_database(TEMPLATE_DB)
    try:
        yield url
    finally:
        pg_server.drop_database(url)


@pytest.fixture
def pg_empty_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with no schema at all (for the migration tests), dropped after the test."""
    url = pg_server.create_database()
    try:
        yield url
    finally:
        pg_server.drop_database(url)
