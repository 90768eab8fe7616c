"""One connected client: its subscription, its position in the event log, and its outbox.

The outbox has two kinds of entries: deltas, which conflate (a delta queued behind another
unsent delta merges into it: latest figure per series, so memory is bounded by the number of
series, not by the message rate), and lossless entries (alerts, runs, results, snapshots), which
never drop. Nobody waits for a client: the hub only appends; the client's own writer task sends.
A client whose outbox passes the byte limit is closed with 4008 and may resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from itertools import count

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from feed.builder import Built, Matcher, PendingDelta
from feed.metrics import Metrics
from feed.protocol import CloseCode, Filter, Message, Role

log = logging.getLogger(__name__)

_ids = count(1)
DIRECT_WRITE_LIMIT = 64 * 1024  # bytes waiting in the socket's buffer beyond which a client is not "caught up"


def encode(message: Message) -> str:
    return message.model_dump_json(exclude_none=True)


@dataclass
class Entry:
    seq: int | None
    frame: str | None  # encoded text; None for a merged delta not yet encoded
    delta: PendingDelta | None = None
    epoch: str = ""
    taken: bool = False  # the writer has started sending it: no more merging
    owned: bool = False  # ``delta`` is this client's own copy (the hub's is shared by a filter's clients)

    def text(self) -> str:
        if self.frame is None:
            assert self.delta is not None and self.seq is not None
            self.frame = encode(self.delta.message(self.epoch, self.seq))
        return self.frame


@dataclass(eq=False)
class Client:
    connection: ServerConnection
    user: str
    role: Role
    metrics: Metrics
    max_queue_bytes: int
    id: int = field(default_factory=lambda: next(_ids))
    filter: Filter | None = None  # None: not subscribed
    matcher: Matcher | None = None
    position: int = 0  # every matching event up to here is in the outbox (or sent)
    # After a snapshot of the past: its seq, which heartbeats carry until a live subscription (no
    # event after it has been sent: a heartbeat at the live position would make a resume skip them).
    past_seq: int | None = None
    entries: deque[Entry] = field(default_factory=deque)
    queued_bytes: int = 0
    closing: bool = False
    # From the handshake until its welcome and snapshot (or resume) are queued, and while a new
    # subscription's snapshot is prepared: no heartbeat or delta may overtake them.
    joining: bool = True
    ending: tuple[int, str] | None = None  # close with this once what is queued has been sent
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _sent: asyncio.Event = field(default_factory=asyncio.Event)
    _writer_idle: bool = False

    @property
    def subscribed(self) -> bool:
        return self.filter is not None

    @property
    def gone(self) -> bool:
        """Closed, or closing: nothing more is worth preparing for it."""
        return self.closing or self.connection.state is not State.OPEN

    async def drained(self, below: int) -> None:
        """Until fewer than ``below`` bytes wait in the outbox, or the client is gone (a resume
        replays at the pace the client reads, instead of filling its outbox past the limit)."""
        while self.queued_bytes >= below and not self.gone:
            self._sent.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):  # not wait_for: see Hub._ticks
                    await self._sent.wait()

    @property
    def idle(self) -> bool:
        return not self.entries

    # --- queueing (called by the hub and the handlers; never awaits) ---------------------------------

    def push_frame(self, text: str, seq: int | None = None) -> None:
        """A lossless message, already encoded."""
        self._append(Entry(seq, text))

    def push_message(self, message: Message) -> None:
        self.push_frame(encode(message), getattr(message, "seq", None))

    def push_built(self, built: list[Built], frames: list[str] | None, epoch: str) -> None:
        """Messages of a tick for this client's filter; ``frames`` are their shared encodings."""
        for i, b in enumerate(built):
            text = frames[i] if frames is not None else None
            last = self.entries[-1] if self.entries else None
            if b.delta is not None and last is not None and last.delta is not None and not last.taken:
                # Behind already: fold this delta into the unsent one (latest figure per series).
                if not last.owned:
                    last.delta, last.owned = last.delta.copy(), True
                before_bytes = len(last.frame) if last.frame is not None else _estimate(last.delta)
                before = last.delta.size() + b.delta.size()
                last.delta.merge(b.delta)
                self.metrics.dropped.inc(before - last.delta.size())
                last.seq, last.frame = b.seq, None
                self.queued_bytes += _estimate(last.delta) - before_bytes
                continue
            if text is None:
                text = encode(b.message)
            self._append(Entry(b.seq, text, b.delta, epoch))
        self._check_backlog()

    def _append(self, entry: Entry) -> None:
        if self.gone or self.ending is not None:
            return
        self.entries.append(entry)
        self.queued_bytes += len(entry.frame) if entry.frame is not None else 0
        self._wake.set()
        self._check_backlog()

    def _check_backlog(self) -> None:
        # One message, however big, is not a backlog; more than the limit waiting behind it is.
        if self.queued_bytes > self.max_queue_bytes and len(self.entries) > 1:
            self.close_slow()

    def close_slow(self) -> None:
        if self.closing:
            return
        log.info(
            "client %s (%s) is too slow: %d bytes queued; closing with %d",
            self.id,
            self.user,
            self.queued_bytes,
            CloseCode.TOO_SLOW,
        )
        self.metrics.slow_closes.inc()
        self.close(CloseCode.TOO_SLOW, "too slow: reconnect and resume")

    def close_after_sending(self, code: int, reason: str, grace: float = 5.0) -> None:
        """Close once the queued messages (e.g. the errors that explain the close) are sent; a
        client that does not read them is closed anyway after ``grace`` seconds."""
        if self.closing or self.ending is not None:
            return
        self.ending = (code, reason)
        self._wake.set()
        asyncio.get_running_loop().call_later(grace, self.close, code, reason)

    def close(self, code: int, reason: str) -> None:
        """Close without waiting (the close handshake runs in its own task)."""
        if self.closing:
            return
        self.closing = True
        self.entries.clear()
        self.queued_bytes = 0
        self._wake.set()
        task = asyncio.ensure_future(self.connection.close(code, reason))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    # --- the writer task ------------------------------------------------------------------------------------

    async def write(self) -> None:
        """Send the outbox in order until the connection closes."""
        with contextlib.suppress(ConnectionClosed):
            while not self.closing:
                self._writer_idle = True
                await self._wake.wait()
                self._writer_idle = False
                self._wake.clear()
                while self.entries and not self.closing:
                    await self._send_first()
                if self.ending is not None and not self.entries:
                    self.close(*self.ending)

    async def _send_first(self) -> None:
        # A function of its own so that nothing keeps the last frame (a snapshot can be 100 KB)
        # alive while the writer sleeps: an idle connection should cost kilobytes.
        entry = self.entries[0]
        entry.taken = True
        text = entry.text()
        await self.connection.send(text)
        if self.entries and self.entries[0] is entry:
            self.entries.popleft()
            self.queued_bytes = max(0, self.queued_bytes - len(text))
        self.metrics.sent.inc()
        self._sent.set()

    def can_take_direct(self) -> bool:
        """Caught up: nothing queued, the writer asleep, the socket draining. Such a client can be
        written to in the same call as everyone else (``websockets.broadcast``), without waking
        its writer task; any other client gets the message through its outbox."""
        if self.entries or self.closing or self.joining or self.ending is not None or not self._writer_idle:
            return False
        transport = self.connection.transport
        return transport is not None and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT


def _estimate(delta: PendingDelta) -> int:
    return 300 * delta.size() + 100
