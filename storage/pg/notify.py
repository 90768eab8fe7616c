"""LISTEN/NOTIFY: how processes on one PostgreSQL database learn of each other's commits.

- ``opscentre_events``: the writer's transaction that appends events ends with
  ``pg_notify('opscentre_events', '<last seq>')`` (storage/writer.py). PostgreSQL delivers a
  notification at commit, and only then: a listener never hears of a seq it cannot read yet, and a
  rolled-back transaction is never heard of. Feed processes read the events themselves by seq
  (``store.events.after``); the payload only says how far there is to read.
- ``opscentre_requests``: a manual run asked of any process (collectors/queued.py), heard by the
  collector processes, which claim it.

Each Store on PostgreSQL keeps one ``Listen``: one connection of its own, LISTENing to both channels.
A notification is lost while the connection is down (PostgreSQL restarted), so on every (re)connect
the handlers are called with ``None``: "you may have missed something, look again" (the store then
tells its listeners the current last seq, and the hub reads whatever it missed by seq).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from storage.pg.adapter import CONNECT_TIMEOUT_S, shown

log = logging.getLogger(__name__)

EVENTS = "opscentre_events"
REQUESTS = "opscentre_requests"
CHANNELS = (EVENTS, REQUESTS)
BACKOFF_FIRST_S = 0.2  # after a lost connection, wait this long, doubling each failed attempt ...
BACKOFF_MAX_S = 5.0  # ... up to this

# Called with a notification's payload, or None after a (re)connect: look for what was missed.
Handler = Callable[[str | None], Awaitable[None] | None]


class Listen:
    """One LISTEN connection, reconnecting with backoff for as long as it is open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._handlers: dict[str, list[Handler]] = {c: [] for c in CHANNELS}
        self._task: asyncio.Task[None] | None = None
        self.connects = 0  # how many times it has connected and LISTENed (1: never lost)
        self.connected = asyncio.Event()  # set while LISTENing
        self.backoff_first = BACKOFF_FIRST_S

    def on(self, channel: str, handler: Handler) -> None:
        if channel not in self._handlers:
            raise ValueError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
        self._handlers[channel].append(handler)

    def off(self, channel: str, handler: Handler) -> None:
        with contextlib.suppress(ValueError):
            self._handlers[channel].remove(handler)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="opscentre-listen")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = self.backoff_first
        while True:
            try:
                conn = await self._connect()
            except psycopg.Error as exc:
                log.warning("cannot LISTEN on %s (retrying in %.1fs): %s", shown(self.url), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            try:
                async with conn:
                    for channel in CHANNELS:
                        await conn.execute(f"LISTEN {channel}")
                    self.connects += 1
                    if self.connects > 1:
                        log.warning("LISTENing again on %s", shown(self.url))
                    self.connected.set()
                    delay = self.backoff_first
                    for channel in CHANNELS:  # catch-up: what was committed while nobody listened
                        await self._call(channel, None)
                    async for note in conn.notifies():
                        await self._call(note.channel, note.payload)
            except psycopg.Error as exc:  # the server restarted or the connection dropped
                log.warning("lost the LISTEN connection to %s: %s", shown(self.url), exc)
            finally:
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    async def _call(self, channel: str, payload: str | None) -> None:
        for handler in list(self._handlers.get(channel, ())):
            try:
                result: Any = handler(payload)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("a handler of %s failed", channel)
