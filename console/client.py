"""The console's one connection to the feed: a worker that owns the WebSocket.

It connects with the token in ``Authorization: Bearer``, says hello (resuming from the last
(epoch, seq) it saw, or asking for a past instant in time travel), parses every frame with
``feed.protocol.SERVER_MESSAGE`` and posts typed Textual messages to the app. It never touches a
widget. When the connection drops it retries with exponential backoff and jitter (1 s → 30 s);
4401/4403 are terminal. Requests (``send_query``, ``send_command``) are answered by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import ssl
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from textual.message import Message
from textual.message_pump import MessagePump
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from console.state import Disconnected
from feed.protocol import (
    SERVER_MESSAGE,
    AlertMessage,
    CloseCode,
    Command,
    CommandBody,
    Delta,
    Error,
    Filter,
    Heartbeat,
    Hello,
    Query,
    QueryBody,
    Result,
    Resume,
    RunStatus,
    Snapshot,
    Subscribe,
    Welcome,
)

# websockets logs handshake headers (our Authorization) at DEBUG: never below WARNING for ours.
_ws_log = logging.getLogger("opscentre.console.websockets")
_ws_log.setLevel(logging.WARNING)
log = logging.getLogger(__name__)

Event = Welcome | Snapshot | Delta | AlertMessage | RunStatus | Heartbeat | Disconnected
Body = TypeVar("Body")
BIG_FRAME = 64 * 1024  # frames above this are parsed in a thread: the UI never stalls on a snapshot
MAX_FRAME = 256 * 1024 * 1024


# --- messages to the app ----------------------------------------------------------------------


class FeedMessage(Message, Generic[Body]):
    """What the client posts to the app: one thing the feed said (``body``)."""

    def __init__(self, body: Body) -> None:
        super().__init__()
        self.body = body


class FeedEvent(FeedMessage[Event]):
    """For the state: the app queues ``body`` (a welcome, snapshot, delta, alert, run or heartbeat,
    or the connection's end) and applies it with its next batch."""


class FeedResult(FeedMessage[Result]):
    """An answer to a request (its caller also gets it from ``send_query`` / ``send_command``)."""


class FeedError(FeedMessage[Error]):
    """An error frame: a request's refusal (``body.id`` set) or the server's own."""


# --- requests -----------------------------------------------------------------------------------


class FeedUnavailable(RuntimeError):
    """Not connected, or the connection ended before the answer came."""


class FeedRefused(RuntimeError):
    """The server answered a request with an error (``error.code``: forbidden, invalid, ...)."""

    def __init__(self, error: Error) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class CommandCall:
    """A command in flight: ``accepted`` resolves with the first answer, ``done`` with the last
    (a collect is answered ``accepted`` then ``done``; an acknowledge once). ``await call``
    waits for ``done``."""

    id: str
    accepted: asyncio.Future[Result] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    done: asyncio.Future[Result] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def __await__(self) -> Generator[Any, None, Result]:
        return self.done.__await__()

    def _answer(self, result: Result) -> None:
        if not self.accepted.done():
            self.accepted.set_result(result)
        if result.status == "done" and not self.done.done():
            self.done.set_result(result)

    def _fail(self, exc: Exception) -> None:
        for fut in (self.accepted, self.done):
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # retrieved: no "never retrieved" warning when nobody awaits both


PACE = (6.0, 20.0)  # queries a second, and at once: well under the server's default limit


class Pace:
    """A token bucket on our side: queries stay well under the server's limit (600 a minute in
    bursts of 60 by default), so that filling sparklines never gets the console rate-limited."""

    def __init__(self, rate: float = PACE[0], burst: float = PACE[1]) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.stamp = 0.0  # set on first use (the loop's clock)
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            if self.stamp == 0.0:
                self.stamp = now
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens < 1:
                await asyncio.sleep((1 - self.tokens) / self.rate)
                self.tokens = 1.0
                self.stamp = loop.time()
            self.tokens -= 1


class FeedClient:
    """One WebSocket to the feed, run as a Textual worker: ``app.run_worker(client.run())``."""

    def __init__(
        self,
        target: MessagePump,
        url: str,
        token: str | None,
        *,
        filter: Filter | None = None,
        ssl_context: ssl.SSLContext | None = None,
        backoff: tuple[float, float] = (1.0, 30.0),
        pace: tuple[float, float] = PACE,
    ) -> None:
        self.target = target
        self.url = url
        self._token = token
        self.filter = filter or Filter()
        self._ssl = (
            ssl_context
            if ssl_context is not None
            else (ssl.create_default_context() if url.startswith("wss:") else None)
        )
        self.backoff = backoff
        self.pace = pace  # (rate, burst) of the queries: ``Pace``
        self.as_of: datetime | None = None  # what was asked for: None live
        self._ws: ClientConnection | None = None
        self._position: tuple[str, int] | None = None  # (epoch, seq) of the newest event received
        self._pending: dict[str, CommandCall] = {}
        self._ids = itertools.count(1)
        self._stopped = False
        self._wake = asyncio.Event()
        self.connects = 0  # successful connections (tests)
        self._pace: Pace | None = None

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # --- the worker ------------------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while not self._stopped:
            reason, terminal = await self._session()
            if reason == "":
                attempt = 0  # the session was healthy (got a welcome): start the backoff afresh
            self._fail_pending(FeedUnavailable(f"the connection to the feed ended: {reason or 'closed'}"))
            if self._stopped:
                return
            now = datetime.now(UTC)
            if terminal:
                self.target.post_message(FeedEvent(Disconnected(now, reason, None, terminal=True)))
                return
            base = min(self.backoff[1], self.backoff[0] * 2**attempt)
            delay = random.uniform(base / 2, base)  # jitter: consoles restarted together spread out
            attempt += 1
            self.target.post_message(FeedEvent(Disconnected(now, reason or "closed", round(delay, 1))))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # not wait_for, which can swallow the stop's cancellation
                    await self._wake.wait()

    def use_token(self, token: str) -> None:
        """The token for the next connection (the console's login screen)."""
        self._token = token
        self._position = None

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._ws.close())

    def reconnect_now(self) -> None:
        """Skip the rest of the backoff (the user asked)."""
        self._wake.set()

    async def _session(self) -> tuple[str, bool]:
        """One connection, until it ends: (why it ended, or "" after a healthy session; terminal?)."""
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        welcomed = False
        try:
            async with connect(
                self.url,
                additional_headers=headers,
                ssl=self._ssl,
                compression=None,
                max_size=MAX_FRAME,
                open_timeout=10,
                logger=_ws_log,
            ) as ws:
                self._ws = ws
                await ws.send(self._hello().model_dump_json(exclude_none=True))
                async for raw in ws:
                    message = await self._parse(raw)
                    if message is None:
                        continue
                    if isinstance(message, Welcome):
                        welcomed = True
                        self.connects += 1
                    self._dispatch(message)
                    await asyncio.sleep(0)  # a burst of frames never starves the UI
                code = ws.close_code
            self._ws = None
            if code in CloseCode.TERMINAL:
                return (self._close_reason(code, ws.close_reason), True)
            return ("" if welcomed else f"closed ({code})", False)
        except InvalidStatus as exc:
            status = exc.response.status_code
            terminal = status in (401, 403)
            return (f"the token was refused (HTTP {status})" if status == 401 else f"HTTP {status}", terminal)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            if code in CloseCode.TERMINAL:
                return (self._close_reason(code, exc.rcvd.reason if exc.rcvd else ""), True)
            return ("" if welcomed else f"closed ({code})", False)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return (f"cannot reach {self.url} ({exc.__class__.__name__})", False)
        finally:
            self._ws = None

    @staticmethod
    def _close_reason(code: int | None, reason: str | None) -> str:
        if code == CloseCode.UNAUTHENTICATED:
            return "the token was refused"
        if code == CloseCode.FORBIDDEN:
            return "forbidden"
        return reason or f"closed ({code})"

    def _hello(self) -> Hello:
        if self.as_of is not None:
            return Hello(filter=self.filter, as_of=self.as_of, client="opscentre-console")
        resume = Resume(epoch=self._position[0], seq=self._position[1]) if self._position else None
        return Hello(filter=self.filter, resume=resume, client="opscentre-console")

    async def _parse(self, raw: str | bytes) -> Any:
        try:
            if len(raw) > BIG_FRAME:
                return await asyncio.to_thread(SERVER_MESSAGE.validate_json, raw)
            return SERVER_MESSAGE.validate_json(raw)
        except ValidationError as exc:
            # A server newer or older than us: say so in the log, keep the connection.
            log.warning("a frame the console cannot read: %s", str(exc)[:300])
            return None

    def _dispatch(self, message: Any) -> None:
        post = self.target.post_message
        if isinstance(message, Delta | AlertMessage | RunStatus | Snapshot | Heartbeat):
            if self.as_of is None:
                self._position = (message.epoch, message.seq)
        if isinstance(message, Welcome | Snapshot | Delta | AlertMessage | RunStatus | Heartbeat):
            post(FeedEvent(message))
        elif isinstance(message, Result):
            call = self._pending.get(message.id)
            if call is not None:
                call._answer(message)
                if message.status == "done":
                    self._pending.pop(message.id, None)
            post(FeedResult(message))
        elif isinstance(message, Error):
            call = self._pending.pop(message.id, None) if message.id else None
            if call is not None:
                call._fail(FeedRefused(message))
            post(FeedError(message))

    def _fail_pending(self, exc: Exception) -> None:
        pending, self._pending = self._pending, {}
        for call in pending.values():
            call._fail(exc)

    # --- requests ------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    async def _send(self, text: str) -> None:
        ws = self._ws
        if ws is None:
            raise FeedUnavailable("not connected to the feed")
        try:
            await ws.send(text)
        except ConnectionClosed:
            raise FeedUnavailable("the connection to the feed ended") from None

    async def send_query(self, query: QueryBody, timeout: float = 30.0) -> Result:
        """Ask and wait for the answer (FeedUnavailable if not connected or the answer is lost,
        FeedRefused if the server says no, TimeoutError after ``timeout``)."""
        if self._pace is None:
            self._pace = Pace(*self.pace)
        await self._pace.take()
        call = CommandCall(self._next_id("q"))
        self._pending[call.id] = call
        try:
            await self._send(Query(id=call.id, query=query).model_dump_json(exclude_none=True))
            return await asyncio.wait_for(asyncio.shield(call.done), timeout)
        finally:
            self._pending.pop(call.id, None)

    async def send_command(self, command: CommandBody) -> CommandCall:
        """Send a command; returns at once with a ``CommandCall`` to await (``.accepted``,
        ``.done`` or the call itself). Every answer is also posted to the app as ``FeedResult``."""
        call = CommandCall(self._next_id("c"))
        self._pending[call.id] = call
        key = f"console-{secrets.token_hex(12)}"  # one key per user action: a retry is not done twice
        try:
            await self._send(
                Command(id=call.id, idempotency_key=key, command=command).model_dump_json(exclude_none=True)
            )
        except FeedUnavailable:
            self._pending.pop(call.id, None)
            raise
        return call

    async def subscribe(self, as_of: datetime | None) -> None:
        """Live (None) or the centre as known at ``as_of``: a new snapshot follows. When not
        connected, the next connection asks for it."""
        self.as_of = as_of
        if as_of is None:
            self._position = None  # back from the past: a fresh live snapshot, not a resume
        if self._ws is not None:
            try:
                await self._send(Subscribe(filter=self.filter, as_of=as_of).model_dump_json(exclude_none=True))
            except FeedUnavailable:
                pass  # the reconnect says hello with it
