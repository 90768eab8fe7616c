"""Periods, dates and moments as each language writes them.

Periods are the store's canonical text (``2026``, ``2026-Q3``, ``2026-10``, ``2026-10-05``);
anything else (a live counter's instant) is shown as given. Moments are shown in the centre's
time, UTC+7, as the wall page and the console show them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

from babel.dates import format_date, get_month_names

from wording.catalogue import label
from wording.numbers import BABEL_LOCALE, Lang

CENTRE_TZ = timezone(timedelta(hours=7), "UTC+7")
_PERIOD = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(\d{2})(?:-(\d{2}))?))?$")
_ROMAN = ("", "I", "II", "III", "IV")


def period(text: str, lang: Lang) -> str:
    """``2026-10`` → ``tháng 10/2026`` / ``October 2026``; ``2026-Q3`` → ``quý III/2026`` / ``Q3 2026``."""
    m = _PERIOD.match(text)
    if m is None:
        return text
    year, quarter, month, day = m.groups()
    if quarter:
        return label("period.Q", lang, None, year=year, quarter=quarter, roman=_ROMAN[int(quarter)])
    if not month:
        return label("period.Y", lang, None, year=year)
    name = str(get_month_names("wide", locale=BABEL_LOCALE[lang])[int(month)])
    if not day:
        return label("period.M", lang, None, year=year, month=month, month_name=name)
    return label("period.D", lang, None, year=year, month=month, day=day, day_number=int(day), month_name=name)


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
    """The first day of a period in the store's canonical text (``2026-Q3`` → 2026-07-01); None if not one."""
    m = _PERIOD.match(text)
    if m is None:
        return None
    year, quarter, month, day_ = m.groups()
    first_month = (int(quarter) - 1) * 3 + 1 if quarter else int(month or 1)
    try:
        return date(int(year), first_month, int(day_ or 1))
    except ValueError:
        return None
