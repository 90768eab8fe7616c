"""Commands and queries from feed clients: checked against the caller's role, rate-limited,
idempotent, and every command written to the audit log (refusals included)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from feed.client import Client
from feed.metrics import Metrics
from feed.protocol import (
    AcknowledgeCommand,
    AlertsQuery,
    CollectCommand,
    Command,
    Error,
    ErrorCode,
    HistoryQuery,
    ProvenanceQuery,
    Query,
    Result,
    Role,
    RunsQuery,
)
from storage import CollectionRun, RunTrigger, Store, StoreError

log = logging.getLogger(__name__)


class RunService(Protocol):
    """The one narrow interface through which the feed asks the collectors for manual runs."""

    def select(self, *, source: str | None = None, agency: str | None = None, everything: bool = False) -> list[str]:
        """Names of the sources asked for; raises KeyError with a message for the user."""
        ...

    async def run_many(
        self, names: Iterable[str], trigger: RunTrigger = RunTrigger.MANUAL, requested_by: str | None = None
    ) -> list[CollectionRun]: ...


@dataclass
class Bucket:
    """A token bucket: ``rate`` per second, up to ``burst`` at once."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)
    refused: int = 0

    def take(self) -> bool:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused = 0  # a flood is refusals in a row, not a long day's total
            return True
        self.refused += 1
        return False


NEEDS = {"collect": Role.ADMIN, "acknowledge": Role.OPERATOR}
RECENT_KEYS = 10_000
HISTORY_LIMIT = 10_000


class Commands:
    def __init__(self, store: Store, runs: RunService | None, metrics: Metrics) -> None:
        self.store = store
        self.runs = runs
        self.metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()
        # (user, idempotency key) -> results sent; the newest RECENT_KEYS (the audit log keeps them all)
        self._recent: OrderedDict[tuple[str, str], list[Result]] = OrderedDict()

    async def command(self, client: Client, msg: Command) -> None:
        name = msg.command.name
        key = (client.user, msg.idempotency_key)
        if key in self._recent:  # the same command again (a retry after a reconnect): same answer, no re-run
            for result in self._recent[key]:
                client.push_message(result.model_copy(update={"id": msg.id}))
            self.metrics.commands.labels(name, "duplicate").inc()
            return
        details: dict[str, Any] = {
            "request_id": msg.id,
            "idempotency_key": msg.idempotency_key,
            **msg.command.model_dump(exclude={"name"}),
        }
        if not client.role.may(NEEDS[name]):
            await self.store.audit(client.user, client.role.value, f"{name}.refused", _target(msg), details)
            self.metrics.commands.labels(name, "forbidden").inc()
            client.push_message(
                Error(
                    code=ErrorCode.FORBIDDEN,
                    id=msg.id,
                    message=f"the {client.role.value} role may not {name}; it needs {NEEDS[name].value}",
                )
            )
            return
        earlier = await self.store.find_audit(client.user, msg.idempotency_key)
        if earlier is not None:  # done before a restart of the server: do not do it twice
            result = Result(id=msg.id, data={"duplicate": True, "audit_id": earlier.id, "at": earlier.at.isoformat()})
            self._remember(key, result)
            client.push_message(result)
            self.metrics.commands.labels(name, "duplicate").inc()
            return
        if isinstance(msg.command, CollectCommand):
            await self._collect(client, msg, msg.command, details, key)
        else:
            await self._acknowledge(client, msg, msg.command, details, key)

    async def _collect(
        self, client: Client, msg: Command, cmd: CollectCommand, details: dict[str, Any], key: tuple[str, str]
    ) -> None:
        if self.runs is None:
            client.push_message(Error(code=ErrorCode.INVALID, id=msg.id, message="this server runs no collectors"))
            return
        if sum((cmd.source is not None, cmd.agency is not None, cmd.all)) != 1:
            client.push_message(
                Error(code=ErrorCode.INVALID, id=msg.id, message="say exactly one of: source, agency, or all")
            )
            return
        try:
            names = self.runs.select(source=cmd.source, agency=cmd.agency, everything=cmd.all)
        except KeyError as exc:
            client.push_message(Error(code=ErrorCode.INVALID, id=msg.id, message=str(exc.args[0] if exc.args else exc)))
            return
        await self.store.audit(
            client.user, client.role.value, "collect.run", _target(msg), {**details, "sources": names}
        )
        self.metrics.commands.labels("collect", "accepted").inc()
        accepted = Result(id=msg.id, status="accepted", data={"sources": names})
        self._remember(key, accepted)
        client.push_message(accepted)
        task = asyncio.create_task(self._run(client, msg, names, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, client: Client, msg: Command, names: list[str], key: tuple[str, str]) -> None:
        assert self.runs is not None
        try:
            runs = await self.runs.run_many(names, RunTrigger.MANUAL, requested_by=client.user)
        except Exception as exc:
            log.exception("manual collection failed")
            client.push_message(Error(code=ErrorCode.INTERNAL, id=msg.id, message=f"collection failed: {exc}"))
            return
        done = Result(id=msg.id, status="done", data={"runs": [r.model_dump(mode="json") for r in runs]})
        self._remember(key, done)
        client.push_message(done)

    async def _acknowledge(
        self, client: Client, msg: Command, cmd: AcknowledgeCommand, details: dict[str, Any], key: tuple[str, str]
    ) -> None:
        try:
            alert = await self.store.acknowledge_alert(
                cmd.alert_id,
                client.user,
                client.role.value,
                cmd.note,
                details={"request_id": msg.id, "idempotency_key": msg.idempotency_key},
            )
        except StoreError as exc:
            code = ErrorCode.NOT_FOUND if str(exc).startswith("no alert") else ErrorCode.INVALID
            await self.store.audit(
                client.user, client.role.value, "alert.acknowledge.failed", _target(msg), {**details, "error": str(exc)}
            )
            self.metrics.commands.labels("acknowledge", "invalid").inc()
            client.push_message(Error(code=code, id=msg.id, message=str(exc)))
            return
        self.metrics.commands.labels("acknowledge", "done").inc()
        result = Result(id=msg.id, data={"alert": alert.model_dump(mode="json")})
        self._remember(key, result)
        client.push_message(result)

    def _remember(self, key: tuple[str, str], result: Result) -> None:
        self._recent.setdefault(key, []).append(result)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    async def query(self, client: Client, msg: Query) -> None:
        q = msg.query
        data: Any
        if isinstance(q, HistoryQuery):
            if await self.store.indicator(q.indicator) is None:
                client.push_message(
                    Error(code=ErrorCode.NOT_FOUND, id=msg.id, message=f"unknown indicator {q.indicator!r}")
                )
                return
            rows = await self.store.history(q.indicator, q.area, source=q.source, as_of=q.as_of, since=q.since)
            data = {
                "observations": [o.model_dump(mode="json") for o in rows[-HISTORY_LIMIT:]],
                "truncated": len(rows) > HISTORY_LIMIT,
            }
        elif isinstance(q, RunsQuery):
            data = {"runs": [r.model_dump(mode="json") for r in await self.store.runs(q.source, q.limit)]}
        elif isinstance(q, ProvenanceQuery):
            data = await self.store.provenance(q.observation_id)
            if data is None:
                client.push_message(
                    Error(code=ErrorCode.NOT_FOUND, id=msg.id, message=f"no observation {q.observation_id}")
                )
                return
        elif isinstance(q, AlertsQuery):
            data = {
                "alerts": [
                    a.model_dump(mode="json") for a in await self.store.alerts(open_only=q.open_only, limit=q.limit)
                ]
            }
        client.push_message(Result(id=msg.id, data=data))

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _target(msg: Command) -> str:
    c = msg.command
    if isinstance(c, CollectCommand):
        return f"source:{c.source}" if c.source else f"agency:{c.agency}" if c.agency else "all"
    return f"alert:{c.alert_id}"
