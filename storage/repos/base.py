"""What every repository of the store shares: ``StoreState``, built once by ``Store.open``.

``Store`` (storage/store.py) holds one repository per concern (this package), each a plain object
over the same ``StoreState``: the database (a SQLite file or a PostgreSQL server, storage/dialect.py
says what differs), its writer and reader, the event log's epoch and the catalogue of indicators and
areas. Writes go through the writer's thread (storage/writer.py), each in a transaction with the
events it appends; reads use the reader connection, so a long ingest never holds up a snapshot (each
engine lets a reader see the last committed state while a write is under way).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg

from storage.conn import Reader
from storage.dialect import Dialect
from storage.ingest import Catalogue
from storage.models import RunTrigger
from storage.writer import Writer

Listener = Callable[[int], Awaitable[None] | None]


@dataclass(frozen=True)
class Unstarted:
    """A run that could not begin because the database could not be written."""

    source: str
    trigger: RunTrigger
    requested_by: str | None
    at: datetime
    error: str


async def _end_read(conn: Reader) -> None:
    # no transaction: its BEGIN failed (or, on PostgreSQL, the connection was lost)
    with contextlib.suppress(sqlite3.OperationalError, psycopg.OperationalError):
        await conn.execute("COMMIT")


async def max_seq(conn: Reader) -> int:
    async with conn.execute("SELECT coalesce(max(seq), 0) FROM events") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


class StoreState:
    """The database the repositories share: where it is, its engine, its writer and reader; the event
    log's epoch (set once the store is open) and the catalogue (reloaded when it changes)."""

    def __init__(self, path: str, writer: Writer, reader: Reader) -> None:
        self.path = path
        self.dialect: Dialect = writer.dialect  # what differs between the engines, chosen by Store.open
        self.writer = writer
        self.reader = reader  # aiosqlite's, or storage/pg/adapter.PgReader, which has the same surface
        self.epoch = ""
        self.catalogue = Catalogue((), ())
        self._read_lock = asyncio.Lock()

    @asynccontextmanager
    async def read_tx(self) -> AsyncIterator[Reader]:
        """One read transaction on the shared reader (one at a time), for reads that must agree."""
        conn = self.reader
        async with self._read_lock:
            try:
                # Once called, BEGIN is queued on the reader's thread even if this task is cancelled
                # while waiting for it; so the COMMIT below is always queued after it, and shielded.
                await conn.execute(self.dialect.begin_read)
                yield conn
            finally:
                await asyncio.shield(asyncio.ensure_future(_end_read(conn)))
