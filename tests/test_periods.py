from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from wording.periods import Frequency, Period, PeriodError


@pytest.mark.parametrize(
    ("text", "freq", "start", "end"),
    [
        ("2020-08-19", Frequency.DAILY, date(2020, 8, 19), date(2020, 8, 19)),
        ("2020-08", Frequency.MONTHLY, date(2020, 8, 1), date(2020, 8, 31)),
        ("2020-02", Frequency.MONTHLY, date(2020, 2, 1), date(2020, 2, 29)),  # leap year
        ("2021-02", Frequency.MONTHLY, date(2021, 2, 1), date(2021, 2, 28)),
        ("2020-Q1", Frequency.QUARTERLY, date(2020, 1, 1), date(2020, 3, 31)),
        ("2020-Q3", Frequency.QUARTERLY, date(2020, 7, 1), date(2020, 9, 30)),
        ("2020-Q4", Frequency.QUARTERLY, date(2020, 10, 1), date(2020, 12, 31)),
        ("2020", Frequency.YEARLY, date(2020, 1, 1), date(2020, 12, 31)),
        ("2020-08-19T10:15:00Z", Frequency.LIVE, date(2020, 8, 19), date(2020, 8, 19)),
    ],
)
def test_every_frequency_parses_and_formats_back(text: str, freq: Frequency, start: date, end: date) -> None:
    p = Period.parse(text)
    assert p.frequency is freq
    assert p.start_date == start
    assert p.end_date == end
    assert str(p) == text
    assert Period.parse(str(p)) == p


def test_live_times_are_normalised_to_utc_seconds() -> None:
    p = Period.parse("2020-08-19T17:15:30.999+07:00")
    assert str(p) == "2020-08-19T10:15:30Z"
    assert p.start == datetime(2020, 8, 19, 10, 15, 30, tzinfo=UTC)
    assert Period.at(datetime(2020, 8, 19, 17, 15, tzinfo=timezone(timedelta(hours=7)))) == Period.parse(
        "2020-08-19T10:15:00Z"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "2020-8",
        "2020-13",
        "2020-00",
        "2020-Q5",
        "2020-Q0",
        "2020q3",
        "2021-02-29",
        "20-08-19",
        "2020/08/19",
        " 2020",
        "2020 ",
        "２０２０",  # full-width digits are not ASCII digits
        "2020-08-19T10:15:00",  # a live time without a zone is ambiguous
        "2020-W34",
        "abc",
    ],
)
def test_bad_strings_name_the_input_and_the_expected_forms(bad: str) -> None:
    with pytest.raises(PeriodError) as info:
        Period.parse(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert "YYYY-MM-DD" in message and "YYYY-Qn" in message and "YYYY-MM" in message


def test_non_string_is_refused() -> None:
    with pytest.raises(PeriodError):
        Period.parse(2020)  # type: ignore[arg-type]


def test_frequency_must_match_when_asked() -> None:
    assert Period.parse("2020-08", "M").frequency is Frequency.MONTHLY
    with pytest.raises(PeriodError, match="a M period where Q is expected"):
        Period.parse("2020-08", Frequency.QUARTERLY)


def test_ordering_within_and_across_frequencies() -> None:
    months = [Period.parse(t) for t in ("2021-01", "2020-12", "2020-02", "2020-10")]
    assert [str(p) for p in sorted(months)] == ["2020-02", "2020-10", "2020-12", "2021-01"]
    quarters = sorted(Period.parse(t) for t in ("2020-Q4", "2020-Q1", "2019-Q4"))
    assert [str(p) for p in quarters] == ["2019-Q4", "2020-Q1", "2020-Q4"]
    # Across frequencies: by start, then the coarser period first.
    assert Period.parse("2020") < Period.parse("2020-Q1") < Period.parse("2020-01") < Period.parse("2020-01-01")
    assert Period.parse("2020-12-31") < Period.parse("2021")


@pytest.mark.parametrize(
    ("day", "freq", "expected"),
    [
        (date(2020, 8, 19), "D", "2020-08-19"),
        (date(2020, 8, 19), "M", "2020-08"),
        (date(2020, 8, 19), "Q", "2020-Q3"),
        (date(2020, 12, 31), "Q", "2020-Q4"),
        (date(2020, 1, 1), "Q", "2020-Q1"),
        (date(2020, 8, 19), "Y", "2020"),
    ],
)
def test_period_containing_a_date(day: date, freq: str, expected: str) -> None:
    p = Period.containing(day, freq)
    assert str(p) == expected
    assert p.contains(day)


def test_due_date_of_a_report_given_its_lag() -> None:
    # A monthly figure is due around the 20th of the next month.
    assert Period.parse("2020-08").due(20) == date(2020, 9, 20)
    assert Period.parse("2020-Q4").due(30) == date(2021, 1, 30)
    assert Period.parse("2020").due(0) == date(2020, 12, 31)


def test_next_period() -> None:
    assert str(Period.parse("2020-12").next()) == "2021-01"
    assert str(Period.parse("2020-Q4").next()) == "2021-Q1"
    assert str(Period.parse("2020-02-28").next()) == "2020-02-29"
    with pytest.raises(ValueError):
        Period.parse("2020-08-19T10:15:00Z").next()
