"""Fetching one URL the way an operations centre must: a size cap, a timeout, and retries with
exponential backoff and jitter for transient errors only (through ``stamina``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import stamina

from collectors.config import CollectorSettings, SourceSettings
from collectors.sources.base import Fetched


class FetchError(Exception):
    """The upstream could not be read; ``transient`` errors are worth retrying."""

    transient = False
    status: int | None = None


class TransientError(FetchError):
    transient = True


class UpstreamStatus(FetchError):
    def __init__(self, status: int, url: str, body: bytes) -> None:
        self.status = status
        self.transient = status >= 500 or status in (408, 425, 429)
        snippet = body[:200].decode("utf-8", "replace").strip()
        super().__init__(f"HTTP {status} from {url}" + (f": {snippet}" if snippet else ""))


class TooLarge(FetchError):
    pass


@dataclass
class FetchStats:
    attempts: int = 0
    latency_ms: float = 0.0  # of the successful (or last) attempt
    bytes: int = 0
    status: int | None = None


async def fetch_once(
    client: httpx.AsyncClient, url: str, read_timeout: float, max_bytes: int, accepted: frozenset[int] = frozenset()
) -> Fetched:
    """One GET; raises FetchError (transient or not) instead of httpx's many exceptions."""
    try:
        async with client.stream("GET", url, timeout=read_timeout) as response:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"response of {int(declared):,} bytes from {url} is over the {max_bytes:,}-byte cap")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"response from {url} passed the {max_bytes:,}-byte cap")
                chunks.append(chunk)
            body = b"".join(chunks)
            if response.status_code >= 400 and response.status_code not in accepted:
                raise UpstreamStatus(response.status_code, url, body)
            return Fetched(url, response.status_code, response.headers.get("content-type"), body, _date(response))
    except httpx.TimeoutException as exc:
        raise TransientError(f"timed out after {read_timeout:g}s reading {url} ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise TransientError(f"cannot reach {url}: {type(exc).__name__} {exc}".strip()) from None


def _date(response: httpx.Response) -> datetime | None:
    try:
        return parsedate_to_datetime(response.headers["date"])
    except (KeyError, TypeError, ValueError):
        return None


def _retry_on(exc: Exception) -> bool:
    return isinstance(exc, FetchError) and exc.transient


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    source: SourceSettings,
    settings: CollectorSettings,
    stats: FetchStats,
    accepted: frozenset[int] = frozenset(),
) -> Fetched:
    """Fetch with retries; ``stats`` tells the caller how it went, also when it raises."""
    async for attempt in stamina.retry_context(
        on=_retry_on,
        attempts=settings.retries + 1,
        timeout=None,
        wait_initial=settings.backoff_initial.total_seconds(),
        wait_max=settings.backoff_max.total_seconds(),
        wait_jitter=settings.backoff_initial.total_seconds(),
    ):
        with attempt:
            stats.attempts += 1
            start = time.perf_counter()
            try:
                fetched = await fetch_once(client, url, source.timeout.total_seconds(), source.max_bytes, accepted)
            except FetchError as exc:
                stats.latency_ms = (time.perf_counter() - start) * 1000
                stats.status = exc.status
                raise
            stats.latency_ms = (time.perf_counter() - start) * 1000
            stats.status = fetched.status
            stats.bytes += len(fetched.body)
            return fetched
    raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover
