"""What every repository of the store shares: the writer, the reader, the epoch and catalogue.

``Store`` (storage/store.py) is made of the repositories in this package, one per concern, over
one SQLite file: writes go through the writer thread (storage/writer.py), each in a transaction
with the events it appends; reads use the reader connection, so a long ingest never holds up a
snapshot (WAL lets readers see the last committed state).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg

from storage.alerting import Inhibition
from storage.conn import Reader
from storage.dialect import Dialect
from storage.ingest import Catalogue
from storage.models import RunTrigger
from storage.writer import Writer
from storage.writes import RunFinish
from wording import Names

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


class StoreBase:
    """The state the repositories share; ``Store.open`` sets it up."""

    path: str
    epoch: str
    catalogue: Catalogue
    inhibitions: tuple[Inhibition, ...]
    _writer: Writer
    _r: Reader  # or storage/pg/adapter.PgReader, which has the same surface
    dialect: Dialect  # what differs between the engines (storage/dialect.py), chosen by Store.open

    @property
    def is_pg(self) -> bool:
        """Whether the store is on PostgreSQL (what differs is on ``dialect``: see docs/internals.md)."""
        return self.dialect.is_pg

    _read_lock: asyncio.Lock
    _names: Names | None  # ReferenceRepo.names(), read once
    source_agencies: Mapping[str, str]  # source -> the agency it speaks for (the configuration's)
    # (rule, subject) of the open alerts: resolving one that is not open costs no write.
    _open_alerts: set[tuple[str, str]]
    # While writes fail: the ends of runs, and the runs that could not begin, to be written.
    _unended: dict[int, RunFinish]
    _unstarted: list[Unstarted]

    async def names(self) -> Names:
        """What the codes stand for (ReferenceRepo)."""
        raise NotImplementedError

    def _write_failed(self) -> None:
        """Writes fail: start (once) what writes the waiting run records when they can be written."""
        raise NotImplementedError

    @asynccontextmanager
    async def _read_tx(self, conn: Reader) -> AsyncIterator[None]:
        async with self._read_lock:  # one explicit read transaction at a time on the shared reader
            try:
                # Once called, BEGIN is queued on the reader's thread even if this task is cancelled
                # while waiting for it; so the COMMIT below is always queued after it, and shielded.
                await conn.execute(self.dialect.begin_read)
                yield
            finally:
                await asyncio.shield(asyncio.ensure_future(_end_read(conn)))
