"""The one writing connection, on a thread of its own, with group commit.

Every write is a plain function of a ``sqlite3.Connection`` that runs, whole, in the writer
thread: one hop from the event loop per transaction, not one per statement (with 1,000 sources
polled at once, those hops were most of the cost of a run). Operations that arrive while the
thread is busy share the next transaction, each inside its own savepoint: one failing operation
is rolled back alone, the others commit together, with one fsync.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
MAX_GROUP = 256  # operations per transaction


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL: a committed batch survives power loss too, not only a killed process; seq numbers that
    # clients have seen must never come back with other content.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA journal_mode = WAL").fetchone()
    return conn


@dataclass
class _Pending:
    op: Op
    future: asyncio.Future[Any]


class Writer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opscentre-writer")
        self._conn: sqlite3.Connection | None = None
        self._queue: list[_Pending] = []
        self._drainer: asyncio.Task[None] | None = None
        self.last_seq = 0  # the newest event committed
        self.on_commit: Callable[[int], Any] | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._thread, connect, self.path)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the writer thread outside any transaction (migrating, for one)."""
        assert self._conn is not None
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, self._conn)

    async def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
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
            except BaseException as exc:  # the transaction as a whole failed (COMMIT refused, disk full)
                for p in group:
                    if not p.future.done():
                        p.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
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
        outcomes: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    value = op(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((True, value))
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes, int(row[0]) if row else 0

    async def close(self) -> None:
        while self._drainer is not None and not self._drainer.done():
            await asyncio.wait({self._drainer})
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
        self._thread.shutdown(wait=True)
