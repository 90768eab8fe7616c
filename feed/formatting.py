"""How figures are written for people: English (1,234.5) or Vietnamese (1.234,5) separators,
units and statuses in one language, and revisions never written the same as what they revise.

Part of what a feed client may import (the console does), next to the protocol models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

Locale = Literal["en", "vi"]

# Enough for any two different doubles to print differently (17 significant digits).
MAX_DECIMALS = 20

# The catalogue's units are Vietnamese; English output writes them in English. A unit not listed
# here (an indicator added by configuration) is shown as given.
UNITS_EN = {
    "%": "%",
    "%/năm": "%/year",
    "VND/USD": "VND/USD",
    "ca": "cases",
    "cuộc gọi": "calls",
    "doanh nghiệp": "enterprises",
    "dịch vụ": "services",
    "giao dịch": "transactions",
    "hệ thống": "systems",
    "hồ sơ": "dossiers",
    "lượt": "visits",
    "nghìn lượt": "thousand arrivals",
    "nghìn tấn": "thousand tonnes",
    "nghìn tỷ đồng": "trillion VND",
    "phản ánh": "petitions",
    "triệu người": "million people",
    "tài khoản": "accounts",
    "tỷ USD": "billion USD",
    "tỷ kWh": "billion kWh",
    "tỷ đồng": "billion VND",
    "văn bản": "documents",
    "vụ": "incidents",
}

STATUSES_VI = {"official": "chính thức", "provisional": "sơ bộ", "estimated": "ước tính"}


def unit_label(unit: str, locale: Locale = "vi") -> str:
    return UNITS_EN.get(unit, unit) if locale == "en" else unit


def status_label(status: str, locale: Locale = "vi") -> str:
    return STATUSES_VI.get(status, status) if locale == "vi" else status


def format_number(
    value: float | int | None,
    locale: Locale = "en",
    decimals: int | None = None,
    *,
    apart_from: Iterable[float | int | None] = (),
) -> str:
    """``format_number(1234.5, "vi") == "1.234,5"``; ``decimals=None`` keeps up to 2 significant decimals.

    ``apart_from``: the other revisions of the same figure. A revision that changed the value must
    not print the same as the value it replaced (1.111345 revised to 1.11 is not "1,11" twice), so
    the value gets as many more decimals as it takes to differ from each of them.
    """
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    strip = decimals is None
    places = _default_decimals(value) if decimals is None else decimals
    for other in apart_from:
        if other is None or other == value or (isinstance(other, float) and not math.isfinite(other)):
            continue
        while places < MAX_DECIMALS and _text(value, places, strip) == _text(other, places, strip):
            places += 1
    text = _text(value, places, strip)
    if locale == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def _default_decimals(value: float | int) -> int:
    return 0 if float(value).is_integer() else (2 if abs(value) < 1000 else 1)


def _text(value: float | int, places: int, strip: bool) -> str:
    """English separators; with ``strip``, no trailing zeros after the decimal point."""
    text = f"{value:,.{places}f}"
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
