"""The collector lock of a SQLite store: ``flock`` on the database file and on ``<db>.lock``.

The holder takes an exclusive ``flock`` on the database file itself, so every path to the file (a
symlink, a hard link, a relative path, a bind mount) meets the same lock, and another on the sidecar
file ``<db>.lock`` (``<db>`` with its symlinks resolved), into which it writes who it is (pid, host,
start time, token, command). ``flock`` and SQLite's own ``fcntl`` locks never meet on Linux. The
descriptor on the database file stays open until ``release``, after the store is closed: closing any
descriptor of a file drops every ``fcntl`` lock the process holds on it, SQLite's too. ``flock`` rather
than a lease row in SQLite because the kernel drops the lock the instant its holder dies, SIGKILL
included: a restart after a crash never waits for a lease to expire, nothing needs a heartbeat (which
would fail on a full disk), and it holds across PID namespaces on one host. (Like SQLite's own locking
it is not meant for network file systems.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict
from pathlib import Path

from storage.process_lock import DatabaseBusy, Holder


def lock_path(db: str | Path) -> Path:
    """The sidecar that names the holder: one for every path to the file that resolves alike."""
    return Path(f"{Path(db).resolve()}.lock")


class FileLock:
    """The ``ProcessLock`` (storage/process_lock.py) of the SQLite file at ``db``: never shared."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.path = lock_path(db)
        self._fd: int | None = None
        self._file: int | None = None  # the database file itself: its flock meets every path to it

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, me: Holder, *, shared: bool) -> None:
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
                    self.db, self._named(), "another process, through another path to the same file"
                ) from None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
            raise DatabaseBusy(self.db, self.holder()) from None
        with contextlib.suppress(OSError):  # on a full disk the lock still holds; readers then cannot name us
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        self._fd = fd

    def keep(self, me: Holder, *, shared: bool) -> bool:
        return self.held  # a flock is never dropped while its holder lives

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # the next reader finds no stale name
            os.close(fd)  # closing drops the flock
        if self._file is not None:
            file, self._file = self._file, None
            os.close(file)  # the store is closed by now (see the module's docstring)

    def holder(self) -> Holder | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # held
                try:
                    data = json.loads(os.pread(fd, 4096, 0) or b"null")
                    if isinstance(data, dict):
                        return Holder(**data)
                except (ValueError, TypeError):
                    pass
                raise DatabaseBusy(self.db, None) from None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def _named(self) -> Holder | None:
        """Who holds the file by another path: the holder named beside our path, if it is that one."""
        try:
            return self.holder()
        except DatabaseBusy:
            return None
