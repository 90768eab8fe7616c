"""What really differs between the store's two engines, in one place.

The store's SQL is one text for both engines (the subset SQLite 3.40+ and PostgreSQL both accept;
docs/internals.md, "Two engines"). What cannot be one text is here, on one ``Dialect`` object.
``dialect_for`` is the one function that tells the engines apart (by the target: a ``postgresql://``
URL or a file); ``Store.open`` chooses the store's dialect with it, and the store's code asks
``store.dialect``:

- opening the writer's and the reader's connections (and migrating);
- beginning a write transaction (SQLite's ``BEGIN IMMEDIATE``) and a read transaction (PostgreSQL's
  ``REPEATABLE READ READ ONLY``: one snapshot, as SQLite's WAL gives);
- the newest event's seq (SQLite's AUTOINCREMENT counter; PostgreSQL's trigger-numbered seq);
- notifications to other processes (PostgreSQL's ``pg_notify``; none on SQLite);
- ``FOR UPDATE SKIP LOCKED`` (PostgreSQL's; SQLite's writer is alone anyway);
- "now" for leases (the server's clock on PostgreSQL, shared by every process; ours on SQLite);
- the schema version, the integrity check;
- a text field of a JSON column (kept as text on PostgreSQL: the audit chain hashes the exact text);
- the engine's part of the collector lock (``process_lock``: flocks on a SQLite file, an advisory lock
  on PostgreSQL; storage/process_lock.py);
- the ingest's write (``append``: the generic one of storage/ingest.py on SQLite; COPY and set
  operations on PostgreSQL, storage/pg/ingest.py).

The collector lock between processes (``storage/lock.py``) and the CLI's "is there a database file"
handle a target before any store is open: they ask ``dialect_for(target)`` (for its lock, whether it is
a local file), and never parse the target themselves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiosqlite

from storage.clock import to_text, utcnow
from storage.conn import Connection, Reader
from storage.file_lock import FileLock
from storage.ingest import Append
from storage.pg.adapter import PgConnection, PgReader, is_url
from storage.pg.advisory_lock import AdvisoryLock
from storage.pg.ingest import append as pg_append
from storage.process_lock import ProcessLock
from storage.writes import ConstraintError


class SqliteConnection(sqlite3.Connection):
    """sqlite3's connection, raising our ``ConstraintError`` for a write refused as wrong (as the
    PostgreSQL adapter does), with sqlite3's ``IntegrityError`` as its cause."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise ConstraintError(str(exc)) from exc

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise ConstraintError(str(exc)) from exc


def connect_sqlite(path: str, **kwargs: Any) -> sqlite3.Connection:
    """A plain connection to a SQLite store (``SqliteConnection``)."""
    return sqlite3.connect(path, factory=SqliteConnection, **kwargs)


def _sqlite_writer(path: str) -> Connection:
    conn = connect_sqlite(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL: a committed batch survives power loss too, not only a killed process; seq numbers that
    # clients have seen must never come back with other content.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA journal_mode = WAL").fetchone()
    return conn


async def _sqlite_reader(path: str) -> Reader:
    conn: Reader = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA busy_timeout = 10000")
    await conn.execute("PRAGMA query_only = ON")
    return conn


def _pg_writer(url: str) -> Connection:
    return PgConnection(url)


async def _pg_reader(url: str) -> Reader:
    return await PgReader.open(url)


def _sqlite_revive(conn: Connection) -> bool:
    return False  # a file: nothing to reconnect to


def _pg_revive(conn: Connection) -> bool:
    assert isinstance(conn, PgConnection)
    if not conn.broken:
        return False
    conn.reconnect()
    return True


def _sqlite_migrate(conn: Connection) -> tuple[int, int]:
    from storage.migrations import migrate

    assert isinstance(conn, sqlite3.Connection)  # the writer's connection on SQLite (executescript)
    return migrate(conn)


def _pg_migrate(conn: Connection) -> tuple[int, int]:
    from storage.pg import migrate

    assert isinstance(conn, PgConnection)  # the writer's connection on PostgreSQL (storage/pg/adapter.py)
    return migrate.migrate(conn.raw)


@dataclass(frozen=True)
class Dialect:
    name: str
    connect_writer: Callable[[str], Connection]
    open_reader: Callable[[str], Awaitable[Reader]]
    migrate: Callable[[Connection], tuple[int, int]]  # the schema's version before and after
    revive: Callable[[Connection], bool]  # the writer's connection, before each transaction (True: a new one)
    process_lock: Callable[[str], ProcessLock]  # the collector lock's engine part, for a target
    begin_write: str  # the statement that begins the writer's transaction
    begin_read: str  # the statement that begins a read transaction (one snapshot until COMMIT)
    last_seq: str  # the newest event committed (or written by this transaction); one row, one column
    schema_version: str  # one row, one column
    integrity_check: str | None  # rows of one column, "ok" when sound; None: the engine has none
    skip_locked: str  # appended to a SELECT whose rows the transaction will claim
    notifies: bool  # other processes hear of commits (LISTEN/NOTIFY)
    server_clock: bool  # "now" is the server's (one clock for every process)
    local_file: bool  # the database is a file here ("disk full" waits for free space on its file system)
    _json_text: str  # a text field of a JSON text column: {col} and {key}
    append: Append | None = None  # the ingest's write of a checked batch; None: storage/ingest.py's own

    @property
    def is_pg(self) -> bool:
        return self.name == "postgresql"

    def notify(self, conn: Connection, channel: str, payload: str) -> None:
        """Tell other processes' stores (delivered at COMMIT only); nothing on an engine without it."""
        if self.notifies:
            conn.execute("SELECT pg_notify(?, ?)", (channel, payload))

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of ``key`` in the JSON text of ``column`` (both are names of ours, not input)."""
        assert column.replace("_", "").isalnum() and key.replace("_", "").isalnum()
        return self._json_text.format(col=column, key=key)

    def times(self, ttl: timedelta) -> tuple[str, str, dict[str, Any]]:
        """SQL for "now" and "now + ttl", and their (named) parameters."""
        if self.server_clock:
            return "now()", "now() + :ttl * interval '1 second'", {"ttl": ttl.total_seconds()}
        now = utcnow()
        return ":now", ":until", {"now": to_text(now), "until": to_text(now + ttl)}


SQLITE = Dialect(
    name="sqlite",
    connect_writer=_sqlite_writer,
    open_reader=_sqlite_reader,
    migrate=_sqlite_migrate,
    revive=_sqlite_revive,
    process_lock=FileLock,
    begin_write="BEGIN IMMEDIATE",
    begin_read="BEGIN",  # WAL: a read transaction sees one snapshot
    last_seq="SELECT seq FROM sqlite_sequence WHERE name = 'events'",
    schema_version="PRAGMA user_version",
    integrity_check="PRAGMA integrity_check",
    skip_locked="",
    notifies=False,
    server_clock=False,
    local_file=True,
    _json_text="json_extract({col}, '$.{key}')",
)

POSTGRESQL = Dialect(
    name="postgresql",
    connect_writer=_pg_writer,
    open_reader=_pg_reader,
    migrate=_pg_migrate,
    revive=_pg_revive,
    process_lock=AdvisoryLock,
    begin_write="BEGIN",
    begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    # The highest seq (numbered by trigger under a lock this transaction holds once it wrote one).
    last_seq="SELECT greatest(coalesce((SELECT max(seq) FROM events), 0), (SELECT last_seq FROM event_seq_floor))",
    schema_version="SELECT coalesce(max(version), 0) FROM schema_version",
    # No equivalent statement without an extension (pages are checksummed; amcheck needs a superuser).
    integrity_check=None,
    skip_locked=" FOR UPDATE SKIP LOCKED",
    notifies=True,
    server_clock=True,
    local_file=False,
    _json_text="({col}::json ->> '{key}')",
    append=pg_append,
)


def dialect_for(target: str) -> Dialect:
    """The engine of a store's target: PostgreSQL for a ``postgresql://`` URL, else a SQLite file."""
    return POSTGRESQL if is_url(target) else SQLITE
