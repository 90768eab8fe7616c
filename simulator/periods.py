"""Reporting periods as integers, seeding, and the lunar new year (Tết).

A period of frequency D is its date's ordinal, M is ``year * 12 + month - 1``, Q is
``year * 4 + quarter - 1`` and Y is the year: consecutive periods are consecutive integers, which
keeps the series code simple and fast.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from datetime import UTC, date, datetime, timedelta


def index_of(freq: str, d: date) -> int:
    if freq == "D":
        return d.toordinal()
    if freq == "M":
        return d.year * 12 + d.month - 1
    if freq == "Q":
        return d.year * 4 + (d.month - 1) // 3
    return d.year


def start_of(freq: str, i: int) -> date:
    if freq == "D":
        return date.fromordinal(i)
    if freq == "M":
        return date(i // 12, i % 12 + 1, 1)
    if freq == "Q":
        return date(i // 4, 3 * (i % 4) + 1, 1)
    return date(i, 1, 1)


def end_of(freq: str, i: int) -> date:
    if freq == "D":
        return date.fromordinal(i)
    if freq == "M":
        y, m = i // 12, i % 12 + 1
        return date(y, m, calendar.monthrange(y, m)[1])
    if freq == "Q":
        y, q = i // 4, i % 4 + 1
        return date(y, 3 * q, calendar.monthrange(y, 3 * q)[1])
    return date(i, 12, 31)


def label(freq: str, i: int) -> str:
    if freq == "D":
        return date.fromordinal(i).isoformat()
    if freq == "M":
        return f"{i // 12:04d}-{i % 12 + 1:02d}"
    if freq == "Q":
        return f"{i // 4:04d}-Q{i % 4 + 1}"
    return f"{i:04d}"


def derive(seed: int, *parts: object) -> int:
    """A 64-bit number from the seed and names: stable across processes, unlike ``hash()``."""
    text = "\x1f".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def rng(seed: int, *parts: object) -> random.Random:
    return random.Random(derive(seed, *parts))


def unit_float(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) from the seed and names."""
    return derive(seed, *parts) / 2**64


def epoch(d: date, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC).timestamp())


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> int:
    """An ISO 8601 instant with a zone ('Z' or an offset) as epoch seconds; ValueError otherwise."""
    dt = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add 'Z' for UTC")
    return int(dt.timestamp() // 1)


# Lunar new year's day in Vietnam. Tết moves between late January and mid February, and moves the
# monthly figures with it: shopping before, a week of standstill after.
_TET = {
    2009: "01-26", 2010: "02-14", 2011: "02-03", 2012: "01-23", 2013: "02-10", 2014: "01-31", 2015: "02-19",
    2016: "02-08", 2017: "01-28", 2018: "02-16", 2019: "02-05", 2020: "01-25", 2021: "02-12", 2022: "02-01",
    2023: "01-22", 2024: "02-10", 2025: "01-29", 2026: "02-17", 2027: "02-06", 2028: "01-26", 2029: "02-13",
    2030: "02-03", 2031: "01-23", 2032: "02-11", 2033: "01-31", 2034: "02-19", 2035: "02-08", 2036: "01-28",
    2037: "02-15", 2038: "02-04", 2039: "01-24", 2040: "02-12",
}  # fmt: skip


def tet(year: int) -> date:
    md = _TET.get(year, "02-05")
    return date.fromisoformat(f"{year}-{md}")


def overlap_days(a0: date, a1: date, b0: date, b1: date) -> int:
    """Days in both [a0, a1) and [b0, b1)."""
    return max(0, (min(a1, b1) - max(a0, b0)).days)


def tet_factor(year: int, month: int, holiday: float, before: float) -> float:
    """Multiplier for a monthly flow: ``holiday`` is the share of activity lost during the week of
    Tết, ``before`` the extra activity in the three weeks before it."""
    m0 = date(year, month, 1)
    m1 = (m0 + timedelta(days=32)).replace(day=1)
    days = (m1 - m0).days
    factor = 1.0
    for y in (year, year + 1):
        t = tet(y)
        factor -= holiday * overlap_days(m0, m1, t - timedelta(days=2), t + timedelta(days=6)) / days
        factor += before * overlap_days(m0, m1, t - timedelta(days=23), t - timedelta(days=2)) / days
    return factor
