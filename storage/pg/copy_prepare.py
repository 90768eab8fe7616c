"""Before ``opscentre migrate-store`` writes anything (storage/pg/copy.py): the SQLite store opened
read-only and checked, the target connected and found empty (or given the schema), and every table's
columns matched with the target's. Each refusal is a ``MigrateRefused`` that names what is wrong and
leaves both ends as they were.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path

import psycopg
from psycopg import sql

from storage import migrations as sqlite_migrations
from storage.pg import migrate as pg_migrate
from storage.writes import StoreError

# Every table of the store, parents before children (foreign keys), with the key that orders its rows.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meta", ("key",)),
    ("categories", ("code",)),
    ("agencies", ("code",)),
    ("areas", ("code", "valid_from")),
    ("indicators", ("code",)),
    ("raw_payloads", ("id",)),
    ("runs", ("id",)),
    ("observations", ("id",)),
    ("ingests", ("id",)),
    ("rejections", ("ingest_id", "position")),
    ("series_latest", ("indicator", "area", "source")),
    ("events", ("seq",)),
    ("source_state", ("source",)),
    ("alerts", ("id",)),
    ("alert_transitions", ("id",)),
    ("silences", ("id",)),
    ("audit", ("id",)),
    ("source_leases", ("source",)),  # empty on SQLite (one collecting process, no leases)
    ("run_requests", ("id",)),
    ("briefings", ("id",)),
)
# PostgreSQL-only bookkeeping: present in an empty target, not copied.
PG_OWN_TABLES = frozenset({"schema_version", "event_seq_floor"})
SQLITE_INTERNAL = ("sqlite_",)  # sqlite_sequence, sqlite_stat1, ...

CONNECT_TIMEOUT_S = 10


class MigrateRefused(StoreError):
    """Refused before anything was written: a bad URL, a missing or unfit store, a non-empty target."""


def open_source(path: str | Path) -> sqlite3.Connection:
    """The SQLite store, read-only, checked: at this program's schema version and passing its integrity check."""
    p = Path(path)
    if not p.exists():
        raise MigrateRefused(f"no such file: {p}")
    if not p.is_file():
        raise MigrateRefused(f"{p} is not a file")
    uri = f"file:{urllib.parse.quote(str(p.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise MigrateRefused(f"{p} is not an opscentre store ({exc})") from None
        if version == 0 or not has_meta:
            raise MigrateRefused(f"{p} is not an opscentre store (a SQLite file without the store's schema)")
        latest = sqlite_migrations.LATEST
        if version < latest:
            raise MigrateRefused(
                f"the store {p} is at schema version {version}, older than this program's ({latest}): "
                f"upgrade it first with `opscentre init-db --db {p}`"
            )
        if version > latest:
            raise MigrateRefused(
                f"the store {p} is at schema version {version}, newer than this program knows ({latest}): "
                "use the opscentre that wrote it"
            )
        try:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:  # damage bad enough that the check itself stops
            problems = [str(exc)]
        if problems != ["ok"]:
            raise MigrateRefused(f"the store {p} fails its integrity check: {'; '.join(problems[:5])}")
    except BaseException:
        conn.close()
        raise
    return conn


def describe_url(url: str) -> str:
    """The target as shown to people: user@host:port/dbname, never the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<invalid URL>"
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"{user}{info.get('host', 'localhost')}{port}/{info.get('dbname', '')}"


def connect_target(url: str) -> psycopg.Connection:
    if not url.startswith(("postgresql://", "postgres://")):
        raise MigrateRefused(f"--to must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DBNAME), not {url!r}")
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise MigrateRefused(f"invalid PostgreSQL URL: {exc}") from None
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrateRefused(f"cannot connect to {describe_url(url)}: {first}") from None


def _sqlite_tables(src: sqlite3.Connection) -> list[str]:
    rows = src.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    return [r[0] for r in rows if not r[0].startswith(SQLITE_INTERNAL)]


def _sqlite_columns(src: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in src.execute(f"PRAGMA table_info({table})").fetchall()]


def names(conn: psycopg.Connection, query: str) -> list[str]:
    """The names a catalogue query gives (its first column), in its order."""
    return [r[0] for r in conn.execute(query).fetchall()]


def pg_tables(conn: psycopg.Connection) -> list[str]:
    return names(
        conn,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
    )


def pg_columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def count_rows(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def prepare_target(conn: psycopg.Connection) -> None:
    """Give an empty database the schema; refuse one that holds anything, naming what, changing nothing."""
    version = pg_migrate.schema_version(conn)
    conn.rollback()
    if version == 0:
        foreign = pg_tables(conn)
        conn.rollback()
        if foreign:
            raise MigrateRefused(
                f"the target database is not empty: it holds tables that are not an opscentre store "
                f"({', '.join(foreign[:10])}); give migrate-store an empty database"
            )
    if version > pg_migrate.LATEST:
        raise MigrateRefused(
            f"the target database is at schema version {version}, newer than this program knows "
            f"({pg_migrate.LATEST}): use the opscentre that made it"
        )
    held = []
    if version > 0:
        held = [f"{t} ({n} rows)" for t in pg_tables(conn) if t != "schema_version" and (n := count_rows(conn, t))]
        row = conn.execute("SELECT coalesce(max(last_seq), 0) FROM event_seq_floor").fetchone()
        if row and row[0]:
            held.append(f"events numbered up to {row[0]} (pruned)")
        held = [h for h in held if not h.startswith("event_seq_floor ")]  # its one row is there when empty
        conn.rollback()
    if held:
        raise MigrateRefused(
            f"the target database is not empty: it holds {', '.join(held)}; migrate-store copies only into an "
            "empty database, and changed nothing"
        )
    if version < pg_migrate.LATEST:
        pg_migrate.migrate(conn)


def check_schemas(src: sqlite3.Connection, conn: psycopg.Connection) -> dict[str, list[str]]:
    """The columns to copy per table; refuses a store with a table or column the target has no place for."""
    known = {t for t, _ in TABLES}
    unknown = [t for t in _sqlite_tables(src) if t not in known]
    if unknown:
        raise MigrateRefused(f"the store has tables this program cannot copy: {', '.join(unknown)}")
    columns: dict[str, list[str]] = {}
    for table, _key in TABLES:
        have = _sqlite_columns(src, table)
        if not have:
            raise MigrateRefused(f"the store has no table {table}")
        target = pg_columns(conn, table)
        missing = [c for c in have if c not in target]
        if missing:
            raise MigrateRefused(f"the target's table {table} has no column {', '.join(missing)}")
        columns[table] = have
    conn.rollback()
    return columns
