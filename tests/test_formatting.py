"""How figures are written: separators, and a revision never written the same as what it revises."""

from __future__ import annotations

import itertools

import pytest

from feed.formatting import format_number, status_label, unit_label


def test_separators_of_each_language() -> None:
    assert format_number(1234.5, "vi") == "1.234,5"
    assert format_number(1234.5, "en") == "1,234.5"
    assert format_number(1234567, "vi") == "1.234.567"
    assert format_number(3.10, "en") == "3.1"
    assert format_number(None) == "—"


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
    assert status_label("provisional", "vi") == "sơ bộ"
    assert status_label("provisional", "en") == "provisional"
