"""Numbered migrations of the PostgreSQL store, recorded in ``schema_version``.

``storage/pg/migrations/NNNN_name.sql`` are applied in order, each in its own transaction together with
its ``schema_version`` row, so a database is always at exactly one version, never half-way. Applying
again is a no-op. Several processes may start at once: each transaction first takes a transaction-level
advisory lock, then reads the version, so a migration runs once and the others wait and find it done.
(Driver choice, psycopg 3 over asyncpg: see ``storage/pg/__init__.py``.)
"""

from __future__ import annotations

import psycopg

from storage.migrations import Migration, SchemaTooNew, found_in, refuse_newer

__all__ = ["LATEST", "Migration", "SchemaTooNew", "all_migrations", "migrate", "schema_version"]

# pg_advisory_xact_lock key: "opsc" + "migr" as two 32-bit halves, unlikely to meet anyone else's lock.
MIGRATION_LOCK = 0x6F707363_6D696772

SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY CHECK (version >= 1),
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def all_migrations() -> list[Migration]:
    return found_in("storage.pg.migrations", "PostgreSQL migrations")


LATEST = len(all_migrations())


def schema_version(conn: psycopg.Connection) -> int:
    """The version the database is at: 0 when it has no schema_version table yet."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not (exists and exists[0]):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection, target: int | None = None) -> tuple[int, int]:
    """Bring the schema to ``target`` (default: the latest). Returns (version before, version after).

    ``conn`` must not be inside a transaction; it is left outside one.
    """
    target = LATEST if target is None else target
    if not 0 <= target <= LATEST:
        raise ValueError(f"no PostgreSQL schema version {target}: this program knows 0..{LATEST}")
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("migrate() needs a connection outside any transaction")
    before = schema_version(conn)
    conn.rollback()  # end the read's implicit transaction (non-autocommit connections)
    refuse_newer(before, LATEST)
    for m in all_migrations():
        if m.version > target:
            break
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(SCHEMA_VERSION_DDL)
            if schema_version(conn) >= m.version:
                continue  # done before, or by another process while this one waited for the lock
            conn.execute(m.sql.encode())  # several statements, no parameters: sent as one simple query
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (m.version, m.name))
    return before, max(before, target)
