"""How figures are written (wording/numbers.py, CLDR data): separators, signs, rounding, units, periods,
and a revision never written the same as what it revises. The browser's Intl is held to the same
digits in tests/test_wording_browser.py."""

from __future__ import annotations

import itertools

import pytest

from wording import label, number, period, unit_label, with_unit
from wording.numbers import Lang, digits_apart


def format_number(value: float | None, lang: Lang = "en", decimals: int | None = None, **kw: object) -> str:
    return number(value, lang, decimals, **kw)  # type: ignore[arg-type]


def test_separators_of_each_language() -> None:
    assert format_number(1234.5, "vi") == "1.234,5"
    assert format_number(1234.5, "en") == "1,234.5"
    assert format_number(1234567, "vi") == "1.234.567"
    assert format_number(3.10, "en") == "3.1"
    assert format_number(None) == "—"
    assert format_number(4.4, "vi", 2) == "4,40"


REVISED = [
    (1.111345, 1.11),  # the SDMX case: more digits revised to fewer
    (1.11, 1.111345),
    (2.004, 2.001),
    (1234.54, 1234.51),
    (1000.0, 1000.4),
    (7, 7.000001),
    (0.1 + 0.2, 0.3),  # two doubles that differ in the 17th digit
]


@pytest.mark.parametrize(("before", "after"), REVISED)
@pytest.mark.parametrize("locale", ["vi", "en"])
def test_a_revised_value_never_prints_as_its_predecessor(before: float, after: float, locale: str) -> None:
    old = format_number(before, locale, apart_from=[after])  # type: ignore[arg-type]
    new = format_number(after, locale, apart_from=[before])  # type: ignore[arg-type]
    assert old != new, (before, after, old)


def test_the_sdmx_revision_shows_the_digits_that_differ() -> None:
    assert format_number(1.11, "vi", apart_from=[1.111345]) == "1,11"
    assert format_number(1.111345, "vi", apart_from=[1.11]) == "1,111"
    # Unrelated or equal values change nothing.
    assert format_number(1.111345, "vi", apart_from=[1.111345, None]) == "1,11"
    assert format_number(2.004, "vi", decimals=1, apart_from=[2.001]) == "2,004"


def test_every_revision_of_a_figure_prints_differently() -> None:
    values = [3.1, 3.104, 3.0999, 3.1041]
    texts = [format_number(v, "vi", apart_from=values) for v in values]
    assert len(set(texts)) == len(values), texts
    for a, b in itertools.combinations(values, 2):
        assert format_number(a, apart_from=[b]) != format_number(b, apart_from=[a])


def test_units_and_statuses_in_one_language() -> None:
    assert unit_label("nghìn tỷ đồng", "en") == "trillion VND"
    assert unit_label("nghìn tỷ đồng", "vi") == "nghìn tỷ đồng"
    assert unit_label("made-up unit", "en") == "made-up unit"
    assert label("status.provisional", "vi") == "sơ bộ"
    assert label("status.provisional", "en") == "provisional"
    assert with_unit("4,4", "%") == "4,4%" and with_unit("48,52", "tỷ USD") == "48,52 tỷ USD"


@pytest.mark.parametrize(
    ("value", "decimals", "vi", "en"),
    [
        (-1234.5, 1, "-1.234,5", "-1,234.5"),  # CLDR's minus sign for both languages
        (-0.001, 2, "0,00", "0.00"),  # rounds to zero: no sign (Intl's signDisplay "negative")
        (0.125, 2, "0,13", "0.13"),  # a tie: half away from zero, as the browser's Intl
        (1.005, 2, "1,01", "1.01"),  # its shortest text is a tie, as Chromium's Intl reads it
        (2.5, 0, "3", "3"),
        (-2.5, 0, "-3", "-3"),
        (1e21, None, "1.000.000.000.000.000.000.000", "1,000,000,000,000,000,000,000"),
        (float("inf"), 1, "∞", "∞"),
        (float("-inf"), 1, "-∞", "-∞"),
        (float("nan"), 1, "—", "—"),
    ],
)
def test_signs_rounding_and_large_figures(value: float, decimals: int | None, vi: str, en: str) -> None:
    assert (number(value, "vi", decimals), number(value, "en", decimals)) == (vi, en)


def test_tiny_figures_and_many_decimals_are_written_in_full_not_in_exponent_form() -> None:
    # Decimal writes these as "1E-7" and "0E-20": the digits must still come out fixed-point.
    assert number(1e-7, "en", 2, apart_from=[2e-7]) == "0.0000001"
    assert number(0.0, "vi", 20) == "0," + "0" * 20
    assert number(1e-7, "vi") == "0"


def test_figures_side_by_side_get_just_the_digits_that_tell_them_apart() -> None:
    assert digits_apart([1.111345, 1.11], 2) == 3
    assert digits_apart([48.515000000000015, 45.008], 2) == 2
    assert digits_apart([3.0, 3.0], 1) == 1  # equal figures need nothing more


def test_periods_in_each_language() -> None:
    assert [period(p, "vi") for p in ("2026", "2026-Q3", "2026-10", "2026-10-05")] == [
        "năm 2026", "quý III/2026", "tháng 10/2026", "ngày 05/10/2026",
    ]  # fmt: skip
    assert [period(p, "en") for p in ("2026", "2026-Q3", "2026-10", "2026-10-05")] == [
        "2026", "Q3 2026", "October 2026", "5 October 2026",
    ]  # fmt: skip
    assert period("2026-10-05T07:00:00Z", "vi") == "2026-10-05T07:00:00Z"  # not a period: as given


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1d12h", 129600), ("1.5h", 5400),
     (" 1d 12h ", 129600)],
)  # fmt: skip
def test_one_duration_parser_reads_every_surfaces_durations(text: str, seconds: float) -> None:
    from wording.durations import parse_duration

    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "2h30", "-1h", "1d; rm", "2 hours"])
def test_a_duration_that_is_not_one_says_the_forms(text: str) -> None:
    from wording.durations import parse_duration

    with pytest.raises(ValueError, match=r"is not a duration: write it as '500ms', '30s'"):
        parse_duration(text)
