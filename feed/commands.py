"""Commands from feed clients (collect, acknowledge, silence, unsilence): checked against the
caller's role, rate-limited, idempotent, and every command written to the audit log (refusals
included). The queries are answered by the base class, feed/queries.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from collectors.config import RulesSettings
from feed.builder import Matcher
from feed.client import Client
from feed.metrics import Metrics
from feed.protocol import (
    MAX_SILENCE_S,
    MIN_SILENCE_S,
    AcknowledgeCommand,
    Acknowledged,
    CollectAccepted,
    CollectCommand,
    CollectDone,
    Command,
    Duplicate,
    Error,
    ErrorCode,
    Filter,
    Result,
    Role,
    SilenceCommand,
    Silenced,
    UnsilenceCommand,
    Unsilenced,
)
from feed.queries import Queries, RunService, alert_info, run_info, silence_info
from storage import (
    RunTrigger,
    Store,
    StoreError,
)
from storage.clock import utcnow
from storage.models import SilenceMatch

log = logging.getLogger(__name__)


@dataclass
class Bucket:
    """A token bucket: ``rate`` per second, up to ``burst`` at once."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)
    refused: int = 0

    @classmethod
    def per_minute(cls, limit: int) -> Bucket:
        """``limit`` a minute on average, in bursts of up to a tenth of it (at least 3)."""
        return cls(rate=limit / 60, burst=max(3.0, limit / 10))

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


NEEDS = {"collect": Role.ADMIN, "acknowledge": Role.OPERATOR, "silence": Role.ADMIN, "unsilence": Role.ADMIN}
# The audit actions of commands that were done: only these use an idempotency key up.
DONE = {
    "collect": "collect.run",
    "acknowledge": "alert.acknowledge",
    "silence": "alert.silence",
    "unsilence": "silence.remove",
}
MAX_SILENCE = timedelta(seconds=MAX_SILENCE_S)
RECENT_KEYS = 10_000
UNREAD_CHARS = 1000  # of each part of a malformed command the audit log keeps


@dataclass
class Remembered:
    """A command done under an idempotency key: what it was, and the results sent for it."""

    shape: dict[str, Any]
    results: list[Result]


class Commands(Queries):
    def __init__(
        self,
        store: Store,
        runs: RunService | None,
        metrics: Metrics,
        matcher: Callable[[Filter], Matcher],
        rules: RulesSettings | None = None,
    ) -> None:
        super().__init__(store, runs, matcher, rules)
        self.metrics = metrics
        # Set by the server: returns once ``client`` has been sent every event up to ``seq``.
        self.delivered: Callable[[Client, int], Awaitable[None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # (user, idempotency key) -> the command done; the newest RECENT_KEYS (the audit log keeps them all)
        self._recent: OrderedDict[tuple[str, str], Remembered] = OrderedDict()

    async def command(self, client: Client, msg: Command) -> None:
        name = msg.command.name
        key = (client.user, msg.idempotency_key)
        shape = msg.command.model_dump(mode="json")
        if (known := self._recent.get(key)) is not None:
            if known.shape != shape:
                await self._reused(client, msg)
                return
            # The same command again (a retry after a reconnect): the same answer, not done twice.
            for result in known.results:
                client.push_message(result.model_copy(update={"id": msg.id}))
            self.metrics.commands.labels(name, "duplicate").inc()
            return
        if not client.role.may(NEEDS[name]):
            await self.refused(
                client,
                msg,
                ErrorCode.FORBIDDEN,
                f"the {client.role.value} role may not {name}; it needs {NEEDS[name].value}",
            )
            return
        earlier = await self.store.audit.find(client.user, msg.idempotency_key, actions=list(DONE.values()))
        if earlier is not None:  # done before a restart of the server: do not do it twice
            if (
                earlier.action != DONE[name]
                # a silence's target is the id it was given, which the request cannot know
                or (name != "silence" and earlier.target != _target(msg))
                or earlier.details.get("command", shape) != shape
            ):
                await self._reused(client, msg)
                return
            result = Result(id=msg.id, data=Duplicate(audit_id=earlier.id, at=earlier.at))
            self._remember(key, shape, result)
            client.push_message(result)
            self.metrics.commands.labels(name, "duplicate").inc()
            return
        if isinstance(msg.command, CollectCommand):
            await self._collect(client, msg, msg.command, key)
        elif isinstance(msg.command, SilenceCommand):
            await self._silence(client, msg, msg.command, key)
        elif isinstance(msg.command, UnsilenceCommand):
            await self._unsilence(client, msg, msg.command, key)
        else:
            await self._acknowledge(client, msg, msg.command, key)

    async def refused(self, client: Client, msg: Command | Mapping[str, Any], code: ErrorCode, message: str) -> None:
        """Answer with an error and write the refusal to the audit log: every command is audited,
        one too malformed to read (``msg``: the frame as parsed) as far as it can be read."""
        name: str
        request_id: str | None
        if isinstance(msg, Command):
            name, request_id, target, details = msg.command.name, msg.id, _target(msg), _details(msg)
        else:
            name, request_id, target, details = _unread(msg)
        self.metrics.commands.labels(name, code.value).inc()
        details = {**details, "error_code": code.value, "error": message}
        # Written before the answer: a client that has its answer can rely on the audit entry.
        await self.store.audit.record(client.user, client.role.value, f"{name}.refused", target, details)
        client.push_message(Error(code=code, id=request_id, message=message))

    async def _reused(self, client: Client, msg: Command) -> None:
        await self.refused(
            client,
            msg,
            ErrorCode.INVALID,
            f"idempotency_key {msg.idempotency_key!r} was already used for a different command: use a new key",
        )

    async def _collect(self, client: Client, msg: Command, cmd: CollectCommand, key: tuple[str, str]) -> None:
        if self.runs is None:
            await self.refused(client, msg, ErrorCode.INVALID, "this server runs no collectors")
            return
        if sum((cmd.source is not None, cmd.agency is not None, cmd.all)) != 1:
            await self.refused(client, msg, ErrorCode.INVALID, "say exactly one of: source, agency, or all")
            return
        try:
            names = self.runs.select(source=cmd.source, agency=cmd.agency, everything=cmd.all)
        except KeyError as exc:
            await self.refused(client, msg, ErrorCode.INVALID, str(exc.args[0] if exc.args else exc))
            return
        await self.store.audit.record(
            client.user, client.role.value, DONE["collect"], _target(msg), {**_details(msg), "sources": names}
        )
        self.metrics.commands.labels("collect", "accepted").inc()
        accepted = Result(id=msg.id, status="accepted", data=CollectAccepted(sources=names))
        self._remember(key, msg.command.model_dump(mode="json"), accepted)
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
        if self.delivered is not None:
            # `done` comes last: after the `run finished` messages of these runs reach this client.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.delivered(client, await self.store.events.last_seq()), timeout=30)
        done = Result(id=msg.id, status="done", data=CollectDone(runs=[run_info(r) for r in runs]))
        self._remember(key, msg.command.model_dump(mode="json"), done)
        client.push_message(done)

    async def _acknowledge(self, client: Client, msg: Command, cmd: AcknowledgeCommand, key: tuple[str, str]) -> None:
        details = _details(msg)
        del details["note"]  # the store records the note itself
        try:
            alert = await self.store.alerts.acknowledge(cmd.alert_id, client.user, client.role.value, cmd.note, details)
        except StoreError as exc:
            code = ErrorCode.NOT_FOUND if str(exc).startswith("no alert") else ErrorCode.INVALID
            await self.refused(client, msg, code, str(exc))
            return
        self.metrics.commands.labels("acknowledge", "done").inc()
        result = Result(id=msg.id, data=Acknowledged(alert=alert_info(alert)))
        self._remember(key, msg.command.model_dump(mode="json"), result)
        client.push_message(result)

    async def _silence(self, client: Client, msg: Command, cmd: SilenceCommand, key: tuple[str, str]) -> None:
        match = SilenceMatch.model_validate(cmd.match.model_dump())
        now = utcnow()
        problem = None
        matchers = match.model_dump(exclude_none=True).values()
        if not matchers or not all(v.strip() for v in matchers):
            problem = "match: give at least one of rule, subject, source, agency, area, indicator (none empty)"
        elif (cmd.duration is None) == (cmd.ends_at is None):
            problem = "say exactly one of: duration (seconds) or ends_at"
        elif cmd.duration is not None and not MIN_SILENCE_S <= cmd.duration <= MAX_SILENCE_S:
            problem = f"duration must be {MIN_SILENCE_S} seconds to {MAX_SILENCE.days} days"
        elif cmd.ends_at is not None and cmd.ends_at.tzinfo is None:
            problem = "ends_at needs a time zone (Z or +07:00)"
        elif cmd.ends_at is not None and not now < cmd.ends_at <= now + MAX_SILENCE:
            problem = f"ends_at must be in the future and at most {MAX_SILENCE.days} days away"
        elif not cmd.comment.strip():
            problem = "comment: say why these alerts may be muted"
        if problem is not None:
            await self.refused(client, msg, ErrorCode.INVALID, problem)
            return
        ends_at = cmd.ends_at if cmd.ends_at is not None else now + timedelta(seconds=cmd.duration or 0)
        try:
            made, muted = await self.store.alerts.silence(
                match, ends_at, cmd.comment, client.user, client.role.value, _details(msg)
            )
        except StoreError as exc:
            await self.refused(client, msg, ErrorCode.INVALID, str(exc))
            return
        self.metrics.commands.labels("silence", "done").inc()
        result = Result(id=msg.id, data=Silenced(silence=silence_info(made), muted=[a.id for a in muted]))
        self._remember(key, msg.command.model_dump(mode="json"), result)
        client.push_message(result)

    async def _unsilence(self, client: Client, msg: Command, cmd: UnsilenceCommand, key: tuple[str, str]) -> None:
        try:
            ended, unmuted = await self.store.alerts.unsilence(
                cmd.silence_id, client.user, client.role.value, _details(msg)
            )
        except StoreError as exc:
            code = ErrorCode.NOT_FOUND if str(exc).startswith("no silence") else ErrorCode.INVALID
            await self.refused(client, msg, code, str(exc))
            return
        self.metrics.commands.labels("unsilence", "done").inc()
        result = Result(id=msg.id, data=Unsilenced(silence=silence_info(ended), unmuted=[a.id for a in unmuted]))
        self._remember(key, msg.command.model_dump(mode="json"), result)
        client.push_message(result)

    def _remember(self, key: tuple[str, str], shape: dict[str, Any], result: Result) -> None:
        self._recent.setdefault(key, Remembered(shape, [])).results.append(result)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _details(msg: Command) -> dict[str, Any]:
    """What the audit log keeps of a command: the request, the key, and the command itself (whole,
    under ``command``, so that a key reused for another command is recognised after a restart)."""
    shape = msg.command.model_dump(mode="json")
    fields = {k: v for k, v in shape.items() if k != "name"}
    return {"request_id": msg.id, "idempotency_key": msg.idempotency_key, "command": shape, **fields}


def _unread(frame: Mapping[str, Any]) -> tuple[str, str | None, str, dict[str, Any]]:
    """What the audit log keeps of a command too malformed to read: its name (if one we know), the
    request's id and key, and the command as sent, each cut short (a frame may be 64 KiB of junk)."""
    cmd = frame.get("command")
    name = cmd.get("name") if isinstance(cmd, dict) else None
    request_id, key = (v if isinstance(v := frame.get(k), str) else None for k in ("id", "idempotency_key"))
    details = {
        "request_id": request_id and request_id[:UNREAD_CHARS],
        "idempotency_key": key and key[:UNREAD_CHARS],
        "command": json.dumps(cmd, ensure_ascii=False)[:UNREAD_CHARS],
    }
    return name if name in NEEDS else "command", request_id, "malformed", details


def _target(msg: Command) -> str:
    c = msg.command
    if isinstance(c, CollectCommand):
        return f"source:{c.source}" if c.source else f"agency:{c.agency}" if c.agency else "all"
    if isinstance(c, SilenceCommand):
        return "silence:new"
    if isinstance(c, UnsilenceCommand):
        return f"silence:{c.silence_id}"
    return f"alert:{c.alert_id}"
