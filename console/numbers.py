"""Numbers, changes, times and ages as each language writes them: Vietnamese 1.234,5 and
English 1,234.5, from the product's one formatter (wording/numbers.py, CLDR data). Pure functions;
the app binds them to its language (``app.fmt_number``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from wording import number
from wording.dates import CENTRE_TZ
from wording.numbers import Lang as WordingLang
from wording.numbers import minus

Lang = str  # "vi" | "en"

__all__ = ["CENTRE_TZ", "fmt_age", "fmt_change", "fmt_number", "fmt_percent", "fmt_time", "parse_number", "to_lang"]


def to_lang(lang: Lang) -> WordingLang:
    """The console's language as the wording package names it."""
    return "en" if lang == "en" else "vi"


def fmt_number(value: float | None, decimals: int = 1, lang: Lang = "vi") -> str:
    """``1234.5`` → ``1.234,5`` (vi) or ``1,234.5`` (en); None → ``—``."""
    return number(value, to_lang(lang), max(0, min(decimals, 6)))


def fmt_change(delta: float | None, decimals: int = 1, lang: Lang = "vi") -> str:
    """A change with its direction in symbols as well as sign: ``▲ +1,2``, ``▼ −0,3``, ``= 0``
    (colour is never the only signal)."""
    if delta is None or math.isnan(delta):
        return "—"
    body = fmt_number(abs(delta), decimals, lang)
    if body.strip("0.,") == "":
        return f"= {body}"
    return f"▲ +{body}" if delta > 0 else f"▼ {minus(to_lang(lang))}{body}"


def fmt_percent(ratio: float | None, lang: Lang = "vi", decimals: int = 1) -> str:
    if ratio is None or math.isnan(ratio):
        return "—"
    return fmt_number(ratio * 100, decimals, lang) + " %"


def fmt_time(moment: datetime | None, lang: Lang = "vi", *, seconds: bool = True, date: bool = True) -> str:
    """A moment in the centre's time (UTC+7), e.g. ``2025-03-01 14:05:09``."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(CENTRE_TZ)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return local.strftime(f"%Y-%m-%d {clock}" if date else clock)


def fmt_age(age: timedelta | None, lang: Lang = "vi") -> str:
    """How long ago, coarsely: ``4 s``, ``3 ph``/``3 min``, ``2 giờ``/``2 h``, ``5 ngày``/``5 d``."""
    if age is None:
        return "—"
    s = max(0, int(age.total_seconds()))
    units = (
        (86400, "ngày", "d"),
        (3600, "giờ", "h"),
        (60, "ph", "min"),
        (1, "s", "s"),
    )
    for size, vi, en in units:
        if s >= size or size == 1:
            return f"{s // size} {vi if lang == 'vi' else en}"
    return "—"  # unreachable


def parse_number(text: str, lang: Lang = "vi") -> float:
    """The inverse of ``fmt_number`` (for typed thresholds): raises ValueError with the format expected."""
    raw = text.strip().replace("\u2212", "-").replace(" ", "")  # a typed U+2212 minus is a minus too
    raw = raw.replace(".", "").replace(",", ".") if lang == "vi" else raw.replace(",", "")
    try:
        return float(raw)
    except ValueError:
        example = "1.234,5" if lang == "vi" else "1,234.5"
        raise ValueError(f"not a number: {text!r} (write it as {example})") from None
