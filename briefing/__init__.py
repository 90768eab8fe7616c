"""The leaders' briefing: the centre's figures for one period, as known at one instant, with the
source of every figure in print (docs/briefing.md).

``make`` gathers the content from the store as of ``as_of`` (``content.py``), words it in one
language and lays it out as HTML (``render.py``), and prints that to PDF. The HTML is the canonical
content: two briefings for the same instant have the same HTML and so the same ``content_digest``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from briefing.content import BriefingError
from collectors.config import RulesSettings
from storage import Period, PeriodError, Store
from storage.clock import utcnow
from wording import Lang

__all__ = ["BriefingError", "Made", "make"]

MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class Made:
    """A briefing made: its bytes and what they are; ``content_digest`` is the sha256 (hex) of its
    canonical content (the HTML), equal for two generations with the same ``as_of``."""

    body: bytes
    media_type: str
    content_digest: str
    period: str
    as_of: datetime
    lang: str
    fmt: str


async def make(
    store: Store,
    *,
    period: str,
    as_of: datetime | None = None,
    lang: Lang = "vi",
    fmt: Literal["pdf", "html"] = "pdf",
    indicators: Sequence[str] | None = None,
    rules: RulesSettings | None = None,
) -> Made:
    """The briefing of ``period`` as the store knew it at ``as_of`` (default: now, printed in its stamp).

    Raises ``BriefingError`` for a period that is not one, an ``as_of`` without a time zone or in
    the future, an unknown indicator, or a store holding no figure of the indicators by then."""
    import asyncio

    from briefing.content import gather
    from briefing.render import html, pdf

    try:
        parsed = Period.parse(period)
    except PeriodError as exc:
        raise BriefingError(str(exc)) from None
    if parsed.frequency.value == "live":
        raise BriefingError(
            f"a briefing is of a reporting period (a month, a quarter, a year), not an instant: {period!r}"
        )
    now = utcnow()
    at = now if as_of is None else as_of
    if at.tzinfo is None:
        raise BriefingError(f"as_of {at.isoformat()} has no time zone")
    if at > now:
        raise BriefingError(f"as_of {at.isoformat()} is in the future")
    if fmt not in MEDIA_TYPES:
        raise BriefingError(f"unknown format {fmt!r}: pdf or html")
    content = await gather(store, parsed, at, indicators=indicators, rules=rules or RulesSettings())
    # Drawn and written off the event loop (the charts take a few tenths of a second each).
    text = await asyncio.to_thread(html, content, lang, await store.reference.names())
    canonical = text.encode("utf-8")
    body = canonical if fmt == "html" else await asyncio.to_thread(pdf, text)
    return Made(
        body=body,
        media_type=MEDIA_TYPES[fmt],
        content_digest=hashlib.sha256(canonical).hexdigest(),
        period=str(parsed),
        as_of=at,
        lang=lang,
        fmt=fmt,
    )
