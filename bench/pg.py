"""A throwaway PostgreSQL server for the benchmarks: the tests' server (``tests/pgkit.py``), durable.

The tests' server turns ``fsync``, ``synchronous_commit`` and ``full_page_writes`` off (throwaway data,
their time matters); a benchmark that did so would measure commits that never reach the disk, while the
SQLite benchmarks run with ``synchronous=FULL``. So this one starts the same way (``initdb`` in a temp
dir as an unprivileged user, TCP on a free loopback port, stopped with its parent) with PostgreSQL's
durable defaults: every commit is flushed before it is acknowledged, as in production.

    with throwaway_server() as server:
        url = server.create_database(TEMPLATE_DB)  # the whole schema, migrated
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from storage.pg.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests/ is a namespace package at the root, as pytest sees it

from tests import pgkit  # noqa: E402
from tests.pgkit import TEMPLATE_DB, PgServer  # noqa: E402

__all__ = ["TEMPLATE_DB", "DurablePgServer", "pg_version", "throwaway_server"]


class DurablePgServer(PgServer):
    """The tests' server with PostgreSQL's durable defaults (fsync, synchronous_commit, full_page_writes on)."""

    def start(self) -> None:
        for _attempt in range(5):
            self.port = pgkit.free_port()
            settings = {
                "listen_addresses": "127.0.0.1",
                "port": str(self.port),
                "unix_socket_directories": "",
                "max_connections": "200",
            }
            args = [str(self.bin / "postgres"), "-D", str(self.root / "data")]
            for name, value in settings.items():
                args += ["-c", f"{name}={value}"]
            with open(self.root / "server.log", "ab") as log:
                self.proc = subprocess.Popen(
                    args,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    start_new_session=True,  # a Ctrl+C meant for the bench reaches the server only through stop()
                    preexec_fn=pgkit._stop_with_parent if sys.platform == "linux" else None,
                    **self._as_user(),  # type: ignore[call-overload]
                )
            if self._wait_ready():
                return
        raise RuntimeError(f"PostgreSQL did not start; its log:\n{self.log()}")


def pg_version(server: PgServer) -> str:
    with server.admin() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


@contextmanager
def throwaway_server() -> Iterator[PgServer]:
    """A durable throwaway server with the migrated template database; removed on exit.

    Without the server binaries (Debian's ``postgresql``: ``make postgres``) it exits 2 naming them.
    """
    pg_bin = pgkit.find_pg_bin()
    if pg_bin is None:
        raise SystemExit(
            f"no PostgreSQL server binaries under {pgkit.PG_LIB}/<version>/bin (make postgres, or set OPSCENTRE_PG_BIN)"
        )
    server = DurablePgServer(
        bin=pg_bin,
        root=Path(tempfile.mkdtemp(prefix="opscentre-bench-pg-")),
        user=pgkit.server_user(),
        password=secrets.token_urlsafe(18),
    )
    os.chown(server.root, server.user.pw_uid, server.user.pw_gid)  # 0700: the server's user only
    try:
        server.init()
        server.start()
        with server.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
        with psycopg.connect(server.url(TEMPLATE_DB)) as conn:
            migrate(conn)
        with server.admin() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(TEMPLATE_DB)))
        yield server
    finally:
        server.stop()
