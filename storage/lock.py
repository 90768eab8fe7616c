"""Who is collecting on a database: the process identity and the collector lock.

**Process identity.** Every process gets a token when it starts (random, never the same twice);
the runs it begins carry it (``runs.owner``). A pid does not do: in a container the server is
always PID 1, so a restarted server took the runs its killed predecessor left 'running' for its
own and never closed them.

**The collector lock.** One process at a time collects on a database (``serve``, ``demo``,
``collect --local``): it holds an exclusive ``flock`` on the sidecar file ``<db>.lock`` and writes
who it is into it (pid, host, start time, token, command). ``flock`` rather than a lease row in
SQLite because the kernel drops the lock the instant its holder dies, SIGKILL included: a restart
after a crash never waits for a lease to expire, nothing needs a heartbeat (which would fail on a
full disk), and it holds across PID namespaces on one host. (Like SQLite's own locking it is not
meant for network file systems.) Reading commands take no lock: WAL readers never block.

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

from storage.clock import to_text, utcnow
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

    def __init__(self, db: str, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process (it has not said who it is yet)"
        super().__init__(f"the database {db} is already in use by {who}")
        self.holder = holder


def lock_path(db: str | Path) -> Path:
    return Path(f"{db}.lock")


class CollectorLock:
    """The exclusive right to collect on the database at ``db``; ``acquire`` or raise DatabaseBusy."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        self.path = lock_path(db)
        self._fd: int | None = None

    def acquire(self, command: str) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseBusy(self.db, holder(self.db)) from None
        me = Holder(PROCESS_ID, os.getpid(), socket.gethostname(), STARTED_AT, command)
        with contextlib.suppress(OSError):  # on a full disk the lock still holds; readers then cannot name us
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # the next reader finds no stale name
            os.close(fd)  # closing drops the flock


def holder(db: str | Path) -> Holder | None:
    """Who holds the collector lock of ``db`` now (None: nobody).

    Raises DatabaseBusy if it is held by a process that has not written its name yet.
    """
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


def _unnamed(db: str | Path) -> Holder:
    raise DatabaseBusy(str(db), None)
