"""Test helpers for the feed: a real server on a free port over a real store, and a real client."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
from websockets.asyncio.client import ClientConnection, connect

from feed.config import FeedSettings, UserSettings, hash_token
from feed.protocol import SERVER_MESSAGE, json_schema
from feed.queries import RunService
from feed.server import FeedServer
from storage import Store

TOKENS = {
    "display": "display-token-0123456789",
    "operator": "operator-token-0123456789",
    "admin": "admin-token-0123456789",
}
USERS = [UserSettings(name=f"{role}-user", role=role, token_sha256=hash_token(tok)) for role, tok in TOKENS.items()]


@functools.cache
def _schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json_schema())


def check_server_message(raw: str | bytes, message: dict[str, Any]) -> None:
    """Every message a test client receives must be what the protocol promises: valid against its
    pydantic model and against the published JSON Schema (large snapshots: the model only, for speed)."""
    SERVER_MESSAGE.validate_json(raw)
    if len(raw) <= 1_000_000:
        _schema_validator().validate(message)


@asynccontextmanager
async def feed_server(
    path: Path | str,
    *,
    runs: RunService | None = None,
    store: Store | None = None,
    users: list[UserSettings] | None = None,
    **settings: Any,
) -> AsyncIterator[FeedServer]:
    own = store is None
    store = store or await Store.open(path)
    defaults: dict[str, Any] = {"port": 0, "tick": timedelta(milliseconds=50), "heartbeat": timedelta(seconds=1)}
    server = FeedServer(store, FeedSettings(**{**defaults, **settings}), users or USERS, runs=runs)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        if own:
            await store.close()


class Client:
    """A feed client as a test drives it: every message kept, waited for by type."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        message = json.loads(raw)
        check_server_message(raw, message)
        self.received.append(message)
        return message

    async def until(
        self, type_: str, timeout: float = 10.0, skip: tuple[str, ...] = ("heartbeat", "welcome")
    ) -> dict[str, Any]:
        """The next message of ``type_``; fails on any other type not in ``skip``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.next(max(0.01, deadline - asyncio.get_running_loop().time()))
            if message["type"] == type_:
                return message
            assert message["type"] in skip, f"expected {type_}, got {message}"

    async def collect_until(self, predicate: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Messages until one satisfies ``predicate`` (included)."""
        out = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.next(max(0.01, deadline - asyncio.get_running_loop().time()))
            out.append(message)
            if predicate(message):
                return out


@asynccontextmanager
async def client(
    server: FeedServer,
    role: str | None = "admin",
    *,
    hello: dict[str, Any] | None = None,
    header: bool = True,
    **kw: Any,
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role and header else {}
    async with connect(server.url, additional_headers=headers, compression=None, **kw) as ws:
        c = Client(ws)
        if hello is not None:
            if role and not header:
                hello = {**hello, "token": TOKENS[role]}
            await c.send({"type": "hello", **hello})
        yield c
