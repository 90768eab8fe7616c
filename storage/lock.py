"""Who is collecting on a database: the process identity and the collector lock.

**Process identity.** Every process gets a token when it starts (random, never the same twice);
the runs it begins carry it (``runs.owner``). A pid does not do: in a container the server is
always PID 1, so a restarted server took the runs its killed predecessor left 'running' for its
own and never closed them.

**The collector lock.** One process at a time collects on a database (``serve``, ``demo``,
``collect --local``): it holds an exclusive ``flock`` on the database file itself, so every path to
the file (a symlink, a hard link, a relative path, a bind mount) meets the same lock, and another on
the sidecar file ``<db>.lock`` (``<db>`` with its symlinks resolved), into which it writes who it is
(pid, host, start time, token, command). ``flock`` and SQLite's own ``fcntl`` locks never meet on
Linux. The descriptor on the database file stays open until ``release``, after the store is closed:
closing any descriptor of a file drops every ``fcntl`` lock the process holds on it, SQLite's too.
``flock`` rather than a lease row in SQLite because the kernel drops the lock the instant its
holder dies, SIGKILL included: a restart after a crash never waits for a lease to expire, nothing
needs a heartbeat (which would fail on a full disk), and it holds across PID namespaces on one host. (Like SQLite's own locking it is not
meant for network file systems.) Reading commands take no lock: WAL readers never block.

On PostgreSQL (a ``postgresql://`` URL) there is no file to lock: the same exclusive right is a
session-level advisory lock (``pg_try_advisory_lock``) held on a connection of its own, whose
``application_name`` names the holder (token, command); the server drops it the instant that
connection ends, as the kernel drops a flock. (If the server restarts, the lock is gone with the
session: this replaces the flock for "one collecting process", not the multi-process leases.)
Collector processes among several (``serve --role collector``) take the same lock *shared*: they run
beside each other, never beside an exclusive holder (``serve``, ``demo``, ``collect --local``), and
share the sources by lease rows (storage/repos/leases.py).

So runs left 'running' are easy to tell: those whose owner is neither this process nor the
lock's holder were begun by a process that is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from storage.clock import to_text, utcnow
from storage.dialect import dialect_for
from storage.pg.adapter import CONNECT_TIMEOUT_S, shown
from storage.writes import StoreError


def _new_identity() -> str:
    return secrets.token_hex(12)


PROCESS_ID = _new_identity()  # this process's identity; a forked child makes its own
STARTED_AT = to_text(utcnow())


def _after_fork() -> None:
    global PROCESS_ID, STARTED_AT
    PROCESS_ID, STARTED_AT = _new_identity(), to_text(utcnow())


os.register_at_fork(after_in_child=_after_fork)


@dataclass(frozen=True)
class Holder:
    """Who holds a database's collector lock."""

    owner: str
    pid: int
    host: str
    started_at: str
    command: str

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid} on {self.host}, started {self.started_at})"


class DatabaseBusy(StoreError):
    """Another process is collecting on this database."""

    def __init__(
        self, db: str, holder: Holder | None, unnamed: str = "another process (it has not said who it is yet)"
    ) -> None:
        who = holder.describe() if holder else unnamed
        super().__init__(f"the database {db} is already in use by {who}")
        self.holder = holder


def lock_path(db: str | Path) -> Path:
    """The sidecar that names the holder: one for every path to the file that resolves alike."""
    return Path(f"{Path(db).resolve()}.lock")


class CollectorLock:
    """The exclusive right to collect on the database at ``db``; ``acquire`` or raise DatabaseBusy."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        self.path = lock_path(db)
        self._fd: int | None = None
        self._file: int | None = None  # the database file itself: its flock meets every path to it
        self._pg: psycopg.Connection | None = None

    def acquire(self, command: str, *, shared: bool = False) -> None:
        """Take the lock; ``shared`` (PostgreSQL only): beside other shared holders, never beside an
        exclusive one (collector processes among several, which share the sources by leases)."""
        if not dialect_for(self.db).local_file:  # a server: its advisory lock
            self._acquire_pg(command, shared)
            return
        if shared:
            raise ValueError("a SQLite store has one collecting process: its lock is never shared")
        if self._file is None:
            # Kept open until release, whether or not the lock is had (see the module's docstring).
            with contextlib.suppress(FileNotFoundError):
                self._file = os.open(self.db, os.O_RDONLY | os.O_CLOEXEC)
        if self._file is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Another path to this file is held: its holder named itself beside that path.
                raise DatabaseBusy(
                    self.db, _named(self.db), "another process, through another path to the same file"
                ) from None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
            raise DatabaseBusy(self.db, holder(self.db)) from None
        me = Holder(PROCESS_ID, os.getpid(), socket.gethostname(), STARTED_AT, command)
        with contextlib.suppress(OSError):  # on a full disk the lock still holds; readers then cannot name us
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        self._fd = fd

    def _acquire_pg(self, command: str, shared: bool) -> None:
        name = f"{_APP_PREFIX}{PROCESS_ID} {os.getpid()} {command}"[:63]  # PostgreSQL keeps 63 bytes
        conn = psycopg.connect(self.db, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name=name)
        take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        row = conn.execute(f"SELECT {take}(%s)", (COLLECTOR_LOCK,)).fetchone()
        if not (row and row[0]):
            conn.close()
            raise DatabaseBusy(shown(self.db), holder(self.db))
        self._pg = conn

    @property
    def held(self) -> bool:
        return self._fd is not None or self._pg is not None

    def release(self) -> None:
        if self._pg is not None:
            conn, self._pg = self._pg, None
            conn.close()  # ending the session drops the advisory lock
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # the next reader finds no stale name
            os.close(fd)  # closing drops the flock
        if self._file is not None:
            file, self._file = self._file, None
            os.close(file)  # the store is closed by now (see the module's docstring)


def holder(db: str | Path) -> Holder | None:
    """Who holds the collector lock of ``db`` now (None: nobody).

    Raises DatabaseBusy if it is held by a process that has not written its name yet.
    """
    if not dialect_for(str(db)).local_file:
        return _pg_holder(str(db))
    try:
        fd = os.open(lock_path(db), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held
            try:
                data = json.loads(os.pread(fd, 4096, 0) or b"null")
                return Holder(**data) if isinstance(data, dict) else _unnamed(db)
            except (ValueError, TypeError):
                return _unnamed(db)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _named(db: str | Path) -> Holder | None:
    """Who holds ``db`` by another path: the holder named beside our path, if it is that one."""
    try:
        return holder(db)
    except DatabaseBusy:
        return None


def _unnamed(db: str | Path) -> Holder:
    raise DatabaseBusy(str(db), None)


# pg_try_advisory_lock key: "opsc" "coll" as two 32-bit halves (the migrations and seq use others).
COLLECTOR_LOCK = 0x6F707363_636F6C6C
_APP_PREFIX = "opsc:"  # short: application_name keeps 63 bytes, the command needs most


def _pg_holder(url: str) -> Holder | None:
    """Who holds the collector's advisory lock, from the holding session's application_name."""
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        row = conn.execute(
            "SELECT a.application_name, coalesce(host(a.client_addr), 'local'), a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
            (COLLECTOR_LOCK >> 32, COLLECTOR_LOCK & 0xFFFFFFFF),
        ).fetchone()
    if row is None:
        return None
    name, host, started = row
    parts = str(name).removeprefix(_APP_PREFIX).split(" ", 2)
    if not str(name).startswith(_APP_PREFIX) or len(parts) < 2 or not parts[1].isdigit():
        raise DatabaseBusy(shown(url), None)
    return Holder(parts[0], int(parts[1]), host, to_text(started), parts[2] if len(parts) > 2 else "")
