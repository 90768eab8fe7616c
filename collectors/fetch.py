"""Fetching one URL the way an operations centre must: a size cap, a timeout, and retries with
exponential backoff and jitter for transient errors only (through ``stamina``).

Error messages here are ours: they reach every feed role (``runs.error``). Text from the upstream's
answer (an error page's body) goes into ``detail`` instead, for the log and the kept payload.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import stamina
import stamina.instrumentation

from collectors.config import CollectorSettings, SourceSettings
from collectors.sources.base import Fetched

log = logging.getLogger(__name__)

DETAIL_CHARS = 500  # of an upstream error body, for the log


class FetchError(Exception):
    """The upstream could not be read; ``transient`` errors are worth retrying."""

    transient = False
    status: int | None = None
    detail: str | None = None  # upstream text (never in the message itself)
    url: str | None = None  # the URL asked for, for the log (never in the message: its query may hold a key)
    body: bytes | None = None  # the answer's bytes, when there was one: kept with the failed run
    content_type: str | None = None
    content_encoding: str | None = None


class TransientError(FetchError):
    transient = True


class Truncated(TransientError):
    """The answer ended before the length it announced: nothing of it is used."""


class UpstreamStatus(FetchError):
    def __init__(
        self, status: int, body: bytes, content_type: str | None = None, content_encoding: str | None = None
    ) -> None:
        self.status = status
        self.transient = status >= 500 or status in (408, 425, 429)
        self.body, self.content_type, self.content_encoding = body, content_type, content_encoding
        snippet = " ".join(body[: DETAIL_CHARS * 2].decode("utf-8", "replace").split())[:DETAIL_CHARS]
        self.detail = snippet or None
        kept = f" (its {len(body):,}-byte answer is kept with the run)" if body else ""
        super().__init__(f"HTTP {status} from the source{kept}")


_SHORT = re.compile(r"received ([0-9]+) bytes, expected ([0-9]+)")


class TooLarge(FetchError):
    pass


class OffOrigin(FetchError):
    """A redirect to an origin the source is not allowed (its own, or its ``redirect_origins``):
    not followed, so the request is never made (a redirect must not reach an internal address)."""


MAX_REDIRECTS = 5


def origin(url: str | httpx.URL) -> str:
    """scheme://host:port of ``url``, the port always given (so http://a and http://a:80 are one)."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}:{parts.port or {'http': 80, 'https': 443}.get(parts.scheme, 0)}"


def within(link: str, origins: frozenset[str]) -> bool:
    """Whether ``link`` is on one of ``origins`` (scheme, host and port); False for what is not a URL."""
    try:
        return origin(link) in origins
    except (httpx.InvalidURL, TypeError):
        return False


@dataclass
class FetchStats:
    attempts: int = 0
    latency_ms: float = 0.0  # of the successful (or last) attempt
    bytes: int = 0
    status: int | None = None


async def fetch_once(
    client: httpx.AsyncClient,
    url: str,
    read_timeout: float,
    max_bytes: int,
    accepted: frozenset[int] = frozenset(),
    origins: frozenset[str] | None = None,
) -> Fetched:
    """One GET, following redirects only within ``origins`` (default: ``url``'s own), each hop checked
    before it is requested; raises FetchError (transient or not) instead of httpx's many exceptions."""
    allowed = origins if origins is not None else frozenset({origin(url)})
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            location = await _get(client, url, read_timeout, max_bytes, accepted)
        except FetchError as exc:
            exc.url = url  # for the log only: a URL may carry an upstream's key in its query
            raise
        if isinstance(location, Fetched):
            return location
        try:
            target = httpx.URL(url).join(location)
        except (httpx.InvalidURL, TypeError):
            raise OffOrigin("the source redirected to an address that is not a URL; not followed") from None
        if not within(str(target), allowed):
            # The origin only (no path or query, which may carry keys): every role reads run errors.
            raise OffOrigin(
                f"the source redirected off its own origin, to {_shown_origin(target)}; not followed "
                "(allow it in the source's redirect_origins if it is the agency's)"
            )
        url = str(target)
    raise OffOrigin(f"the source redirected more than {MAX_REDIRECTS} times; not followed further")


async def _get(
    client: httpx.AsyncClient, url: str, read_timeout: float, max_bytes: int, accepted: frozenset[int]
) -> Fetched | str:
    """One request, no redirect followed: the answer, or the Location a redirect names."""
    try:
        async with client.stream("GET", url, timeout=read_timeout, follow_redirects=False) as response:
            if response.is_redirect:
                return response.headers["location"]
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"the answer of {int(declared):,} bytes is over the {max_bytes:,}-byte cap")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"the answer passed the {max_bytes:,}-byte cap")
                chunks.append(chunk)
            body = b"".join(chunks)
            content_type = response.headers.get("content-type")
            # httpx undoes a Content-Encoding (gzip, br, ...): the body, and its digest, are the decoded bytes.
            encoding = response.headers.get("content-encoding")
            if response.status_code >= 400 and response.status_code not in accepted:
                raise UpstreamStatus(response.status_code, body, content_type, encoding)
            return Fetched(url, response.status_code, content_type, body, _date(response), encoding)
    except httpx.TimeoutException as exc:
        raise TransientError(f"timed out after {read_timeout:g}s reading the source ({type(exc).__name__})") from None
    except httpx.RemoteProtocolError as exc:
        short = _SHORT.search(str(exc))
        if short or "incomplete" in str(exc) or "complete message body" in str(exc):
            told = f": {int(short[1]):,} of the {int(short[2]):,} bytes its Content-Length announced" if short else ""
            raise Truncated(f"the answer was cut off{told}; nothing of it is used") from None
        raise TransientError(f"cannot reach the source: {type(exc).__name__}") from None
    except httpx.DecodingError as exc:  # a compressed body cut short, or not what its Content-Encoding says
        raise Truncated(f"the answer cannot be decoded ({type(exc).__name__}); nothing of it is used") from None
    except httpx.TransportError as exc:
        raise TransientError(f"cannot reach the source: {type(exc).__name__} {_reason(exc)}".strip()) from None


def _reason(exc: Exception) -> str:
    """httpx's words for a transport failure, without the URL some of them quote."""
    text = str(exc)
    try:
        text = text.replace(str(exc.request.url), "the source") if isinstance(exc, httpx.RequestError) else text
    except RuntimeError:  # no request attached
        pass
    return text if len(text) <= 200 else text[:200] + "…"


def _shown_origin(url: httpx.URL) -> str:
    try:
        return origin(url)
    except (httpx.InvalidURL, TypeError):
        return "an address that is not a URL"


def allowed_origins(source: SourceSettings) -> frozenset[str]:
    """Where a source's requests may go: its own origin and those its configuration names."""
    return _origins(str(source.url), tuple(source.redirect_origins))


@functools.lru_cache(maxsize=4096)
def _origins(url: str, redirect_origins: tuple[str, ...]) -> frozenset[str]:
    # Asked on every request: httpx parses a URL in pure Python, and a source's origins never change.
    return frozenset({origin(url), *(origin(o) for o in redirect_origins)})


def _date(response: httpx.Response) -> datetime | None:
    try:
        return parsedate_to_datetime(response.headers["date"])
    except (KeyError, TypeError, ValueError):
        return None


def _retry_on(exc: BaseException) -> bool:
    """Retry transient fetch failures only (stamina hands the predicate any BaseException)."""
    return isinstance(exc, FetchError) and exc.transient


# Which source a retry belongs to: stamina's hooks see only "<context block>".
_fetching: ContextVar[tuple[str, int]] = ContextVar("fetching", default=("?", 0))


def _log_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """One line per retry that names the source (instead of stamina's anonymous ``retry_scheduled``)."""
    source, attempts = _fetching.get()
    log.warning(
        "source %s: attempt %d of %d failed (%s); retrying in %.1fs",
        source,
        details.retry_num,
        attempts,
        details.caused_by,
        details.wait_for,
    )


stamina.instrumentation.set_on_retry_hooks([_log_retry])


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    source: SourceSettings,
    settings: CollectorSettings,
    stats: FetchStats,
    accepted: frozenset[int] = frozenset(),
) -> Fetched:
    """Fetch with retries; ``stats`` tells the caller how it went, also when it raises."""
    _fetching.set((source.name, settings.retries + 1))  # this task's context only
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
                fetched = await fetch_once(
                    client, url, source.timeout.total_seconds(), source.max_bytes, accepted, allowed_origins(source)
                )
            except FetchError as exc:
                stats.latency_ms = (time.perf_counter() - start) * 1000
                stats.status = exc.status
                raise
            stats.latency_ms = (time.perf_counter() - start) * 1000
            stats.status = fetched.status
            stats.bytes += len(fetched.body)
            return fetched
    raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover
