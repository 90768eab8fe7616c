"""Periods, dates and moments as each language writes them (periods parsed by ``wording.periods``).

Periods are the store's canonical text (``2026``, ``2026-Q3``, ``2026-10``, ``2026-10-05``);
anything else (a live counter's instant) is shown as given. Moments are shown in the centre's
time, UTC+7, as the wall page and the console show them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from babel.dates import format_date, get_month_names

from wording.catalogue import label
from wording.numbers import BABEL_LOCALE, Lang
from wording.periods import Frequency, Period, PeriodError

CENTRE_TZ = timezone(timedelta(hours=7), "UTC+7")
_ROMAN = ("", "I", "II", "III", "IV")


def period(text: str, lang: Lang) -> str:
    """``2026-10`` → ``tháng 10/2026`` / ``October 2026``; ``2026-Q3`` → ``quý III/2026`` / ``Q3 2026``."""
    try:
        p = Period.parse(text)
    except PeriodError:
        return text
    if p.frequency is Frequency.LIVE:
        return text
    s, year = p.start, f"{p.start.year:04d}"
    if p.frequency is Frequency.QUARTERLY:
        quarter = (s.month - 1) // 3 + 1
        return label("period.Q", lang, None, year=year, quarter=quarter, roman=_ROMAN[quarter])
    if p.frequency is Frequency.YEARLY:
        return label("period.Y", lang, None, year=year)
    month, name = f"{s.month:02d}", str(get_month_names("wide", locale=BABEL_LOCALE[lang])[s.month])
    if p.frequency is Frequency.MONTHLY:
        return label("period.M", lang, None, year=year, month=month, month_name=name)
    return label("period.D", lang, None, year=year, month=month, day=f"{s.day:02d}", day_number=s.day, month_name=name)


def day(value: str | date, lang: Lang) -> str:
    """A date (a report's due date): ``05/11/2026`` / ``5 Nov 2026``."""
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(d, "dd/MM/yyyy" if lang == "vi" else "d MMM yyyy", locale=BABEL_LOCALE[lang])


def moment(value: str | datetime, *, seconds: bool = False) -> str:
    """An instant in the centre's time: ``2026-12-07 21:55`` (the same in both languages)."""
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(CENTRE_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def period_start(text: str) -> date | None:
    """The first day of a period (``2026-Q3`` → 2026-07-01); None if the text is not one."""
    try:
        return Period.parse(text).start_date
    except PeriodError:
        return None
