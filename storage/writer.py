"""The one writing connection, on a thread of its own, with group commit.

Every write is a plain function of a ``Connection`` that runs, whole, in the writer
thread: one hop from the event loop per transaction, not one per statement (with 1,000 sources
polled at once, those hops were most of the cost of a run). Operations that arrive while the
thread is busy share the next transaction, each inside its own savepoint: one failing operation
is rolled back alone, the others commit together, with one fsync.

When the database cannot be written (disk full, I/O error, locked past the busy timeout), the
whole group fails: each caller gets a StoreUnavailable of its own (one exception object raised
in many tasks gets its traceback and context tangled), and ``health`` says since when and why
until writes succeed again. The writer itself never stops on such an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from storage.clock import to_text, utcnow
from storage.conn import Connection
from storage.dialect import Dialect
from storage.pg.adapter import shown
from storage.pg.notify import EVENTS as NOTIFY_EVENTS
from storage.writes import ConstraintError, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[Connection], Any]
MAX_GROUP = 256  # operations per transaction
RECOVERY_HOLD = 5.0  # seconds of writes without a failure before the database counts as writable again
# After "disk full", small writes may get through (the WAL reuses its space) long before a batch
# would: the database counts as writable again only with this much free space as well (or a
# twentieth of a smaller file system).
MIN_FREE_BYTES = 16 * 1024 * 1024

# Primary result codes that mean "this database cannot be written now", not "this operation is wrong".
_UNWRITABLE = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_PROTOCOL,
    sqlite3.SQLITE_NOLFS,
}


def unwritable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be written now (rather than that an operation is wrong)."""
    if isinstance(exc, psycopg.Error):
        # PostgreSQL: the server is gone or going (connection lost, shutting down, too many clients),
        # out of disk or memory; not an error of the statement itself.
        return isinstance(
            exc, psycopg.OperationalError | psycopg.errors.DiskFull | psycopg.errors.InsufficientResources
        ) and not isinstance(exc, psycopg.errors.QueryCanceled)
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and code is not None and (code & 0xFF) in _UNWRITABLE


def _disk_full(exc: BaseException) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or isinstance(exc, psycopg.errors.DiskFull)


@dataclass
class _Pending:
    op: Op
    future: asyncio.Future[Any]


@dataclass
class WriteHealth:
    """Whether writes succeed; while they fail, since when and why."""

    failing_since: datetime | None = None
    error: str | None = None
    failures: int = 0
    disk_full: bool = False
    _last_failure: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failing_since is None

    def problem(self) -> str | None:
        if self.failing_since is None:
            return None
        return f"writes failing since {to_text(self.failing_since)}: {self.error}"


class Writer:
    def __init__(self, path: str, dialect: Dialect) -> None:
        self.path = path
        self.dialect = dialect
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opscentre-writer")
        self._conn: Connection | None = None
        self._queue: list[_Pending] = []
        self._drainer: asyncio.Task[None] | None = None
        self.last_seq = 0  # the newest event committed
        self.on_commit: Callable[[int], Any] | None = None
        self.health = WriteHealth()
        self.on_failure: Callable[[], None] | None = None  # called on each failed transaction
        self.recovery_hold = RECOVERY_HOLD

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._thread, self.dialect.connect_writer, self.path)

    async def call(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in the writer thread outside any transaction (migrating, for one)."""
        assert self._conn is not None
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, self._conn)

    async def run(self, op: Callable[[Connection], T]) -> T:
        """Run ``op`` inside a write transaction; returns what it returns, raises what it raises.

        A cancelled caller does not cancel the operation: once queued it is done (whole) or not at all.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(op, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="opscentre-writer")
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                outcomes, seq = await loop.run_in_executor(self._thread, self._transaction, [p.op for p in group])
            except Exception as exc:  # the transaction as a whole failed (COMMIT refused, disk full)
                self._failed(exc)
                message = _describe(exc)
                for p in group:
                    if not p.future.done():
                        p.future.set_exception(StoreUnavailable(message))
                continue
            except BaseException:  # cancelled (the loop is closing): nobody may wait for ever
                for p in [*group, *self._queue]:
                    if not p.future.done():
                        p.future.set_exception(StoreUnavailable("the database writer stopped"))
                self._queue = []
                raise
            self._succeeded()
            for p, (ok, value) in zip(group, outcomes, strict=True):
                if p.future.done():
                    continue
                if ok:
                    p.future.set_result(value)
                else:
                    p.future.set_exception(value)
            if seq > self.last_seq:
                self.last_seq = seq
                if self.on_commit is not None:
                    result = self.on_commit(seq)
                    if asyncio.iscoroutine(result):
                        await result

    def _transaction(self, ops: list[Op]) -> tuple[list[tuple[bool, Any]], int]:
        """In the writer thread: one transaction, a savepoint per operation."""
        conn = self._conn
        assert conn is not None
        self.dialect.revive(conn)  # the server restarted: an error here is "cannot be written now", as any
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute(self.dialect.begin_write)
        except Exception as exc:
            # A connection the server ended while it was idle (a restart) says so only when used. Nothing
            # of the transaction has run: begin it on a new connection, rather than refuse the group.
            if not (unwritable(exc) and self.dialect.revive(conn)):
                raise
            conn.execute(self.dialect.begin_write)
        try:
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    value = op(conn)
                except Exception as exc:
                    if unwritable(exc):  # the disk, not the operation: SQLite may have ended the transaction
                        raise
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((True, value))
            row = conn.execute(self.dialect.last_seq).fetchone()
            if row and int(row[0]) > self.last_seq:
                # Other processes' stores hear of it (storage/pg/notify.py); delivered at COMMIT only.
                self.dialect.notify(conn, NOTIFY_EVENTS, str(row[0]))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(Exception):  # the connection may be the thing that failed
                    conn.execute("ROLLBACK")
            raise
        return outcomes, int(row[0]) if row else 0

    def _failed(self, exc: Exception) -> None:
        health = self.health
        health._last_failure = time.monotonic()
        health.failures += 1
        health.error = _describe(exc)
        health.disk_full = _disk_full(exc)
        if health.failing_since is None:
            health.failing_since = utcnow()
            if unwritable(exc) or isinstance(exc, sqlite3.Error | psycopg.Error | ConstraintError):
                log.error("the database %s cannot be written: %s", shown(self.path), health.error)
            else:  # not the disk: a bug, worth its traceback
                log.error("a write transaction on %s failed", shown(self.path), exc_info=exc)
        if self.on_failure is not None:
            self.on_failure()

    def _succeeded(self) -> None:
        health = self.health
        if health.failing_since is None or time.monotonic() - health._last_failure < self.recovery_hold:
            return
        if health.disk_full and self.dialect.local_file and not enough_space(self.path):
            return
        log.warning(
            "the database %s can be written again (failing since %s, %d failed transactions)",
            shown(self.path),
            to_text(health.failing_since),
            health.failures,
        )
        self.health = WriteHealth()

    async def close(self) -> None:
        while self._drainer is not None and not self._drainer.done():
            await asyncio.wait({self._drainer})
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
        self._thread.shutdown(wait=True)


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def enough_space(path: str) -> bool:
    """Whether the file system of the database at ``path`` has room again after it was full."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize >= min(MIN_FREE_BYTES, st.f_blocks * st.f_frsize // 20)
