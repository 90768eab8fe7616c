"""The collector's HTTP transport: aiohttp behind httpx's API (``httpx-aiohttp``).

httpcore, httpx's own transport, cost four times the CPU of aiohttp's per request (``python -m
bench.sweep``). Everything else stays httpx's: the client, its headers and cookies, redirects
(``fetch.py`` follows them itself, hop by hop), decoding (aiohttp hands the bytes over as they came
on the wire), timeouts (per request: connect, read, pool).

What this adds to ``httpx_aiohttp.AiohttpTransport``: aiohttp's failures raised as the httpx
exceptions httpcore raises for the same event, with its words, so that ``fetch.py`` tells a body
cut short (``Truncated``), a timeout and an unreachable source apart as it does on httpcore (the
package maps a lost connection to a connect timeout, a short body to a read error, and lets some of
aiohttp's own exceptions through). And aiohttp keeps no cookies of its own: httpx's jar is the one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

_SHORT = re.compile(r"received ([0-9]+) of ([0-9]+) bytes")


def _as_httpx(exc: BaseException) -> httpx.TransportError | None:
    """The httpx exception httpcore raises for what aiohttp's ``exc`` says (None: not aiohttp's)."""
    if isinstance(exc, aiohttp.ClientPayloadError):
        # aiohttp's parser says why (its cause); h11's words for the same, which fetch.py reads
        if short := _SHORT.search(f"{exc} {exc.__cause__}"):
            return httpx.RemoteProtocolError(
                f"peer closed connection without sending complete message body: "
                f"received {short[1]} bytes, expected {short[2]}"
            )
        return httpx.RemoteProtocolError("peer closed connection without sending complete message body: incomplete")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc))
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(str(exc) or "timed out")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("Server disconnected without sending a response.")
    if isinstance(exc, aiohttp.ClientResponseError):  # not HTTP: a bad status line or headers
        return httpx.RemoteProtocolError(exc.message)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return httpx.ReadError(str(exc))
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(str(exc))
    if isinstance(exc, aiohttp.ClientError):
        return httpx.NetworkError(str(exc))
    return None


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except (TimeoutError, httpx.TransportError, aiohttp.ClientError) as exc:
        # httpx_aiohttp raises its own mapping from aiohttp's exception: map that one again
        original = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
        mapped = _as_httpx(original) if original is not None else None
        if mapped is None:
            raise
        raise mapped from original


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _httpx_errors():
            await self._stream.aclose()


class Transport(AiohttpTransport):
    def get_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _httpx_errors():
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)
        return response
