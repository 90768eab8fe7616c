"""Live counters of the public service portal and the document axis.

A counter passes through its published milestones (``simulator/data/portal_milestones.csv``),
starting from 0 when the system opened. Between milestones it grows in proportion to activity:
busy on working days in office hours of Hà Nội (UTC+7), quiet at night, on Sundays and in the
week of Tết, with seeded day-to-day noise. After the last milestone it keeps the recent pace,
which itself grows a little every year; counts of things that run out (services to integrate,
systems to connect) approach a ceiling instead. Values depend only on the seed and the instant;
a simulator never serves a counter lower than it served before.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources

from simulator.periods import rng, tet
from simulator.provinces import weight
from simulator.reference import Reference

LOCAL = 7 * 3600  # Hà Nội is UTC+7
DAY = 86400

PORTAL_OPENED = date(2019, 12, 9)
OPENED = {"EDOCS_EXCHANGED": date(2019, 3, 12)}  # the national document axis came first

# Yearly growth of the pace after the last milestone.
PACE_GROWTH = {
    "PORTAL_VISITS": 0.25, "PORTAL_ACCOUNTS": 0.4, "PORTAL_DOSSIERS_SYNCED": 0.25, "PORTAL_DOSSIERS_ONLINE": 0.5,
    "PORTAL_PAYMENTS": 0.6, "PORTAL_PAYMENT_AMOUNT": 0.6, "PORTAL_FEEDBACK": 0.2, "PORTAL_CALLS": 0.2,
    "EDOCS_EXCHANGED": 0.25,
}  # fmt: skip
CEILING = {"PORTAL_SERVICES": 4800.0, "REPORTING_SYSTEMS_CONNECTED": 120.0}
DECIMALS = {"PORTAL_PAYMENT_AMOUNT": 2}

# Share of a day's activity in each local hour (0h..23h).
HOURS = (0.2, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.2, 2.4, 2.3, 1.8, 1.0, 1.3, 2.2, 2.3, 2.1, 1.5, 1.0, 0.9,
         0.8, 0.7, 0.5, 0.3)  # fmt: skip
WEEKDAY = (1.2, 1.2, 1.2, 1.2, 1.2, 0.6, 0.4)


def load_milestones() -> dict[str, list[tuple[date, float]]]:
    text = resources.files("simulator.data").joinpath("portal_milestones.csv").read_text("utf-8")
    out: dict[str, list[tuple[date, float]]] = {}
    for r in csv.DictReader(text.splitlines()):
        out.setdefault(r["metric"], []).append((date.fromisoformat(r["date"]), float(r["value"])))
    return {k: sorted(v) for k, v in out.items()}


def local_day(ts: float) -> int:
    """Ordinal of the day in Hà Nội at the instant ``ts`` (epoch seconds)."""
    return date(1970, 1, 1).toordinal() + int((ts + LOCAL) // DAY)


@dataclass
class Counter:
    """One counter: daily activity weights from its opening day, extended on demand."""

    code: str
    seed: int
    points: list[tuple[int, float]]  # (local day ordinal, value), starting with (opened, 0)
    weights: list[float] = field(default_factory=list)  # activity of each day from points[0]
    cum: list[float] = field(default_factory=lambda: [0.0])  # activity before each day

    def __post_init__(self) -> None:
        self._rng = rng(self.seed, "portal", self.code)
        self._tet_days: dict[int, set[int]] = {}

    def _holiday(self, day: int) -> bool:
        d = date.fromordinal(day)
        days = self._tet_days.get(d.year)
        if days is None:
            t = tet(d.year).toordinal()
            days = self._tet_days[d.year] = set(range(t - 2, t + 5))
        return day in days

    def _extend(self, last_day: int) -> None:
        start, last_point = self.points[0][0], self.points[-1][0]
        growth = PACE_GROWTH.get(self.code, 0.2)
        while start + len(self.weights) <= last_day:
            day = start + len(self.weights)
            w = WEEKDAY[date.fromordinal(day).weekday()] * math.exp(self._rng.gauss(0, 0.1))
            if self._holiday(day):
                w *= 0.25
            if day > last_point:
                w *= (1 + growth) ** ((day - last_point) / 365)
            self.weights.append(w)
            self.cum.append(self.cum[-1] + w)

    def _activity(self, ts: float) -> float:
        """Cumulative activity from the opening day to the instant ``ts``."""
        day = local_day(ts)
        k = day - self.points[0][0]
        if k < 0:
            return 0.0
        self._extend(day)
        into = ((ts + LOCAL) % DAY) / 3600
        hour = int(into)
        done = sum(HOURS[:hour]) + HOURS[hour] * (into - hour)
        return self.cum[k] + self.weights[k] * done / sum(HOURS)

    def value(self, ts: float) -> float:
        """The counter at ``ts``, before rounding."""
        points = self.points
        day = local_day(ts)
        if day < points[0][0]:
            return 0.0
        self._extend(max(day, points[-1][0]))  # interpolation needs the activity up to the next milestone
        a = self._activity(ts)
        for (d0, v0), (d1, v1) in itertools.pairwise(points):
            if day < d1:
                w0, w1 = self.cum[d0 - points[0][0]], self.cum[d1 - points[0][0]]
                return v0 + (v1 - v0) * (a - w0) / (w1 - w0)
        (dp, vp), (dl, vl) = points[-2], points[-1]
        wp, wl = self.cum[dp - points[0][0]], self.cum[dl - points[0][0]]
        if self.code in CEILING:
            top = CEILING[self.code]
            pace = (vl - vp) / (dl - dp)  # per day
            elapsed = ts / DAY - (dl - date(1970, 1, 1).toordinal()) + LOCAL / DAY
            return top - (top - vl) * math.exp(-pace / max(1.0, top - vl) * elapsed)
        return vl + (vl - vp) / (wl - wp) * (a - wl)


class Portal:
    """All live counters, with the provincial split of the counters reported by province."""

    def __init__(self, seed: int, ref: Reference) -> None:
        self.seed = seed
        self.ref = ref
        milestones = load_milestones()
        self.codes = [r.code for r in ref.indicators if r.live]
        self.provincial = [r.code for r in ref.indicators if r.live and r.provincial]
        self.counters: dict[str, Counter] = {}
        for code in self.codes:
            opened = OPENED.get(code, PORTAL_OPENED)
            points = [(opened.toordinal(), 0.0)]
            points += [(d.toordinal(), v) for d, v in milestones.get(code, []) if d > opened]
            if len(points) == 1:  # nothing published: a modest pace of one a day
                points.append((opened.toordinal() + 365, 365.0))
            self.counters[code] = Counter(code, seed, points)
        r = rng(seed, "portal", "shares")
        self.former_shares = {u: weight(u, 0.5, 0.5) * math.exp(r.gauss(0, 0.3)) for u in ref.former}
        self._last: dict[tuple[str, str], float] = {}

    def _shares(self, on: date) -> dict[str, float]:
        ref = self.ref
        if on <= ref.cutoff:
            raw = dict(self.former_shares)
        else:
            raw = {c: sum(self.former_shares[u] for u in ref.formers_of(c)) for c in ref.current}
        total = sum(raw.values())
        return {a: w / total for a, w in raw.items()}

    def _floor(self, code: str, v: float) -> float | int:
        d = DECIMALS.get(code, 0)
        return math.floor(v * 10**d) / 10**d if d else math.floor(v)

    def _guard(self, area: str, code: str, v: float | int) -> float | int:
        """Never lower than what this simulator served before (a clock may be moved back)."""
        last = self._last.get((area, code))
        if last is not None and last > v:
            return last
        self._last[(area, code)] = v
        return v

    def read(self, ts: int) -> tuple[dict[str, float | int], dict[str, dict[str, float | int]]]:
        counters: dict[str, float | int] = {}
        by_area: dict[str, dict[str, float | int]] = {}
        on = date(1970, 1, 1) + timedelta(seconds=ts)  # the UTC day of the reading: its units report
        shares = self._shares(on)
        for code in self.codes:
            raw = max(0.0, self.counters[code].value(ts))
            if code in self.provincial:
                parts = {a: self._floor(code, raw * s) for a, s in shares.items()}
                for a, v in parts.items():
                    by_area.setdefault(a, {})[code] = self._guard(a, code, v)
                total = sum(by_area[a][code] for a in parts)
                counters[code] = self._guard("VN", code, round(total, 2) if DECIMALS.get(code) else total)
            else:
                counters[code] = self._guard("VN", code, self._floor(code, raw))
        return counters, by_area
