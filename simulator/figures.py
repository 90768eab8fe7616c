"""Published figures: every (indicator, area) series with its reporting calendar and revisions.

Each period of a series is published after it ends (daily figures the next morning, monthly ones
around the 20th of the next month, quarterly ones about 30 days and yearly ones about 60 days
after) with a first value, provisional (for GDP growth: estimated); the next release of the same
agency replaces it with the official value. Daily figures are official at once.

Provincial figures: periods ending on or before the merger cutoff (2025-06-30) are reported by
the 63 former units, later periods by the 34 units in force; ``simulator.panels`` spreads the
national figures over them. The ``revise`` fault adds lasting overrides on top.

Series are built lazily per indicator and cached up to the end of the next year.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from simulator import national as nat
from simulator import panels
from simulator.periods import derive, end_of, epoch, index_of, label, rng
from simulator.reference import NATION, IndicatorRow, Reference
from simulator.series import Record, Series, Value, decimals, revision_size, rounded


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
        former, current = ref.former, ref.current
        groups = [[former.index(u) for u in ref.formers_of(c)] for c in current]
        given = panels.PanelInput(self.seed, row, final, first, ends, cut, former, groups, decimals(row))
        fin_vals, first_vals = panels.split(given) if row.additive else panels.vary(given)
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
