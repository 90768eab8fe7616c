"""The audit log of user actions: append-only and hash-chained.

Each entry's hash covers its own fields and the hash of the entry before it, so editing, removing
or reordering entries breaks the chain. The head (count and last hash) is also kept in ``meta``,
which catches entries cut from the end; an admin who writes the head down elsewhere
(``opscentre verify-audit`` prints it) can later detect even a rewrite of the whole log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.clock import from_text, to_text
from storage.conn import Connection, Reader
from storage.models import AuditEntry

GENESIS = "0" * 64


def entry_hash(
    entry_id: int, at: str, actor: str, role: str, action: str, target: str, details: str, prev_hash: str
) -> str:
    canonical = json.dumps(
        [entry_id, at, actor, role, action, target, details, prev_hash], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def canonical_details(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def append(
    conn: Connection,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    details: dict[str, Any],
) -> AuditEntry:
    """Append one entry (in the writer's transaction)."""
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    entry_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at_text, details_text = to_text(at), canonical_details(details)
    digest = entry_hash(entry_id, at_text, actor, role, action, target, details_text, prev)
    conn.execute(
        "INSERT INTO audit (id, at, actor, role, action, target, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)",
        (entry_id, at_text, actor, role, action, target, details_text, prev, digest),
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (f"{entry_id}:{digest}",),
    )
    return AuditEntry(
        id=entry_id, at=at, actor=actor, role=role, action=action, target=target,
        details=json.loads(details_text), prev_hash=prev, hash=digest,
    )  # fmt: skip


def entry_from_row(r: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        id=r[0], at=from_text(r[1]), actor=r[2], role=r[3], action=r[4], target=r[5],
        details=json.loads(r[6]), prev_hash=r[7], hash=r[8],
    )  # fmt: skip


@dataclass
class AuditReport:
    entries: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(conn: Reader, expected_head: str | None = None) -> AuditReport:
    """Walk the whole chain; report every entry that was edited, removed or moved."""
    report = AuditReport()
    prev, expected_id = GENESIS, 1
    async with conn.execute(
        "SELECT id, at, actor, role, action, target, details, prev_hash, hash FROM audit ORDER BY id"
    ) as cur:
        async for r in cur:
            entry_id, at, actor, role, action, target, details, prev_hash, stored = r
            if entry_id != expected_id:
                if entry_id > expected_id:
                    missing = f"{expected_id}" if entry_id == expected_id + 1 else f"{expected_id}..{entry_id - 1}"
                    report.problems.append(
                        f"entry {missing} removed (the log jumps from {expected_id - 1} to {entry_id})"
                    )
                else:
                    report.problems.append(f"entry {entry_id} is out of order (found after entry {expected_id - 1})")
            if prev_hash != prev:
                report.problems.append(f"entry {entry_id} does not follow the entry before it (chain broken)")
            if entry_hash(entry_id, at, actor, role, action, target, details, prev_hash) != stored:
                report.problems.append(f"entry {entry_id} was edited (its content does not match its hash)")
            prev, expected_id = stored, entry_id + 1
            report.entries += 1
    report.head = prev
    async with conn.execute("SELECT value FROM meta WHERE key = 'audit_head'") as cur:
        row = await cur.fetchone()
    if row is not None:
        count, _, head = row[0].partition(":")
        if int(count) != expected_id - 1 or head != prev:
            report.problems.append(
                f"the log ends at entry {expected_id - 1} but its recorded head is entry {count}: entries were removed from the end"
            )
    elif report.entries:
        report.problems.append("the recorded head of the log is missing")
    if expected_head is not None and expected_head != prev:
        report.problems.append(f"the head is {prev}, not the expected {expected_head}")
    return report
