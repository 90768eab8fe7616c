"""Numbered schema migrations, tracked in ``PRAGMA user_version``.

``NNNN_name.sql`` files in this package are applied in order, each in its own transaction together
with the version bump, so a database is always at exactly one version, never half-way. How a package
of migrations is found and numbered, and the refusal of a database newer than the program
(``found_in``, ``refuse_newer``), serve PostgreSQL's migrations too (storage/pg/migrate.py); applying
them differs (there: ``schema_version`` rows, under an advisory lock shared by several processes).
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


def found_in(package: str, what: str = "migrations") -> list[Migration]:
    """The ``NNNN_name.sql`` files of ``package`` in order; they must be numbered 1..n."""
    found = []
    for entry in resources.files(package).iterdir():
        if m := re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name):
            found.append(Migration(int(m[1]), m[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{what} are not numbered 1..n: {[m.version for m in found]}")
    return found


def all_migrations() -> list[Migration]:
    return found_in(__package__)


LATEST = len(all_migrations())


class SchemaTooNew(RuntimeError):
    pass


def refuse_newer(version: int, latest: int) -> None:
    """A database at a version this program does not know is not opened (not written by a program that
    cannot read it)."""
    if version > latest:
        raise SchemaTooNew(
            f"the database is at schema version {version}, newer than this program knows ({latest}); "
            "upgrade opscentre before opening it"
        )


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, target: int | None = None) -> tuple[int, int]:
    """Bring the schema to ``target`` (default: the latest). Returns (version before, version after)."""
    target = LATEST if target is None else target
    before = schema_version(conn)
    refuse_newer(before, LATEST)
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
