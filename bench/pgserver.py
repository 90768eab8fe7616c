"""A throwaway PostgreSQL server for the tests and the benchmarks: Debian's ``postgresql`` package
(``make postgres``). The tests' fixtures are ``tests/pgkit.py``; the benchmarks' durable variant is
``DurablePgServer`` below.

The test session starts one server of its own (``initdb`` in a temp dir, ``postgres`` on a free loopback port,
TCP only, no Unix socket) and stops it at the end; no test relies on a server the machine happens to run.
Each test gets a fresh database copied from a template (``CREATE DATABASE ... TEMPLATE``, a file copy:
much faster than running the migrations again).

PostgreSQL refuses to run as root. Run as root (containers, CI), the server runs as ``opscentre-test``,
a system user made for it (``useradd --system``) when missing, not as ``nobody``: ``nobody`` is shared
by every daemon that drops its privileges, and Debian wants it to own no files, while a data directory
must be owned by the server's user. Run as anyone else, the server runs as that user.

Without the package ``require_pg_bin`` raises ``PgUnavailable``: the tests that need it skip, except
under CI (``CI`` set), where they fail (tests/pgkit.py); a benchmark exits naming the package.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import psycopg
from psycopg import sql

from storage.pg.migrate import migrate

TEST_USER = "opscentre-test"  # the unprivileged user the server runs as when the tests run as root
SUPERUSER = "opscentre"  # the server's own superuser (a role inside PostgreSQL, not a system user)
TEMPLATE_DB = "opscentre_migrated"  # every migration applied: the copy each test starts from
START_TIMEOUT_S = 60.0  # generous: two noisy cores, several test runs at once
PG_LIB = Path("/usr/lib/postgresql")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def find_pg_bin() -> Path | None:
    """The newest PostgreSQL's bin directory: $OPSCENTRE_PG_BIN, else /usr/lib/postgresql/<ver>/bin."""
    given = os.environ.get("OPSCENTRE_PG_BIN")
    if given:
        return Path(given) if (Path(given) / "postgres").is_file() else None
    found = [
        d / "bin"
        for d in PG_LIB.glob("*")
        if re.fullmatch(r"\d+", d.name) and (d / "bin" / "postgres").is_file() and (d / "bin" / "initdb").is_file()
    ]
    return max(found, key=lambda b: int(b.parent.name), default=None)


class PgUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed (Debian's ``postgresql``: ``make postgres``)."""


def require_pg_bin() -> Path:
    found = find_pg_bin()
    if found is None:
        raise PgUnavailable(
            f"no PostgreSQL server binaries under {PG_LIB}/<version>/bin (make postgres, or set OPSCENTRE_PG_BIN)"
        )
    return found


def server_user() -> pwd.struct_passwd:
    """Who the server runs as: this user, or ``opscentre-test`` (made when missing) when this is root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        pass
    made = subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            TEST_USER,
        ],
        capture_output=True,
        text=True,
    )
    try:
        # Another test run may have made it at the same moment (useradd then fails): either way it exists now.
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        raise RuntimeError(f"cannot create the system user {TEST_USER}: {made.stderr.strip()}") from None


def _stop_with_parent() -> None:
    """In the server's child process: get SIGINT (PostgreSQL's fast shutdown) when the test process dies.

    So a test run killed with -9 leaves no server running. Runs after subprocess has switched user:
    a change of user clears this setting.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bin: Path
    root: Path  # the temp dir: data/, the log, owned by the server's user
    user: pwd.struct_passwd
    password: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    version: int = 0
    _dbs: list[str] = field(default_factory=list)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True, connect_timeout=10)

    def _as_user(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _run(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, cwd=self.root, **self._as_user())  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        # scram on loopback, not trust: any local user could connect to a trust server while tests run.
        self._run(
            str(self.bin / "initdb"),
            "--pgdata", str(self.root / "data"),
            "--username", SUPERUSER,
            "--pwfile", str(pwfile),
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        self.version = int((self.root / "data" / "PG_VERSION").read_text().strip())

    # Throwaway data: durability buys nothing here and costs the tests their time (the benchmarks'
    # server, DurablePgServer, keeps PostgreSQL's defaults).
    durability: ClassVar[dict[str, str]] = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

    def start(self) -> None:
        """Start on a free port; another process may take the port first, then try another."""
        for _attempt in range(5):
            self.port = free_port()
            settings = {
                "listen_addresses": "127.0.0.1",
                "port": str(self.port),
                "unix_socket_directories": "",
                "max_connections": "200",
                **self.durability,
            }
            args = [str(self.bin / "postgres"), "-D", str(self.root / "data")]
            for name, value in settings.items():
                args += ["-c", f"{name}={value}"]
            log = open(self.root / "server.log", "ab")  # the server writes it until it stops
            self.proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,  # a Ctrl+C meant for pytest or a bench reaches the server only through stop()
                preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
                **self._as_user(),  # type: ignore[call-overload]
            )
            log.close()
            if self._wait_ready():
                return
        raise RuntimeError(f"PostgreSQL did not start; its log:\n{self.log()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            try:
                with psycopg.connect(self.url(), connect_timeout=5):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"PostgreSQL did not accept connections within {START_TIMEOUT_S} s; its log:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: ends sessions, no waiting for clients
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, template: str = "template1") -> str:
        """A new, uniquely named database copied from ``template``; its URL."""
        name = f"t_{secrets.token_hex(6)}"
        # FILE_COPY (PostgreSQL 15+) copies the template's files at once: with fsync off, the quick way
        # for small databases (the default, WAL_LOG, writes every page to the WAL).
        strategy = sql.SQL(" STRATEGY FILE_COPY") if self.version >= 15 else sql.SQL("")
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
                + strategy
            )
        self._dbs.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            # FORCE: a test may leave a connection (or a killed subprocess's) behind.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def start_server(
    kind: type[PgServer] = PgServer, *, prefix: str = "opscentre-pg-", pg_bin: Path | None = None
) -> PgServer:
    """A started server of ``kind`` (the benches' is durable) with the migrated template database."""
    pg_bin = pg_bin if pg_bin is not None else require_pg_bin()
    user = server_user()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chown(root, user.pw_uid, user.pw_gid)  # mkdtemp makes it 0700: the server's user only
    server = kind(bin=pg_bin, root=root, user=user, password=secrets.token_urlsafe(18))
    try:
        server.init()
        server.start()
        # The template every test's database is copied from: the whole schema, migrated once.
        with server.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
        with psycopg.connect(server.url(TEMPLATE_DB)) as conn:
            migrate(conn)
        with server.admin() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(TEMPLATE_DB)))
    except BaseException:
        server.stop()
        raise
    return server


# --- the benchmarks' server: durable, as in production -------------------------------------------------


class DurablePgServer(PgServer):
    """The tests' server with PostgreSQL's durable defaults (fsync, synchronous_commit, full_page_writes on)."""

    # PostgreSQL's own defaults: every commit flushed before it is acknowledged, as in production.
    durability: ClassVar[dict[str, str]] = {}


def pg_version(server: PgServer) -> str:
    with server.admin() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


@contextmanager
def throwaway_server() -> Iterator[PgServer]:
    """A durable throwaway server with the migrated template database; removed on exit.

    Without the server binaries (Debian's ``postgresql``: ``make postgres``) it exits 2 naming them.
    """
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise SystemExit(
            f"no PostgreSQL server binaries under {PG_LIB}/<version>/bin (make postgres, or set OPSCENTRE_PG_BIN)"
        )
    server = start_server(DurablePgServer, prefix="opscentre-bench-pg-", pg_bin=pg_bin)
    try:
        yield server
    finally:
        server.stop()
