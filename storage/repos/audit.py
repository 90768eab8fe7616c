"""The hash-chained audit log, and the database's own checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage import audit as audit_log
from storage.audit import AuditReport
from storage.clock import utcnow
from storage.models import (
    AuditEntry,
)
from storage.repos.base import StoreState


class AuditLog:
    """Appends to the hash chain go through the writer, one entry per transaction (with what it records,
    where an operation audits itself: storage/alerting.py); the checks read on the reader."""

    def __init__(self, state: StoreState) -> None:
        self._state = state

    async def record(
        self, actor: str, role: str, action: str, target: str, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        extra = details or {}
        return await self._state.writer.run(
            lambda conn: audit_log.append(conn, utcnow(), actor, role, action, target, extra)
        )

    async def entries(self, limit: int = 1000) -> list[AuditEntry]:
        sql = "SELECT id, at, actor, role, action, target, details, prev_hash, hash FROM audit ORDER BY id DESC LIMIT ?"
        async with self._state.reader.execute(sql, (limit,)) as cur:
            return [audit_log.entry_from_row(r) for r in await cur.fetchall()]

    async def find(self, actor: str, idempotency_key: str, actions: Sequence[str] | None = None) -> AuditEntry | None:
        """The entry of ``actor``'s command with this idempotency key, if it was already done
        (only entries of ``actions``, when given: a refused attempt does not use the key up)."""
        wanted = list(actions or [])
        only = f"AND action IN ({','.join('?' * len(wanted))}) " if wanted else ""
        sql = (
            "SELECT id, at, actor, role, action, target, details, prev_hash, hash FROM audit "
            f"WHERE actor = ? AND {self._state.dialect.json_text('details', 'idempotency_key')} = ? {only}ORDER BY id LIMIT 1"
        )
        async with self._state.reader.execute(sql, (actor, idempotency_key, *wanted)) as cur:
            row = await cur.fetchone()
        return audit_log.entry_from_row(row) if row else None

    async def verify(self, expected_head: str | None = None) -> AuditReport:
        return await audit_log.verify(self._state.reader, expected_head)

    async def dangling_references(self) -> list[str]:
        """Observations pointing at an indicator, run or payload that does not exist (should be none)."""
        checks = {
            "indicator": "SELECT count(*) FROM observations WHERE indicator NOT IN (SELECT code FROM indicators)",
            "run": "SELECT count(*) FROM observations WHERE run_id IS NOT NULL AND run_id NOT IN (SELECT id FROM runs)",
            "payload": "SELECT count(*) FROM observations WHERE payload_id IS NOT NULL "
            "AND payload_id NOT IN (SELECT id FROM raw_payloads)",
        }
        found = []
        for what, sql in checks.items():
            async with self._state.reader.execute(sql) as cur:
                row = await cur.fetchone()
            if row and row[0]:
                found.append(f"{row[0]} observations refer to a {what} that does not exist")
        return found

    async def integrity_check(self) -> list[str]:
        """SQLite's own check of its file; PostgreSQL has no such statement (its pages are checksummed
        and amcheck needs an extension and a superuser): there, always ["ok"]."""
        if self._state.dialect.integrity_check is None:
            return ["ok"]
        async with self._state.reader.execute(self._state.dialect.integrity_check) as cur:
            return [r[0] for r in await cur.fetchall()]
