"""Numbers as each language writes them, from CLDR data: Vietnamese 1.234,5 and English 1,234.5.

The one number formatter of the product: the server's alert texts, the console and the CLI call it,
and the wall page's ``Intl.NumberFormat`` is held to it by a parity test in Chromium
(tests/test_wording_browser.py). For the two to agree digit for digit, a value is rounded here as
Chromium rounds it: its shortest round-trip text (1.005 is "1.005", not 1.00499999…), half away
from zero; a value that rounds to zero is written without a sign (``signDisplay: "negative"``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache
from typing import Literal

from babel import Locale
from babel.numbers import NumberPattern, format_decimal, parse_pattern

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
# Babel's locale and the browser's (BCP 47) for each language.
BABEL_LOCALE = {"vi": "vi_VN", "en": "en_US"}
INTL_LOCALE = {"vi": "vi-VN", "en": "en-US"}
NONE = "—"  # no figure
# Enough for any two different doubles to print differently (17 significant digits).
MAX_DECIMALS = 20
_WIDE = Context(prec=400)  # room for any double's digits and MAX_DECIMALS more (the default is 28)


def number(
    value: float | int | None,
    lang: Lang,
    decimals: int | None = None,
    *,
    apart_from: Iterable[float | int | None] = (),
) -> str:
    """``number(1234.5, "vi") == "1.234,5"``.

    ``decimals``: digits after the decimal mark, always shown (``number(4.4, "vi", 2) == "4,40"``);
    None: up to two (one from 1,000 on), trailing zeros dropped.
    ``apart_from``: the figures this one is shown beside (what a revision replaced): it gets as many
    more digits as it takes to read differently from each (1.111345 revised to 1.11 is not "1,11" twice).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NONE
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else f"{minus(lang)}∞"
    usual = _default_decimals(value) if decimals is None else max(0, min(decimals, MAX_DECIMALS))
    places = usual
    for other in apart_from:
        if other is None or other == value or (isinstance(other, float) and not math.isfinite(other)):
            continue
        while places < MAX_DECIMALS and _rounded(value, places) == _rounded(other, places):
            places += 1
    rounded = _rounded(value, places)
    # Trailing zeros go: all of them without ``decimals``; beyond ``decimals`` the digits a revision
    # needed, and no zero past them (1.1113 beside 1.111345 is "1,1113", not "1,11130").
    keep = 0 if decimals is None else usual
    shown = max(0, -rounded.as_tuple().exponent)  # type: ignore[operator]
    digits = format(abs(rounded), "f").split(".")[1] if shown else ""  # "f": never "1E-7"
    shown = max(keep, len(digits.rstrip("0")))
    rounded = rounded.quantize(Decimal(1).scaleb(-shown), context=_WIDE)
    return format_decimal(rounded, format=_pattern(shown), locale=_locale(lang), decimal_quantization=True)


def digits_apart(values: Iterable[float | None], decimals: int) -> int:
    """The digits that show each of ``values`` differently from the others, at least ``decimals``."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    places = decimals
    while places < MAX_DECIMALS and len({_rounded(v, places) for v in present}) < len(set(present)):
        places += 1
    return places


@cache
def minus(lang: Lang) -> str:
    return str(_locale(lang).number_symbols["latn"]["minusSign"])


# Babel's locale and pattern, parsed once: given their names, it parsed both again for every number
# (a third of an alert text's cost).
@cache
def _locale(lang: Lang) -> Locale:
    return Locale.parse(BABEL_LOCALE[lang])


@cache
def _pattern(decimals: int) -> NumberPattern:
    """Thousands grouped, exactly ``decimals`` digits after the decimal mark."""
    return parse_pattern("#,##0" + ("." + "0" * decimals if decimals else ""))


def _default_decimals(value: float | int) -> int:
    return 0 if float(value).is_integer() else (2 if abs(value) < 1000 else 1)


def _rounded(value: float | int, places: int) -> Decimal:
    """``value`` rounded as the browser's Intl does (V8's ICU, found by the parity test): the shortest
    text that reads back as the double, ties away from zero, no negative zero."""
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(int(value))
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_WIDE)
    return abs(rounded) if rounded.is_zero() else rounded
