"""Published figures: every (indicator, area) series with its reporting calendar and revisions.

Each period of a series is published after it ends (daily figures the next morning, monthly ones
around the 20th of the next month, quarterly ones about 30 days and yearly ones about 60 days
after) with a first value, provisional (for GDP growth: estimated); the next release of the same
agency replaces it with the official value. Daily figures are official at once.

Provincial figures: periods ending on or before the merger cutoff (2025-06-30) are reported by
the 63 former units, later periods by the 34 units in force. Flows and stocks are split from
the national figure by seeded, slowly drifting shares with largest-remainder rounding, so the
provinces add up exactly to the nation; a merged unit's share is the sum of its former units'.
Rates vary around the national value, and a merged unit's rate is the weighted mean of its former
units'. The ``revise`` fault adds lasting overrides on top.

Series are built lazily per indicator and cached up to the end of the next year.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from simulator import national as nat
from simulator.periods import derive, end_of, epoch, index_of, label, rng
from simulator.provinces import COVID_HOTSPOTS, TRADE_HUBS, weight
from simulator.reference import NATION, IndicatorRow, Reference

Value = float | int
# indicator, area, period, value, status, updated_at (this value's publication), published_at (the figure's first)
Record = tuple[str, str, str, Value, str, int, int]

_DECIMALS = {
    "VND/USD": 0, "doanh nghiệp": 0, "vụ": 0, "ca": 0,
    "nghìn lượt": 1, "nghìn tấn": 1,
    "tỷ USD": 3,  # provinces report in millions of USD: three decimals keep them
    "triệu người": 3,
}  # fmt: skip


def decimals(row: IndicatorRow) -> int:
    return _DECIMALS.get(row.unit, 2)


def rounded(v: float, d: int) -> Value:
    return round(v) if d == 0 else round(v, d)


# Size of the difference between the first (provisional) and the official value: relative for
# flows, stocks and levels, in points for rates.
_REVISION = {
    "GDP_GROWTH": 0.15, "GRDP_GROWTH": 0.3, "CPI_YOY": 0.06, "CPI_MOM": 0.04, "IIP_YOY": 0.4,
    "PUBLIC_INVESTMENT_DISBURSED": 0.4, "CREDIT_GROWTH": 0.08, "UNEMPLOYMENT_RATE": 0.03, "HI_COVERAGE": 0.1,
    "LEVEL4_SERVICE_SHARE": 0.3, "SI_PARTICIPANTS": 0.003, "UI_PARTICIPANTS": 0.003,
}  # fmt: skip


def revision_size(row: IndicatorRow) -> float:
    return _REVISION.get(row.code, 0.1 if row.kind == "rate" else 0.012)


@dataclass(frozen=True)
class ShareSpec:
    """How a flow or stock splits among provinces: size exponents, spread and movement of shares."""

    grdp: float = 0.5
    pop: float = 0.5
    spread: float = 0.15  # sd of the permanent log deviation of a province's share
    drift: float = 0.01  # sd of the monthly random walk of the log share
    noise: float = 0.04  # sd of the period's own log deviation


SHARES = {
    "RETAIL_SALES": ShareSpec(0.7, 0.3, 0.15, 0.01, 0.03),
    "BUDGET_REVENUE": ShareSpec(1.3, 0.0, 0.25, 0.01, 0.08),
    "BUDGET_EXPENDITURE": ShareSpec(0.4, 0.6, 0.15, 0.01, 0.08),
    "EXPORTS": ShareSpec(0.8, 0.0, 0.25, 0.015, 0.06),
    "IMPORTS": ShareSpec(0.8, 0.0, 0.25, 0.015, 0.06),
    "FDI_REGISTERED": ShareSpec(1.2, 0.0, 0.4, 0.02, 0.8),
    "NEW_ENTERPRISES": ShareSpec(1.2, 0.0, 0.15, 0.01, 0.05),
    "ENTERPRISE_EXITS": ShareSpec(1.2, 0.0, 0.15, 0.01, 0.08),
    "SI_PARTICIPANTS": ShareSpec(0.6, 0.4, 0.1, 0.002, 0.001),
    "UI_PARTICIPANTS": ShareSpec(0.6, 0.4, 0.1, 0.002, 0.001),
    "TRAFFIC_ACCIDENTS": ShareSpec(0.2, 0.8, 0.2, 0.01, 0.12),
    "COVID19_NEW_CASES": ShareSpec(0.0, 1.0, 0.3, 0.0, 0.35),
}


@dataclass(frozen=True)
class RateSpec:
    """How a rate varies among provinces: ``add`` (points) or ``mul`` (relative) deviations."""

    mode: str = "add"
    spread: float = 0.5  # sd of the permanent deviation
    noise: float = 0.3  # sd of the period's deviation (AR(1) with ``rho``)
    rho: float = 0.6
    lo: float = -math.inf
    hi: float = math.inf


RATES = {
    "GRDP_GROWTH": RateSpec("add", 1.5, 1.2, 0.2, -15.0, 25.0),
    "CPI_YOY": RateSpec("add", 0.4, 0.25, 0.6, -2.0, 30.0),
    "CPI_MOM": RateSpec("add", 0.05, 0.12, 0.2),
    "IIP_YOY": RateSpec("add", 3.0, 3.5, 0.5, -40.0, 80.0),
    "PUBLIC_INVESTMENT_DISBURSED": RateSpec("mul", 0.15, 0.03, 0.95, 0.0, 100.0),
    "UNEMPLOYMENT_RATE": RateSpec("mul", 0.35, 0.08, 0.5, 0.2, 10.0),
    "HI_COVERAGE": RateSpec("add", 2.5, 0.3, 0.9, 60.0, 99.5),
    "LEVEL4_SERVICE_SHARE": RateSpec("add", 10.0, 1.5, 0.9, 0.0, 100.0),
}


SQRT12 = math.sqrt(12)


def spread(r: random.Random, sd: float) -> float:
    """A centred uniform deviate with standard deviation ``sd``: the panels draw hundreds of
    thousands of these, and ``random()`` is many times cheaper than ``gauss()``."""
    return (r.random() - 0.5) * SQRT12 * sd


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split an integer total by weights; the parts add up exactly (largest remainder)."""
    if total < 0:
        return [-p for p in apportion(-total, weights)]
    wsum = sum(weights)
    if wsum <= 0:
        weights, wsum = [1.0] * len(weights), float(len(weights))
    quotas = [total * w / wsum for w in weights]
    parts = [int(q) for q in quotas]
    left = total - sum(parts)
    if left:
        order = sorted(range(len(quotas)), key=lambda k: parts[k] - quotas[k])
        for k in order[:left]:
            parts[k] += 1
    return parts


@dataclass(slots=True)
class Series:
    """One (indicator, area): periods in order, first and official vintages, overrides."""

    indicator: str
    area: str
    index0: int  # position of the first period in the indicator's full history
    labels: list[str]
    t1: list[int]  # first publication (epoch seconds), increasing
    v1: list[Value]
    t2: list[int] | None  # official publication, increasing; None: no revision (daily)
    v2: list[Value] | None
    status1: str
    overrides: dict[int, list[tuple[int, Value, str]]] = field(default_factory=dict)  # by history position
    # A reporter that is late (scenarios): what it would publish in [since, until) comes out at
    # ``until`` instead; until HELD (the far future) it is withheld.
    hold: tuple[int, int] | None = None

    def published(self, as_of: int) -> int:
        return bisect_right(self.t1, as_of)

    def _shifted(self, t: int) -> int:
        h = self.hold
        return h[1] if h is not None and h[0] <= t < h[1] else t

    def first_published(self, k: int) -> int:
        """When the figure at position ``k`` first came out (a late reporter's: when it delivered)."""
        return self._shifted(self.t1[k])

    def effective(self, k: int, as_of: int) -> tuple[Value, str, int] | None:
        """The figure at position ``k`` as known at ``as_of``; None while it is not out."""
        t = self._shifted(self.t1[k])
        if t > as_of:
            return None
        value, status = self.v1[k], self.status1
        if self.t2 is not None and self.v2 is not None:
            t2 = max(t, self._shifted(self.t2[k]))
            if t2 <= as_of:
                value, status, t = self.v2[k], "official", t2
        for ot, ov, os_ in self.overrides.get(self.index0 + k, ()):
            if t <= ot <= as_of:
                value, status, t = ov, os_, ot
        return value, status, t

    def latest(self, as_of: int, status: str | None = None) -> int | None:
        """The position of the newest figure out at ``as_of`` (with that status, if given)."""
        for k in range(self.published(as_of) - 1, -1, -1):
            known = self.effective(k, as_of)
            if known is not None and (status is None or known[1] == status):
                return k
        return None

    def select(self, as_of: int, after: int | None) -> list[Record]:
        """The figures as published at ``as_of``, updated strictly after ``after`` if given."""
        ind, area, labels = self.indicator, self.area, self.labels
        k1 = bisect_right(self.t1, as_of)
        j1 = 0 if after is None else bisect_right(self.t1, after)
        if self.overrides or self.hold is not None:
            out = []
            for k in range(k1):
                known = self.effective(k, as_of)
                if known is not None and (after is None or known[2] > after):
                    value, status, t = known
                    out.append((ind, area, labels[k], value, status, t, self.first_published(k)))
            return out
        t1, v1, s1 = self.t1, self.v1, self.status1
        if self.t2 is None or self.v2 is None:
            return [(ind, area, labels[k], v1[k], s1, t1[k], t1[k]) for k in range(j1, k1)]
        t2, v2 = self.t2, self.v2
        k2 = min(bisect_right(t2, as_of), k1)
        j2 = 0 if after is None else bisect_right(t2, after)
        out = [(ind, area, labels[k], v2[k], "official", t2[k], t1[k]) for k in range(j2, k2)]
        out.extend((ind, area, labels[k], v1[k], s1, t1[k], t1[k]) for k in range(max(k2, j1), k1))
        return out


def release_times(seed: int, row: IndicatorRow, i0: int, i1: int) -> list[int]:
    """First publication of periods i0..i1 (inclusive): one release per agency and period."""
    f = row.frequency
    out = []
    for i in range(i0, i1 + 1):
        end = end_of(f, i)
        h = derive(seed, "release", row.owner, f, i)
        minute = h % 60
        if f == "D":
            out.append(epoch(end, 1, 0) + 86400 + (h % 90) * 60)
            continue
        if f == "M":
            day = date.fromordinal(end.toordinal() + 20 + (h >> 8) % 5 - 2)  # the 18th to the 22nd
        elif f == "Q":
            day = date.fromordinal(end.toordinal() + 30 + (h >> 8) % 7 - 3)
        else:
            day = date.fromordinal(end.toordinal() + 60 + (h >> 8) % 11 - 5)
        out.append(epoch(day, 2, minute))  # 09:00 in Hà Nội
    return out


@dataclass
class Built:
    horizon: int  # last year covered
    series: dict[str, Series]  # by area


class Figures:
    """Lazily built, cached series of every non-live indicator, with the overrides of ``revise``."""

    def __init__(self, seed: int, ref: Reference) -> None:
        self.seed = seed
        self.ref = ref
        self.rows = {r.code: r for r in ref.indicators}
        self._national: dict[str, Built] = {}
        self._provincial: dict[str, Built] = {}
        self._overrides: dict[tuple[str, str], dict[int, list[tuple[int, Value, str]]]] = {}
        self._revisions = 0

    # --- building ----------------------------------------------------------------------------

    def _periods(self, row: IndicatorRow, horizon: int) -> tuple[int, int]:
        first = nat.history_start(row.code, row.owner)
        return index_of(row.frequency, first), index_of(row.frequency, date(horizon, 12, 31))

    def _overrides_of(self, code: str, area: str) -> dict[int, list[tuple[int, Value, str]]]:
        return self._overrides.setdefault((code, area), {})

    def _final_and_first(self, row: IndicatorRow, i0: int, i1: int) -> tuple[list[float], list[float] | None]:
        """National final values and, if the indicator is revised, the first published ones."""
        first, last = end_of(row.frequency, i0), end_of(row.frequency, i1)
        final = nat.national(self.seed, row.code, row.frequency, first, last, row.magnitude or 0.0)
        if row.frequency == "D":
            return final, None
        r = rng(self.seed, row.code, NATION, "revision")
        size = revision_size(row)
        if row.kind == "rate":
            return final, [v + r.gauss(0, size) for v in final]
        return final, [v * (1 + r.gauss(0, size)) for v in final]

    def _build_national(self, code: str, horizon: int) -> Series:
        row = self.rows[code]
        if row.kind == "derived" and row.formula:
            return self._derived(row, horizon)
        i0, i1 = self._periods(row, horizon)
        d = decimals(row)
        t = release_times(self.seed, row, i0, i1 + 1)  # one more: the official release of the last period
        labels = [label(row.frequency, i) for i in range(i0, i1 + 1)]
        final, first = self._final_and_first(row, i0, i1)
        status1 = "estimated" if code == "GDP_GROWTH" else "provisional"
        if first is None:
            return Series(code, NATION, 0, labels, t[:-1], [rounded(v, d) for v in final], None, None, "official")
        return Series(
            code,
            NATION,
            0,
            labels,
            t[:-1],
            [rounded(v, d) for v in first],
            t[1:],
            [rounded(v, d) for v in final],
            status1,
        )

    def _derived(self, row: IndicatorRow, horizon: int) -> Series:
        """EXPORTS-IMPORTS: the difference of the published figures, vintage by vintage."""
        assert row.formula is not None
        a_code, _, b_code = row.formula.partition("-")
        a, b = self.national_series(a_code, horizon), self.national_series(b_code, horizon)
        d = decimals(row)
        assert a.labels == b.labels and a.v2 is not None and b.v2 is not None
        return Series(
            row.code,
            NATION,
            0,
            a.labels,
            a.t1,
            [rounded(x - y, d) for x, y in zip(a.v1, b.v1, strict=True)],
            a.t2,
            [rounded(x - y, d) for x, y in zip(a.v2, b.v2, strict=True)],
            a.status1,
        )

    def national_series(self, code: str, horizon: int) -> Series:
        built = self._national.get(code)
        if built is None or built.horizon < horizon:
            s = self._build_national(code, horizon)
            s.overrides = self._overrides_of(code, NATION)
            built = self._national[code] = Built(horizon, {NATION: s})
        return built.series[NATION]

    def provincial_series(self, code: str, horizon: int) -> dict[str, Series]:
        built = self._provincial.get(code)
        if built is None or built.horizon < horizon:
            panel = self._build_panel(self.rows[code], horizon)
            for area, s in panel.items():
                s.overrides = self._overrides_of(code, area)
            built = self._provincial[code] = Built(horizon, panel)
        return built.series

    def _build_panel(self, row: IndicatorRow, horizon: int) -> dict[str, Series]:
        ref = self.ref
        f = row.frequency
        i0, i1 = self._periods(row, horizon)
        n = i1 - i0 + 1
        t = release_times(self.seed, row, i0, i1 + 1)
        labels = [label(f, i) for i in range(i0, i1 + 1)]
        ends = [end_of(f, i) for i in range(i0, i1 + 1)]
        cut = sum(1 for e in ends if e <= ref.cutoff)  # periods [0, cut) belong to the former units
        final, first = self._final_and_first(row, i0, i1)
        d = decimals(row)
        former, current = ref.former, ref.current
        groups = [[former.index(u) for u in ref.formers_of(c)] for c in current]
        if row.additive:
            fin_vals, first_vals = self._split(row, final, first, ends, cut, groups, d)
        else:
            fin_vals, first_vals = self._vary(row, final, first, ends, cut, groups, d)
        panel: dict[str, Series] = {}
        for pos, area in enumerate(former):
            lo, hi = 0, cut
            self._add_part(panel, row, area, lo, hi, labels, t, fin_vals[pos], first_vals[pos] if first_vals else None)
        for pos, area in enumerate(current):
            col = len(former) + pos
            lo, hi = cut, n
            self._add_part(panel, row, area, lo, hi, labels, t, fin_vals[col], first_vals[col] if first_vals else None)
        return panel

    def _add_part(
        self,
        panel: dict[str, Series],
        row: IndicatorRow,
        area: str,
        lo: int,
        hi: int,
        labels: list[str],
        t: list[int],
        fin: list[Value],
        first: list[Value] | None,
    ) -> None:
        """Append periods [lo, hi) of one column to the area's series (a code may be both a
        former and a current unit: its history then runs on under the same code)."""
        if lo >= hi:
            return
        s = panel.get(area)
        if s is None:
            revised = first is not None
            s = panel[area] = Series(
                row.code,
                area,
                lo,
                [],
                [],
                [],
                [] if revised else None,
                [] if revised else None,
                ("estimated" if row.code == "GDP_GROWTH" else "provisional") if revised else "official",
            )
        assert s.index0 + len(s.labels) == lo, f"gap in the history of {row.code} {area}"
        s.labels.extend(labels[lo:hi])
        s.t1.extend(t[lo:hi])
        if first is None:
            s.v1.extend(fin[lo:hi])
        else:
            assert s.t2 is not None and s.v2 is not None
            s.v1.extend(first[lo:hi])
            s.t2.extend(t[lo + 1 : hi + 1])
            s.v2.extend(fin[lo:hi])

    def _split(
        self,
        row: IndicatorRow,
        final: list[float],
        first: list[float] | None,
        ends: list[date],
        cut: int,
        groups: list[list[int]],
        d: int,
    ) -> tuple[list[list[Value]], list[list[Value]] | None]:
        """Columns: one per former unit, then one per current unit (filled where they report)."""
        spec = SHARES.get(row.code, ShareSpec())
        former = self.ref.former
        nf, nc = len(former), len(groups)
        r = rng(self.seed, row.code, "shares")
        base = [weight(u, spec.grdp, spec.pop) * math.exp(r.gauss(0, spec.spread)) for u in former]
        if row.code in ("EXPORTS", "IMPORTS"):
            base = [b * TRADE_HUBS.get(u, 1.0) for b, u in zip(base, former, strict=True)]
        hotspots = []
        if row.code == "COVID19_NEW_CASES":
            for since, until, spots in COVID_HOTSPOTS:
                mult = [spots.get(u, 1.0) for u in former]
                hotspots.append((date.fromisoformat(since), date.fromisoformat(until), mult))
        scale = 10**d
        cols_fin: list[list[Value]] = [[0] * len(final) for _ in range(nf + nc)]
        cols_first: list[list[Value]] | None = [[0] * len(final) for _ in range(nf + nc)] if first else None
        walk = [0.0] * nf
        moves = rng(self.seed, row.code, "share-moves")
        uniform = moves.random
        drift, noise = SQRT12 * spec.drift, SQRT12 * spec.noise
        exp = math.exp
        for k, end in enumerate(ends):
            w = []
            for j in range(nf):
                if drift:
                    walk[j] += (uniform() - 0.5) * drift
                w.append(base[j] * exp(walk[j] + (uniform() - 0.5) * noise))
            for a, b, mult in hotspots:
                if a <= end <= b:
                    w = [x * m for x, m in zip(w, mult, strict=True)]
            if k < cut:
                targets, weights = range(nf), w
            else:
                targets, weights = range(nf, nf + nc), [sum(w[j] for j in g) for g in groups]
            for cols, vals in ((cols_fin, final), (cols_first, first)):
                if cols is None or vals is None:
                    continue
                parts = apportion(round(vals[k] * scale), weights)
                for col, p in zip(targets, parts, strict=True):
                    cols[col][k] = p if d == 0 else round(p / scale, d)
        return cols_fin, cols_first

    def _vary(
        self,
        row: IndicatorRow,
        final: list[float],
        first: list[float] | None,
        ends: list[date],
        cut: int,
        groups: list[list[int]],
        d: int,
    ) -> tuple[list[list[Value]], list[list[Value]] | None]:
        spec = RATES.get(row.code, RateSpec())
        former = self.ref.former
        nf, nc = len(former), len(groups)
        r = rng(self.seed, row.code, "offsets")
        offsets = [r.gauss(0, spec.spread) for _ in former]
        size = [weight(u, 0.5, 0.5) for u in former]
        noise = rng(self.seed, row.code, "province-noise")
        rev = rng(self.seed, row.code, "province-revision")
        rsize = revision_size(row)
        e = [0.0] * nf
        south = [u >= "70" for u in former]
        cols_fin: list[list[Value]] = [[0] * len(final) for _ in range(nf + nc)]
        cols_first: list[list[Value]] | None = [[0] * len(final) for _ in range(nf + nc)] if first else None

        def clip(v: float) -> float:
            return min(spec.hi, max(spec.lo, v))

        for k, end in enumerate(ends):
            vals = []
            for j in range(nf):
                e[j] = spec.rho * e[j] + spread(noise, spec.noise)
                v = final[k] * math.exp(offsets[j] + e[j]) if spec.mode == "mul" else final[k] + offsets[j] + e[j]
                if row.code == "GRDP_GROWTH" and end.year == 2021 and south[j]:
                    v -= 5.0  # the lockdowns of the 2021 Delta wave in the south
                vals.append(v)
            if k < cut:
                out = [(j, clip(vals[j])) for j in range(nf)]
            else:
                out = [
                    (nf + c, clip(sum(vals[j] * size[j] for j in g) / sum(size[j] for j in g)))
                    for c, g in enumerate(groups)
                ]
            for col, v in out:
                cols_fin[col][k] = rounded(v, d)
                if cols_first is not None:
                    cols_first[col][k] = rounded(clip(v + spread(rev, rsize)), d)
        return cols_fin, cols_first

    # --- what the endpoints serve --------------------------------------------------------------

    @staticmethod
    def horizon_for(as_of: int) -> int:
        return datetime.fromtimestamp(as_of, UTC).year + 1

    def agency_series(self, agency: str, as_of: int) -> list[Series]:
        h = self.horizon_for(as_of)
        return [self.national_series(r.code, h) for r in self.ref.agency_indicators(agency) if r.national]

    def province_series(self, code: str, as_of: int) -> list[Series]:
        h = self.horizon_for(as_of)
        areas = sorted({code, *self.ref.formers_of(code)})
        out: list[Series] = []
        for r in self.ref.indicators:
            if r.provincial and not r.live:
                panel = self.provincial_series(r.code, h)
                out.extend(panel[a] for a in areas if a in panel)
        return out

    def sdmx_series(self, agency: str, as_of: int) -> list[Series]:
        """National and provincial series of the agency's indicators."""
        h = self.horizon_for(as_of)
        out = []
        for r in self.ref.agency_indicators(agency):
            if r.national:
                out.append(self.national_series(r.code, h))
            if r.provincial:
                panel = self.provincial_series(r.code, h)
                out.extend(panel[a] for a in sorted(panel))
        return out

    # --- the revise fault ----------------------------------------------------------------------

    def revise(self, series: Iterable[Series], fraction: float, now: int) -> list[Record]:
        """Give a new value to ``fraction`` of the figures published by ``now``; lasting."""
        pool = [(s, s.published(now)) for s in series]
        total = sum(k for _, k in pool)
        if total == 0 or fraction <= 0:
            return []
        self._revisions += 1
        r = random.Random(derive(self.seed, "revise", self._revisions))
        picks = sorted(r.sample(range(total), max(1, min(total, round(fraction * total)))))
        out: list[Record] = []
        it = iter(picks)
        pick = next(it, None)
        offset = 0
        for s, k in pool:
            while pick is not None and pick < offset + k:
                pos = pick - offset
                pick = next(it, None)
                known = s.effective(pos, now)
                if known is None:  # withheld by a late reporter: nothing out to revise
                    continue
                value, status, _ = known
                new = self._revised_value(self.rows[s.indicator], value, r)
                out.append(self.set_value(s, pos, new, status, now))
            offset += k
        return out

    @staticmethod
    def set_value(s: Series, pos: int, value: Value, status: str, now: int) -> Record:
        """Publish a new value for position ``pos`` of ``s`` at ``now``: a lasting override."""
        s.overrides.setdefault(s.index0 + pos, []).append((now, value, status))
        return (s.indicator, s.area, s.labels[pos], value, status, now, s.first_published(pos))

    @staticmethod
    def _revised_value(row: IndicatorRow, value: Value, r: random.Random) -> Value:
        d = decimals(row)
        step = 10.0**-d
        sign = r.choice((-1, 1))
        if row.kind == "rate":
            delta = max(step, abs(r.gauss(0, 3 * revision_size(row))))
        else:
            delta = max(step, abs(value) * r.uniform(0.005, 0.03))
        new = rounded(value + sign * delta, d)
        if new == value:
            new = rounded(value + step, d)
        if row.kind != "rate" and new < 0 <= value:
            new = rounded(value + delta, d)
        return new
