"""What every upstream adapter does: say what to fetch, and turn the bytes received into
validated observations (docs/agency-json.md).

Adapters do no I/O: the run pipeline fetches (with timeouts, retries, a size cap and the
circuit breaker) and hands the response here. That keeps each adapter a pure function of the
bytes, easy to test on specimens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from storage.models import ObservationIn, Rejection


@dataclass(frozen=True)
class Fetched:
    """One HTTP response as received."""

    url: str
    status: int
    content_type: str | None
    body: bytes
    date: datetime | None = None  # the server's Date header: its clock, for cursors the payload lacks
    content_encoding: str | None = None  # how it came on the wire (gzip, br...); ``body`` is always decoded


@dataclass
class Parsed:
    """What one response held."""

    records: list[ObservationIn] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)  # records unreadable on their own
    next_url: str | None = None  # another page of the same answer
    cursor: str | None = None  # where the next incremental pull starts (saved after the last page)
    positions: list[int] | None = None  # each record's position in the payload, when some were dropped


class PayloadError(ValueError):
    """The response as a whole is unusable (not JSON, not the expected format): no figure is stored.

    The message is ours and goes to every feed role (``runs.error``); ``detail`` holds text quoted from
    the upstream's answer (an agency's own error message, the payload's first bytes), which is kept
    out of that message: it goes to the server's log, and the payload itself is kept with the run.
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


def load_json(body: bytes) -> Any:
    """The JSON document in ``body``; a PayloadError that names truncation when it ends unclosed."""
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not valid JSON ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        end = len(exc.doc.rstrip())
        if end and exc.pos >= end:  # the parser wanted more: the document stops before it is closed
            raise PayloadError(
                f"not valid JSON: truncated, the document ends at byte {len(body):,} before it is closed "
                "(the payload was cut off); nothing from it is stored"
            ) from None
        raise PayloadError(f"not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno})") from None


class Adapter(Protocol):
    # HTTP statuses (besides 2xx) whose body the adapter reads: SDMX REST answers "no results" with 404.
    accepted_statuses: frozenset[int]

    def first_url(self, cursor: str | None) -> str:
        """The URL of the first page, given the cursor saved by the last complete pull."""
        ...

    def parse(self, fetched: Fetched) -> Parsed:
        """Records and rejections of one response; raises PayloadError if it is unusable."""
        ...


def validate_records(
    raw: Sequence[Any], offset: int = 0, model: type[ObservationIn] = ObservationIn
) -> tuple[list[ObservationIn], list[Rejection]]:
    """Validate each record on its own (as ``model``, a format's own record): one bad record never
    spoils the others."""
    good: list[ObservationIn] = []
    bad: list[Rejection] = []
    validate = model.model_validate
    for i, item in enumerate(raw):
        try:
            good.append(validate(item))
        except ValidationError as exc:
            bad.append(Rejection(index=offset + i, record=_as_dict(item), reason=describe(exc)))
    return good, bad


def describe(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        loc = ".".join(str(x) for x in e["loc"]) or "record"
        parts.append(f"{loc}: {e['msg'].removeprefix('Value error, ')}")
    more = f" (and {len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return "; ".join(parts) + more


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return {str(k): v for k, v in item.items()}
    return {"record": repr(item)[:200]}
