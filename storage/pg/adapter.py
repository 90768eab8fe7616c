"""PostgreSQL connections with the surface the store's repositories use on SQLite.

The repositories are written against ``sqlite3.Connection`` (the writer thread) and
``aiosqlite.Connection`` (the reader); these adapters present the same calls over psycopg 3, so
the repositories stay one text for both engines:

- statements are translated once per text (storage/pg/translate.py);
- binding is client-side (``ClientCursor``): the store's SQL has untyped NULL parameters
  (``?3 IS NULL OR source = ?3``) and text times compared with timestamptz columns, which
  server-side binding would need a type for;
- results look like SQLite's, as psycopg loads them (the loaders of ``STORE_TYPES``, on both
  connections): a timestamptz is the store's time text (storage/clock.py ``to_text``), a date its ISO
  text, a numeric (``sum`` of a bigint) an int or float;
- a unique or foreign key violation, or a trigger refusing a change, is raised as our
  ``ConstraintError`` (storage/writes.py; the operation's fault), with psycopg's as its cause; losing the server is ``psycopg.OperationalError``, which the writer
  counts as "cannot be written now" (storage/writer.py ``unwritable``) and after which it
  reconnects by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import AsyncClientCursor, ClientCursor
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import AdaptersMap, Loader
from psycopg.pq import Format

from storage.clock import to_text
from storage.pg.translate import translate
from storage.writes import ConstraintError

Params = Sequence[Any] | Mapping[str, Any] | None
CONNECT_TIMEOUT_S = 10


def is_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def shown(target: str) -> str:
    """A store's path or URL as it may be told (logs, alerts every feed role sees): no password."""
    if not is_url(target):
        return target
    try:
        parts = psycopg.conninfo.conninfo_to_dict(target)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database (unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    # A multi-host URL (a primary and its standby) comes back as "h1,h2" and "p1,p2", or one port for all.
    hosts = str(parts.get("host", "")).split(",")
    ports = str(parts.get("port", "")).split(",")
    ports = ports * len(hosts) if len(ports) == 1 else ports
    where = ",".join(f"{h}:{p}" if p else h for h, p in zip(hosts, ports, strict=False))
    return f"postgresql://{user}{where}/{parts.get('dbname', '')}"


class _Reshaped(Loader):
    """psycopg's own text loader for the type, its value then given the shape the store reads on SQLite."""

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        own = psycopg.adapters.get_loader(oid, Format.TEXT)
        assert own is not None, f"psycopg has no loader for type {oid}"
        self._own = own(oid, context)


class TimeTextLoader(_Reshaped):
    """timestamptz: the store's time text (what the SQLite store holds)."""

    def load(self, data: Buffer) -> str:
        return to_text(self._own.load(data))


class DateTextLoader(_Reshaped):
    """date: its ISO text."""

    def load(self, data: Buffer) -> str:
        return str(self._own.load(data).isoformat())


class NumberLoader(Loader):
    """numeric (a ``sum`` of a bigint): an int when whole, else a float, as SQLite's arithmetic gives."""

    def load(self, data: Buffer) -> int | float:
        value = Decimal(str(data, "utf-8"))
        return int(value) if value == value.to_integral_value() else float(value)


# The types of the store's connections (the writer's and the reader's): psycopg's, with the loaders above.
STORE_TYPES = AdaptersMap(psycopg.adapters)
STORE_TYPES.register_loader("timestamptz", TimeTextLoader)
STORE_TYPES.register_loader("date", DateTextLoader)
STORE_TYPES.register_loader("numeric", NumberLoader)


def _integrity(exc: psycopg.Error) -> ConstraintError:
    return ConstraintError(str(exc).strip())


# The operation's fault, as a constraint on SQLite: a constraint, or a trigger refusing a change
# (the append-only tables, the event seq: SQLSTATE 55000, storage/pg/migrations).
_REFUSED = (psycopg.IntegrityError, psycopg.errors.ObjectNotInPrerequisiteState)


def connect_sync(url: str) -> psycopg.Connection[Any]:
    # autocommit: the writer sends BEGIN / SAVEPOINT / COMMIT itself, as it does on SQLite.
    conn = psycopg.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, context=STORE_TYPES, cursor_factory=ClientCursor
    )
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


class Cursor:
    """The result of ``PgConnection.execute``: rows already fetched, as sqlite3's cursor gives them."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = None  # not on PostgreSQL: call sites use RETURNING

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class PgConnection:
    """The writer thread's connection (sqlite3.Connection's surface) over a sync psycopg connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.raw = connect_sync(url)

    @property
    def broken(self) -> bool:
        return self.raw.broken or self.raw.closed

    def reconnect(self) -> None:
        if not self.raw.closed:
            self.raw.close()
        self.raw = connect_sync(self.url)

    @property
    def in_transaction(self) -> bool:
        return not self.broken and self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Params = None) -> Cursor:
        st = translate(sql)
        try:
            with self.raw.cursor() as cur:
                cur.execute(st.sql, st.args(params))
                return Cursor(cur.fetchall() if cur.description else [], cur.rowcount)
        except _REFUSED as exc:
            raise _integrity(exc) from exc

    def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        st = translate(sql)
        try:
            with self.raw.cursor() as cur:
                cur.executemany(st.sql, [st.args(p) for p in seq])
                return Cursor([], cur.rowcount)
        except _REFUSED as exc:
            raise _integrity(exc) from exc

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def close(self) -> None:
        self.raw.close()


class AsyncCursor:
    """What ``PgReader.execute`` gives: awaitable, an async context manager, async-iterable."""

    def __init__(self, reader: PgReader, sql: str, params: Params) -> None:
        self._reader, self._sql, self._params = reader, sql, params
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self.rowcount = -1

    async def _run(self) -> AsyncCursor:
        self._rows, self.rowcount = await self._reader._execute(self._sql, self._params)
        return self

    def __await__(self) -> Any:
        return self._run().__await__()

    async def __aenter__(self) -> AsyncCursor:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    async def __aiter__(self) -> AsyncIterator[tuple[Any, ...]]:
        while (row := await self.fetchone()) is not None:
            yield row


class PgReader:
    """The reader (aiosqlite.Connection's surface) over an async psycopg connection.

    A read transaction is begun with the dialect's ``begin_read`` (storage/dialect.py): read-only
    REPEATABLE READ, one snapshot for every statement until ``COMMIT``, as a read transaction on
    SQLite's WAL gives. A connection lost (server restarted) is
    replaced before the next statement; a statement outside a transaction is retried once on the new
    connection (reads change nothing), one inside fails as the transaction's snapshot is gone.
    """

    def __init__(self, url: str, conn: psycopg.AsyncConnection[Any]) -> None:
        self.url = url
        self._conn = conn
        self._lock = asyncio.Lock()  # one statement at a time on the connection, as aiosqlite's thread does

    @classmethod
    async def open(cls, url: str) -> PgReader:
        return cls(url, await cls._connect(url))

    @staticmethod
    async def _connect(url: str) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            context=STORE_TYPES,
            cursor_factory=AsyncClientCursor,
        )
        await conn.execute("SET TIME ZONE 'UTC'")
        await conn.execute("SET default_transaction_read_only = on")
        return conn

    def execute(self, sql: str, params: Params = None) -> AsyncCursor:
        return AsyncCursor(self, sql, params)

    async def _execute(self, sql: str, params: Params) -> tuple[list[tuple[Any, ...]], int]:
        st = translate(sql)
        async with self._lock:
            if self._conn.broken or self._conn.closed:
                self._conn = await self._connect(self.url)
            idle = self._conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            for attempt in (1, 2):
                try:
                    async with self._conn.cursor() as cur:
                        await cur.execute(st.sql, st.args(params))
                        return (await cur.fetchall() if cur.description else []), cur.rowcount
                except psycopg.OperationalError:
                    if attempt == 2 or not idle or not (self._conn.broken or self._conn.closed):
                        raise
                    self._conn = await self._connect(self.url)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self._conn.close()
