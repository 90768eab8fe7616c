"""The feed server: WebSocket on ``/feed``, and plain HTTP beside it on the same port
(``/healthz``, ``/readyz``, ``/metrics``, ``/display``).

Authentication: non-browser clients send ``Authorization: Bearer TOKEN`` with the handshake;
browsers (which cannot set headers on a WebSocket) send the token in their first message, within
``auth_deadline``. Tokens are compared by sha256 against the configuration, never logged, and
refused in URLs. Browsers must come from an allowed origin (or the server's own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import weakref
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from functools import cache
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_core import from_json
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers, MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from collectors.config import RulesSettings
from feed.answers import response, text
from feed.auth import User, Users
from feed.briefings import BRIEFING_PATH, download
from feed.client import Client
from feed.commands import Bucket, Commands
from feed.config import FeedSettings, UserSettings
from feed.hub import Hub
from feed.metrics import Metrics
from feed.protocol import (
    CLIENT_MESSAGE,
    CloseCode,
    Command,
    Error,
    ErrorCode,
    Filter,
    Hello,
    Query,
    Role,
    Subscribe,
    Unsubscribe,
    Welcome,
)
from feed.queries import RunService, past_problem
from feed.sdmx.http import OpenData
from feed.sdmx.query import PREFIX as SDMX_PREFIX
from storage import Store
from wording import CATALOGUE
from wording.numbers import INTL_LOCALE

log = logging.getLogger(__name__)
# websockets logs every frame at DEBUG, a browser's hello (with its token) included: its logger for
# our connections never goes below WARNING, whatever the rest of the logging says.
_ws_log = logging.getLogger("opscentre.feed.websockets")
_ws_log.setLevel(logging.WARNING)

FEED_PATH = "/feed"
# The wall page's ES modules (feed/static/NAME.js, loaded by main.js's imports), each served as it is
# at /display/NAME.js: no build step. A fixed list, never a path taken from the URL.
DISPLAY_MODULES = tuple(
    "main messages connection render ticker data queries state dom settings periods format words".split()
)
STATIC = {
    "/display": ("display.html", "text/html; charset=utf-8"),
    "/display/style.css": ("display.css", "text/css; charset=utf-8"),
    "/display/panels.css": ("panels.css", "text/css; charset=utf-8"),
    **{f"/display/{name}.js": (f"{name}.js", "text/javascript; charset=utf-8") for name in DISPLAY_MODULES},
}
# What a reader is told at the WebSocket: its token opens the open data alone.
READER_ONLY = "the reader role reads the open data under /sdmx/v2/ only, not the feed"
ReadyCheck = Callable[[], Awaitable[str | None]]  # None when ready, else the reason


@cache
def wording_script() -> bytes:
    """The wall page's words, generated from the one catalogue (wording/catalogue.py): never a copy."""
    data = {"catalogue": CATALOGUE, "locales": INTL_LOCALE}
    return f"window.OPSCENTRE_WORDING = {json.dumps(data, ensure_ascii=False, sort_keys=True)};\n".encode()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("opscentre")
    except PackageNotFoundError:
        return "unknown"


class FeedServer:
    def __init__(
        self,
        store: Store,
        settings: FeedSettings,
        users: Iterable[UserSettings],
        *,
        runs: RunService | None = None,
        ready_checks: Iterable[ReadyCheck] = (),
        rules: RulesSettings | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.users = Users(users)
        self.metrics = Metrics()
        self.hub = Hub(
            store,
            self.metrics,
            tick=settings.tick.total_seconds(),
            heartbeat=settings.heartbeat.total_seconds(),
            snapshot_concurrency=settings.snapshot_concurrency,
            resume_max_events=settings.resume_max_events,
        )
        # rules: the reporting calendar's due dates
        self.commands = Commands(store, runs, self.metrics, self.hub.matcher, rules)
        self.commands.delivered = self.hub.delivered
        self.opendata = OpenData(store, self.users, settings.queries_per_minute)
        self.ready_checks = list(ready_checks)
        self._preauth: weakref.WeakKeyDictionary[ServerConnection, User] = weakref.WeakKeyDictionary()
        self._server: Server | None = None
        self.version = _version()

    # --- life cycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.hub.start()
        tls = None
        if self.settings.tls_cert and self.settings.tls_key:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        self._server = await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            process_request=self._process_request,
            compression=None,  # no per-client deflate work on broadcast; ~14 KiB per connection, not ~64
            max_size=self.settings.max_message_bytes,
            max_queue=4,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=5,
            ssl=tls,
            server_header=f"opscentre/{self.version}",
            logger=_ws_log,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "wss" if self.settings.tls_cert else "ws"
        return f"{scheme}://{self.settings.host}:{self.port}{FEED_PATH}"

    async def stop(self) -> None:
        """Close every client with 1001 (they reconnect and resume elsewhere or later)."""
        await self.hub.stop()
        if self._server is not None:
            self._server.close(close_connections=False)
            for client in list(self.hub.clients):
                client.close(CloseCode.GOING_AWAY, "server going away")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    # --- HTTP beside the WebSocket --------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        path = parts.path.rstrip("/") or "/"
        if (path + "/").startswith(SDMX_PREFIX):  # the one place that takes (strictly parsed) parameters
            return await self.opendata.answer(request, parts.path, parts.query)
        if parts.query or request.path.endswith("?"):
            # No URL of this server but the open data's takes a query string, so none can carry a token, however it is
            # named or encoded (?token=, ?tok%65n=, ?x=<a token>, ?jwt=): refused before it is read.
            return text(
                HTTPStatus.BAD_REQUEST,
                "this server takes no query string; tokens never go in URLs: use the Authorization header "
                "or the first message\n",
            )
        if path == FEED_PATH:
            return self._check_upgrade(connection, request)
        if BRIEFING_PATH.fullmatch(path):
            return await download(self.store, self.users, request, path)
        if path == "/healthz":
            return text(HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            problems = await self._readiness()
            if problems:
                return text(HTTPStatus.SERVICE_UNAVAILABLE, "not ready: " + "; ".join(problems) + "\n")
            return text(HTTPStatus.OK, "ready\n")
        if path == "/metrics":
            await self.metrics.count_alerts(self.store)
            return response(HTTPStatus.OK, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        if path == "/":
            return Response(
                302, "Found", Headers([("Location", "/display"), ("Content-Length", "0"), ("Connection", "close")])
            )
        if path == "/display/wording.js":
            return response(HTTPStatus.OK, wording_script(), "text/javascript; charset=utf-8", cache="no-cache")
        if path in STATIC:
            name, content_type = STATIC[path]
            body = resources.files("feed.static").joinpath(name).read_bytes()
            return response(HTTPStatus.OK, body, content_type, cache="no-cache")
        return text(HTTPStatus.NOT_FOUND, f"not found: {path}\n")

    def _check_upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            origin = request.headers.get("Origin")
            host = request.headers.get("Host")
            auth = request.headers.get("Authorization")
        except MultipleValuesError as exc:  # which of two would the browser or a proxy have meant?
            return text(HTTPStatus.BAD_REQUEST, f"more than one {exc.args[0]} header\n")
        if origin is not None and not self._origin_allowed(origin, host):
            log.warning("refused a browser connection from origin %r (Host %r)", origin[:200], (host or "")[:200])
            return text(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        if auth is not None:
            user = self.users.bearer(auth)
            if user is None:
                return text(HTTPStatus.UNAUTHORIZED, "wrong or unknown token\n")
            if not user.role.may(Role.DISPLAY):
                return text(HTTPStatus.FORBIDDEN, READER_ONLY + "\n")
            self._preauth[connection] = user
        return None

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        """An allowed origin, or the server's own page. The page's origin equals the Host header,
        but so does an attacker's page after DNS rebinding (their name, our address): the Host
        must also be a name this server is configured under, not just any name that reached it."""
        if origin in self.settings.allowed_origins:
            return True
        if host is None or urlsplit(origin).netloc != host:
            return False
        try:
            parts = urlsplit(f"//{host}")
            name, port = parts.hostname, parts.port
        except ValueError:
            return False
        return name in self._own_names() and port in (None, self.port)

    def _own_names(self) -> set[str]:
        names = {"localhost", "127.0.0.1", "::1"}  # loopback names cannot be rebound from outside
        if self.settings.host not in ("", "0.0.0.0", "::"):
            names.add(self.settings.host.strip("[]").lower())
        for allowed in self.settings.allowed_origins:
            if (hostname := urlsplit(allowed).hostname) is not None:
                names.add(hostname)
        return names

    async def _readiness(self) -> list[str]:
        problems = []
        try:
            await self.store.events.last_seq()
        except Exception as exc:
            problems.append(f"database: {exc}")
        for check in self.ready_checks:
            if (reason := await check()) is not None:
                problems.append(reason)
        return problems

    # --- one connection ---------------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        user = self._preauth.pop(connection, None)
        try:
            hello = await self._hello(connection, user)
        except ConnectionClosed:
            return
        if hello is None:
            return
        user = user or self.users.check(hello.token)
        if user is None:
            await connection.close(CloseCode.UNAUTHENTICATED, "unauthenticated: wrong or missing token")
            return
        if not user.role.may(Role.DISPLAY):
            await connection.close(CloseCode.FORBIDDEN, READER_ONLY)
            return
        client = Client(connection, user.name, user.role, self.metrics, self.settings.max_queue_bytes)
        self.hub.add(client)
        writer = asyncio.create_task(client.write(), name=f"feed-writer-{client.id}")
        log.info("client %s connected as %s (%s)", client.id, user.name, user.role.value)
        try:
            await self._start(client, hello)
            await self._serve(client)
        except ConnectionClosed:
            pass
        finally:
            self.hub.remove(client)
            client.closing = True
            client._wake.set()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await writer
            log.info("client %s (%s) disconnected: %s", client.id, user.name, connection.close_code)

    async def _hello(self, connection: ServerConnection, user: User | None) -> Hello | None:
        """The first message must be a hello (with the token, for browsers) within the deadline."""
        try:
            raw = await asyncio.wait_for(connection.recv(), timeout=self.settings.auth_deadline.total_seconds())
        except TimeoutError:
            await connection.close(CloseCode.UNAUTHENTICATED, "unauthenticated: no hello within the deadline")
            return None
        try:
            msg = CLIENT_MESSAGE.validate_json(raw)
        except ValidationError:
            msg = None
        if not isinstance(msg, Hello):
            code = CloseCode.UNAUTHENTICATED if user is None else CloseCode.PROTOCOL_ERROR
            await connection.close(code, "the first message must be a valid hello")
            return None
        return msg

    async def _start(self, client: Client, hello: Hello) -> None:
        if hello.as_of is not None:
            await self._start_past(client, hello, hello.as_of)
            return
        resumed = False
        if hello.resume is not None and hello.filter is not None:
            resumed = await self.hub.can_resume(hello.resume.epoch, hello.resume.seq)
        last = await self.store.events.last_seq()
        client.push_message(
            Welcome(
                server_version=self.version,
                user=client.user,
                role=client.role,
                epoch=self.hub.epoch,
                seq=last,
                resumed=resumed,
            )
        )
        if resumed:
            assert hello.resume is not None and hello.filter is not None
            await self.hub.resume(client, hello.filter, hello.resume.seq)
        elif hello.filter is not None:
            await self.hub.subscribe(client, hello.filter)
        elif hello.resume is not None:
            # Without its filter the server cannot know what the client missed: say so, do not guess.
            client.push_message(
                Error(
                    code=ErrorCode.INVALID,
                    message="resume needs the filter the client was subscribed with: send hello.filter too",
                )
            )
        client.joining = False

    async def _start_past(self, client: Client, hello: Hello, as_of: datetime) -> None:
        """A hello that looks at the past: welcome, then the snapshot as of then (no live messages)."""
        last = await self.store.events.last_seq()
        client.push_message(
            Welcome(server_version=self.version, user=client.user, role=client.role, epoch=self.hub.epoch, seq=last)
        )
        problem = past_problem(as_of)
        if problem is None and hello.resume is not None:
            problem = "as_of and resume do not go together: a look at the past starts afresh (leave out resume)"
        if problem is not None:
            client.push_message(Error(code=ErrorCode.INVALID, message=problem))
        else:
            await self.hub.subscribe_past(client, hello.filter or Filter(), as_of)
        client.joining = False

    async def _serve(self, client: Client) -> None:
        commands = Bucket.per_minute(self.settings.commands_per_minute)
        queries = Bucket.per_minute(self.settings.queries_per_minute)
        async for raw in client.connection:
            if client.ending is not None:
                continue  # being closed (rate limited): read no more
            if isinstance(raw, bytes):
                self._refuse(client, ErrorCode.BAD_JSON, "send JSON text frames, not binary")
                continue
            try:
                # pydantic's parser, not json.loads: it refuses lone surrogates (text SQLite and
                # UTF-8 cannot hold) and deep nesting (json.loads raises RecursionError) as bad JSON.
                data = from_json(raw)
            except ValueError as exc:
                self._refuse(client, ErrorCode.BAD_JSON, f"not valid JSON: {exc}")
                continue
            if not isinstance(data, dict):
                self._refuse(client, ErrorCode.BAD_JSON, "a message must be a JSON object")
                continue
            msg: Hello | Subscribe | Unsubscribe | Command | Query | None = None
            problem = ""
            try:
                msg = CLIENT_MESSAGE.validate_python(data)
            except ValidationError as exc:
                problem = _explain(exc)
            try:
                if msg is not None:
                    await self._dispatch(client, msg, commands, queries)
                elif data.get("type") == "command":  # refused, and audited as every command is
                    self.metrics.rejected_frames.inc()
                    await self._command(client, data, commands, problem)
                else:
                    request_id = data.get("id") if isinstance(data.get("id"), str) else None
                    self._refuse(client, ErrorCode.BAD_MESSAGE, problem, request_id)
            except ConnectionClosed:
                raise
            except Exception:
                # A defect of ours, not the client's: answer, keep the connection, and log it.
                log.exception("client %s (%s): a %s failed", client.id, client.user, data.get("type"))
                request_id = getattr(msg, "id", None)
                client.push_message(
                    Error(
                        code=ErrorCode.INTERNAL, id=request_id, message="the server failed; the request may be retried"
                    )
                )

    async def _dispatch(
        self, client: Client, msg: Hello | Subscribe | Unsubscribe | Command | Query, commands: Bucket, queries: Bucket
    ) -> None:
        if isinstance(msg, Subscribe):
            if msg.as_of is None:
                await self.hub.subscribe(client, msg.filter)
            elif (problem := past_problem(msg.as_of)) is not None:
                self._refuse(client, ErrorCode.INVALID, problem, msg.id)  # the subscription stays as it was
            else:
                await self.hub.subscribe_past(client, msg.filter, msg.as_of)
        elif isinstance(msg, Unsubscribe):
            client.filter = client.matcher = None
        elif isinstance(msg, Hello):
            self._refuse(client, ErrorCode.BAD_MESSAGE, "already said hello")
        elif isinstance(msg, Command):
            await self._command(client, msg, commands)
        elif not queries.take():
            message = f"too many queries: at most {self.settings.queries_per_minute} a minute; slow down"
            client.push_message(Error(code=ErrorCode.RATE_LIMITED, id=msg.id, message=message))
            self._limit(client, queries)
        else:
            await self.commands.query(client, msg)

    async def _command(
        self, client: Client, msg: Command | dict[str, Any], bucket: Bucket, problem: str | None = None
    ) -> None:
        """Within the rate, a command is done, or refused as malformed (``problem``; ``msg`` is then
        the frame as parsed); past it, refused as such. A malformed one counts: its refusal is
        audited, a write like any other."""
        if not bucket.take():
            message = f"too many commands: at most {self.settings.commands_per_minute} a minute; slow down"
            await self.commands.refused(client, msg, ErrorCode.RATE_LIMITED, message)
            self._limit(client, bucket)
        elif isinstance(msg, Command):
            await self.commands.command(client, msg)
        else:
            await self.commands.refused(client, msg, ErrorCode.BAD_MESSAGE, problem or "not a command")

    def _refuse(self, client: Client, code: ErrorCode, message: str, request_id: str | None = None) -> None:
        self.metrics.rejected_frames.inc()
        client.push_message(Error(code=code, message=message, id=request_id))

    def _limit(self, client: Client, bucket: Bucket) -> None:
        """A client that goes on after three bursts' worth of `rate_limited` errors is closed."""
        if bucket.refused > 3 * bucket.burst:
            # After the errors queued before it: a client always learns why it is being closed.
            client.close_after_sending(CloseCode.RATE_LIMITED, "rate limited: too many requests")


def _explain(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        loc = ".".join(str(x) for x in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return "; ".join(parts)
