"""Numbered schema migrations, tracked in ``PRAGMA user_version``.

``NNNN_name.sql`` files in this package are applied in order, each in its own transaction together
with the version bump, so a database is always at exactly one version, never half-way.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def all_migrations() -> list[Migration]:
    found = []
    for entry in resources.files(__package__).iterdir():
        if m := re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name):
            found.append(Migration(int(m[1]), m[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations are not numbered 1..n: {[m.version for m in found]}")
    return found


LATEST = len(all_migrations())


class SchemaTooNew(RuntimeError):
    pass


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, target: int | None = None) -> tuple[int, int]:
    """Bring the schema to ``target`` (default: the latest). Returns (version before, version after)."""
    target = LATEST if target is None else target
    before = schema_version(conn)
    if before > LATEST:
        raise SchemaTooNew(
            f"the database is at schema version {before}, newer than this program knows ({LATEST}); "
            "upgrade opscentre before opening it"
        )
    for m in all_migrations():
        if before < m.version <= target:
            # executescript commits anything pending first; the script runs as one transaction.
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{m.sql}\nPRAGMA user_version = {m.version};\nCOMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
    return before, max(before, target)
