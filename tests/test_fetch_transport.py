"""The collector's transport (aiohttp behind httpx, collectors/transport.py) fails as httpcore does.

Each case is a bare asyncio socket server answering in one way (short, cut, silent, not HTTP,
compressed, too large); ``fetch_once`` through the collector's transport must raise the same error,
with the same words where the words are ours, as through httpx's own transport, so that a run's
outcome and its error (what every feed role reads) do not depend on the transport.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from collectors.fetch import FetchError, TooLarge, Truncated, fetch_once
from collectors.transport import Transport

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BODY = b'{"format": "opscentre.agency-observations/1", "observations": []}'


def head(status: str = "200 OK", **headers: str | int) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Content_Length=400) + BODY)  # announces 400 bytes, sends fewer, closes


async def _chunked_cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Transfer_Encoding="chunked") + b"%x\r\n%s\r\n" % (len(BODY), BODY))  # no last chunk


async def _silent_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    pass  # reads the request, closes without a word


async def _stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)  # never answers


async def _stall_in_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Content_Length=len(BODY)) + BODY[:10])
    await writer.drain()
    await asyncio.sleep(5)


async def _not_gzip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Content_Length=len(BODY), Content_Encoding="gzip") + BODY)  # not what it says it is


async def _too_large_declared(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Content_Length=10_000) + b"x" * 10_000)


async def _too_large_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Transfer_Encoding="chunked") + b"".join(b"400\r\n" + b"x" * 1024 + b"\r\n" for _ in range(10)))
    writer.write(b"0\r\n\r\n")


async def _error_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head("503 Service Unavailable", Content_Length=4) + b"busy")


def _answering(answer: Answer) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await answer(reader, writer)
            await writer.drain()
        finally:
            writer.close()

    return handle


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Answer], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> str:
        srv = await asyncio.start_server(_answering(answer), "127.0.0.1", 0)
        servers.append(srv)
        return f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/data"

    yield start
    for srv in servers:
        srv.close()


async def failure(client: httpx.AsyncClient, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch_once(client, url, read_timeout=0.3, max_bytes=4096)
    return caught.value


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (_short, Truncated, f"cut off: {len(BODY)} of the 400 bytes its Content-Length announced"),
        (_chunked_cut, Truncated, "the answer was cut off; nothing of it is used"),
        (_silent_close, FetchError, "cannot reach the source: RemoteProtocolError"),
        (_stall, FetchError, "timed out after 0.3s reading the source (ReadTimeout)"),
        (_stall_in_body, FetchError, "timed out after 0.3s reading the source (ReadTimeout)"),
        (_not_gzip, Truncated, "the answer cannot be decoded (DecodingError)"),
        (_too_large_declared, TooLarge, "the answer of 10,000 bytes is over the 4,096-byte cap"),
        (_too_large_chunked, TooLarge, "the answer passed the 4,096-byte cap"),
        (_error_page, FetchError, "HTTP 503 from the source (its 4-byte answer is kept with the run)"),
    ],
    ids=lambda v: getattr(v, "__name__", "").strip("_") or None,
)
async def test_each_failure_reads_as_it_does_on_httpcore(
    server: Callable[[Answer], Awaitable[str]], answer: Answer, kind: type[FetchError], words: str
) -> None:
    url = await server(answer)
    async with httpx.AsyncClient() as httpcore, httpx.AsyncClient(transport=Transport()) as ours:
        theirs, got = await failure(httpcore, url), await failure(ours, url)
    assert isinstance(got, kind) and words in str(got), str(got)
    assert (type(got), str(got), got.transient) == (type(theirs), str(theirs), theirs.transient)


async def test_a_refused_connection_reads_as_on_httpcore() -> None:
    srv = await asyncio.start_server(_answering(_silent_close), "127.0.0.1", 0)
    url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/data"
    srv.close()
    await srv.wait_closed()  # nothing listens there now
    async with httpx.AsyncClient() as httpcore, httpx.AsyncClient(transport=Transport()) as ours:
        theirs, got = await failure(httpcore, url), await failure(ours, url)
    # The reason after it is the operating system's, in each library's words.
    assert str(got).startswith("cannot reach the source: ConnectError") and got.transient
    assert str(theirs).startswith("cannot reach the source: ConnectError") and theirs.transient


async def test_an_answer_that_is_not_http_reads_as_on_httpcore(server: Callable[[Answer], Awaitable[str]]) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

    url = await server(garbage)
    async with httpx.AsyncClient() as httpcore, httpx.AsyncClient(transport=Transport()) as ours:
        theirs, got = await failure(httpcore, url), await failure(ours, url)
    assert str(got).startswith("cannot reach the source: RemoteProtocolError") and got.transient
    assert str(theirs).startswith("cannot reach the source: RemoteProtocolError") and theirs.transient


async def test_a_compressed_answer_is_decoded_and_cookies_are_sent_once(
    server: Callable[[Answer], Awaitable[str]],
) -> None:
    requests: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        packed = gzip.compress(BODY)
        writer.write(head(Content_Length=len(packed), Content_Encoding="gzip", Set_Cookie="s=1; Path=/") + packed)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        await answer(reader, writer)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/data"
    try:
        async with httpx.AsyncClient(transport=Transport()) as ours:
            first = await fetch_once(ours, url, read_timeout=5, max_bytes=4096)
            await fetch_once(ours, url, read_timeout=5, max_bytes=4096)
    finally:
        srv.close()
    assert (first.body, first.content_encoding) == (BODY, "gzip")
    assert b"cookie" not in requests[0].lower()
    second = [line for line in requests[1].lower().split(b"\r\n") if line.startswith(b"cookie:")]
    assert second == [b"cookie: s=1"]  # httpx's jar, not aiohttp's as well
