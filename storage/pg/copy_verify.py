"""After ``opscentre migrate-store``'s copy (storage/pg/copy.py): the copy read back and compared with
the same SQLite snapshot it was copied from, into a ``CopyReport``: row counts per table, each
payload's sha256 recomputed from the copied bytes, the audit chain recomputed from the copied rows
(storage/audit.py's hashing) and its head, the event high-water mark and the epoch, and a sample of
rows of every table field by field.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from storage.audit import GENESIS, entry_hash
from storage.clock import to_text
from storage.pg.copy_prepare import TABLES, count_rows, pg_columns

SAMPLE_ROWS = 1_000  # rows compared field by field per table keyed by an integer (evenly spread)


@dataclass
class CopyReport:
    source: str
    target: str
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> {"source": n, "copy": n}
    payloads_verified: int = 0
    audit_entries: int = 0
    audit_head_source: str = GENESIS
    audit_head_copy: str = GENESIS
    max_seq_source: int = 0
    max_seq_copy: int = 0
    next_seq_source: int = 1
    next_seq_copy: int = 1
    epoch_source: str | None = None
    epoch_copy: str | None = None
    rows_compared: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def _norm(value: Any, pg_type: str) -> Any:
    """One field as a comparable value: times as instants, dates as ISO text, bytes as bytes."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, memoryview):
        return bytes(value)
    if pg_type.startswith("timestamp") and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    if pg_type == "double precision" and isinstance(value, int):
        return float(value)
    return value


def _first_row_difference(
    table: str, cols: list[str], types: dict[str, str], a: Sequence[Any], b: Sequence[Any] | None
) -> str | None:
    if b is None:
        return f"{table}: row {dict(zip(cols, a, strict=True))!r} is missing from the copy"
    for c, x, y in zip(cols, a, b, strict=True):
        if _norm(x, types[c]) != _norm(y, types[c]):
            keys = ", ".join(f"{k}={v!r}" for k, v in zip(cols, a, strict=True) if k in ("id", "seq", "key", "code"))
            return f"{table} ({keys or 'row'}): {c} is {x!r} in the store but {y!r} in the copy"
    return None


def _sample_keys(src: sqlite3.Connection, table: str, key: str) -> list[int]:
    lo, hi, n = src.execute(f"SELECT min({key}), max({key}), count(*) FROM {table}").fetchone()
    if not n:
        return []
    step = max(1, n // SAMPLE_ROWS)
    # Every step-th row by position, plus the first and the last.
    picked = [r[0] for r in src.execute(f"SELECT {key} FROM {table} ORDER BY {key}").fetchall()[::step]]
    return sorted({lo, hi, *picked})


def _compare_rows(
    src: sqlite3.Connection, conn: psycopg.Connection, table: str, cols: list[str], key: tuple[str, ...]
) -> tuple[int, str | None]:
    """Compare a sample (integer keys) or all rows (other keys, the smaller tables) field by field."""
    types = pg_columns(conn, table)
    col_sql = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    if key in (("id",), ("seq",)):
        ids = _sample_keys(src, table, key[0])
        compared = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            mine = src.execute(
                f"SELECT {', '.join(cols)} FROM {table} WHERE {key[0]} IN ({marks}) ORDER BY {key[0]}", chunk
            ).fetchall()
            theirs = {
                r[cols.index(key[0])]: r
                for r in conn.execute(
                    sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(
                        col_sql, sql.Identifier(table), sql.Identifier(key[0])
                    ),
                    (chunk,),
                ).fetchall()
            }
            for row in mine:
                if diff := _first_row_difference(table, cols, types, row, theirs.get(row[cols.index(key[0])])):
                    return compared, diff
                compared += 1
        return compared, None
    order_pg = sql.SQL(", ").join(
        sql.SQL('{} COLLATE "C"').format(sql.Identifier(k)) if types[k] == "text" else sql.Identifier(k) for k in key
    )
    mine_rows = src.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(key)}")
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT {} FROM {} ORDER BY {}").format(col_sql, sql.Identifier(table), order_pg))
        compared = 0
        for row in mine_rows:
            if diff := _first_row_difference(table, cols, types, row, cur.fetchone()):
                return compared, diff
            compared += 1
    return compared, None


def _chain_head(rows: Iterator[Sequence[Any]], where: str, problems: list[str]) -> tuple[int, str]:
    """Walk an audit chain (id, at text, actor, role, action, target, details, prev_hash, hash)."""
    prev, expected_id, n = GENESIS, 1, 0
    for entry_id, at, actor, role, action, target, details, prev_hash, stored in rows:
        if entry_id != expected_id:
            problems.append(f"audit ({where}): entry {entry_id} found where entry {expected_id} was expected")
        elif prev_hash != prev:
            problems.append(f"audit ({where}): entry {entry_id} does not follow the entry before it")
        elif entry_hash(entry_id, at, actor, role, action, target, details, prev_hash) != stored:
            problems.append(f"audit ({where}): entry {entry_id} does not match its hash")
        if len(problems) > 20:
            break
        prev, expected_id, n = stored, entry_id + 1, n + 1
    return n, prev


def verify_copy(
    src: sqlite3.Connection, conn: psycopg.Connection, columns: dict[str, list[str]], report: CopyReport
) -> CopyReport:
    """Compare the committed copy with the store (the same read snapshot as the copy); problems, in order."""
    problems = report.problems
    for table, _key in TABLES:
        mine = int(src.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        theirs = count_rows(conn, table)
        report.tables[table] = {"source": mine, "copy": theirs}
        if mine != theirs:
            problems.append(f"{table}: {mine} rows in the store, {theirs} in the copy")

    # Events: the last number and the next one, and the epoch the feed's clients resume against.
    report.max_seq_source = int(src.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    seq_row = src.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    report.next_seq_source = max(report.max_seq_source, int(seq_row[0]) if seq_row else 0) + 1
    row = conn.execute(
        "SELECT coalesce(max(seq), 0), greatest(coalesce(max(seq), 0), (SELECT last_seq FROM event_seq_floor)) "
        "FROM events"
    ).fetchone()
    report.max_seq_copy, report.next_seq_copy = (int(row[0]), int(row[1]) + 1) if row else (0, 1)
    if report.max_seq_source != report.max_seq_copy:
        problems.append(
            f"events: the last seq is {report.max_seq_source} in the store, {report.max_seq_copy} in the copy"
        )
    if report.next_seq_source != report.next_seq_copy:
        problems.append(
            f"events: the next seq would be {report.next_seq_source} in the store, {report.next_seq_copy} in the copy"
        )
    epoch = src.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    report.epoch_source = epoch[0] if epoch else None
    epoch_pg = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    report.epoch_copy = epoch_pg[0] if epoch_pg else None
    if report.epoch_source != report.epoch_copy:
        problems.append(f"meta: the epoch is {report.epoch_source!r} in the store, {report.epoch_copy!r} in the copy")

    # The audit chain, recomputed on each side; the copy's times rendered back as the store writes them.
    audit_cols = "id, at, actor, role, action, target, details, prev_hash, hash"
    n_src, report.audit_head_source = _chain_head(
        iter(src.execute(f"SELECT {audit_cols} FROM audit ORDER BY id")), "store", problems
    )
    with conn.cursor() as cur:
        cur.execute(f"SELECT {audit_cols} FROM audit ORDER BY id")
        rows = ((r[0], to_text(r[1]), *r[2:]) for r in cur)
        report.audit_entries, report.audit_head_copy = _chain_head(rows, "copy", problems)
    if (n_src, report.audit_head_source) != (report.audit_entries, report.audit_head_copy):
        problems.append(
            f"audit: the store's chain ends at entry {n_src} ({report.audit_head_source}), "
            f"the copy's at entry {report.audit_entries} ({report.audit_head_copy})"
        )

    # Every payload: its digest recomputed from the copied bytes (server-side cursor: bodies stream).
    with conn.cursor(name="payloads") as cur:
        cur.itersize = 200
        cur.execute("SELECT id, digest, codec, body FROM raw_payloads ORDER BY id")
        for pid, digest, codec, body in cur:
            data = zlib.decompress(body) if codec == "zlib" else bytes(body)
            if hashlib.sha256(data).hexdigest() != digest:
                problems.append(f"raw_payloads: payload {pid}'s bytes in the copy do not hash to its digest {digest}")
                break
            report.payloads_verified += 1

    for table, key in TABLES:
        report.rows_compared[table], diff = _compare_rows(src, conn, table, columns[table], key)
        if diff:
            problems.append(diff)
    conn.rollback()
    return report
