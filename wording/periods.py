"""Reporting periods: parsed strictly, formatted canonically, ordered.

A period is what an observation is "for": a day ``2020-08-19`` (D), a month ``2020-08`` (M), a
quarter ``2020-Q3`` (Q), a year ``2020`` (Y), or, for live counters, the UTC instant the counter
was read (``2020-08-19T10:15:00Z``). The canonical text form sorts correctly as a string within one
frequency, which is what the store relies on.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache, total_ordering


class Frequency(StrEnum):
    DAILY = "D"
    MONTHLY = "M"
    QUARTERLY = "Q"
    YEARLY = "Y"
    LIVE = "live"


EXPECTED_FORMS = (
    "expected one of: 'YYYY-MM-DD' (daily), 'YYYY-MM' (monthly), 'YYYY-Qn' (quarterly), "
    "'YYYY' (yearly), or an ISO 8601 time with a zone such as '2020-08-19T10:15:00Z' (live)"
)


class PeriodError(ValueError):
    """A period string that is not one of the accepted forms."""

    def __init__(self, text: object, reason: str = "") -> None:
        self.text = text
        detail = f" ({reason})" if reason else ""
        super().__init__(f"invalid period {text!r}{detail}: {EXPECTED_FORMS}")


_DAILY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONTHLY = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTERLY = re.compile(r"([0-9]{4})-Q([1-4])")
_YEARLY = re.compile(r"([0-9]{4})")
_LIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})")

_ORDER = {Frequency.YEARLY: 0, Frequency.QUARTERLY: 1, Frequency.MONTHLY: 2, Frequency.DAILY: 3, Frequency.LIVE: 4}


@total_ordering
@dataclass(frozen=True, slots=True)
class Period:
    """One reporting period. Build with :meth:`parse`, :meth:`containing` or :meth:`at`."""

    frequency: Frequency
    start: datetime  # first instant of the period, UTC
    end_date: date  # last day of the period (for live: the day of the instant)

    # --- construction -------------------------------------------------------------------------

    @staticmethod
    def parse(text: str, frequency: Frequency | str | None = None) -> Period:
        """Parse ``text``; with ``frequency`` given, the text must be of that frequency."""
        period = _parse_cached(text) if isinstance(text, str) else _raise(text, "not a string")
        if frequency is not None and period.frequency != Frequency(frequency):
            raise PeriodError(text, f"a {period.frequency.value} period where {Frequency(frequency).value} is expected")
        return period

    @staticmethod
    def containing(day: date | datetime, frequency: Frequency | str) -> Period:
        """The period of ``frequency`` that contains ``day``."""
        freq = Frequency(frequency)
        if freq is Frequency.LIVE:
            if not isinstance(day, datetime):
                raise TypeError("a live period needs a datetime")
            return Period.at(day)
        d = day.date() if isinstance(day, datetime) else day
        if freq is Frequency.DAILY:
            return Period.parse(d.isoformat())
        if freq is Frequency.MONTHLY:
            return Period.parse(f"{d.year:04d}-{d.month:02d}")
        if freq is Frequency.QUARTERLY:
            return Period.parse(f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}")
        return Period.parse(f"{d.year:04d}")

    @staticmethod
    def at(instant: datetime) -> Period:
        """The live period of a counter read at ``instant`` (needs a time zone), to the second."""
        if instant.tzinfo is None:
            raise PeriodError(instant.isoformat(), "a live time needs a time zone")
        utc = instant.astimezone(UTC).replace(microsecond=0)
        return Period(Frequency.LIVE, utc, utc.date())

    # --- queries -------------------------------------------------------------------------------

    @property
    def start_date(self) -> date:
        return self.start.date()

    def due(self, lag_days: int) -> date:
        """The date a report for this period is due: ``lag_days`` after the period ends."""
        return self.end_date + timedelta(days=lag_days)

    def next(self) -> Period:
        """The period that follows this one (not defined for live periods)."""
        if self.frequency is Frequency.LIVE:
            raise ValueError("live periods have no successor")
        return Period.containing(self.end_date + timedelta(days=1), self.frequency)

    def contains(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date

    def __str__(self) -> str:
        return _format(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return (self.start, _ORDER[self.frequency]) < (other.start, _ORDER[other.frequency])


@lru_cache(maxsize=65536)
def canonical_period(text: str) -> str:
    """The canonical text of a period (validated): ``"2020-08-19T17:15:00+07:00"`` -> ``"2020-08-19T10:15:00Z"``."""
    return str(Period.parse(text))


def _raise(text: object, reason: str) -> Period:
    raise PeriodError(text, reason)


def _format(p: Period) -> str:
    s = p.start
    if p.frequency is Frequency.DAILY:
        return f"{s.year:04d}-{s.month:02d}-{s.day:02d}"
    if p.frequency is Frequency.MONTHLY:
        return f"{s.year:04d}-{s.month:02d}"
    if p.frequency is Frequency.QUARTERLY:
        return f"{s.year:04d}-Q{(s.month - 1) // 3 + 1}"
    if p.frequency is Frequency.YEARLY:
        return f"{s.year:04d}"
    return s.strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@lru_cache(maxsize=65536)
def _parse_cached(text: str) -> Period:
    try:
        if m := _DAILY.fullmatch(text):
            d = date(int(m[1]), int(m[2]), int(m[3]))
            return Period(Frequency.DAILY, _utc(d), d)
        if m := _MONTHLY.fullmatch(text):
            y, mo = int(m[1]), int(m[2])
            if not 1 <= mo <= 12:
                raise PeriodError(text, f"month {mo} is out of range")
            last = calendar.monthrange(y, mo)[1]
            return Period(Frequency.MONTHLY, _utc(date(y, mo, 1)), date(y, mo, last))
        if m := _QUARTERLY.fullmatch(text):
            y, q = int(m[1]), int(m[2])
            first = date(y, 3 * q - 2, 1)
            last_month = 3 * q
            return Period(Frequency.QUARTERLY, _utc(first), date(y, last_month, calendar.monthrange(y, last_month)[1]))
        if m := _YEARLY.fullmatch(text):
            y = int(m[1])
            return Period(Frequency.YEARLY, _utc(date(y, 1, 1)), date(y, 12, 31))
        if _LIVE.fullmatch(text):
            return Period.at(datetime.fromisoformat(text))
    except PeriodError:
        raise
    except ValueError as exc:  # a date that does not exist, such as 2021-02-30
        raise PeriodError(text, str(exc)) from None
    raise PeriodError(text)
