"""How figures are written for people: English (1,234.5) or Vietnamese (1.234,5) separators.

Part of what a feed client may import (the console does), next to the protocol models.
"""

from __future__ import annotations

import math
from typing import Literal

Locale = Literal["en", "vi"]


def format_number(value: float | int | None, locale: Locale = "en", decimals: int | None = None) -> str:
    """``format_number(1234.5, "vi") == "1.234,5"``; ``decimals=None`` keeps up to 2 significant decimals."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if decimals is None:
        decimals = 0 if float(value).is_integer() else (2 if abs(value) < 1000 else 1)
    text = f"{value:,.{decimals}f}"
    if decimals and "." in text:
        text = text.rstrip("0").rstrip(".") if not float(value).is_integer() else text
    if locale == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text
