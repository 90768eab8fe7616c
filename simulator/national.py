"""National series: the final (official) value of each non-live indicator for each period.

Every series starts from rough published yearly figures (anchors, 2010-2025), interpolated from
mid-year to mid-year, then gets the calendar (Tết, December, the number of days), the shocks of
COVID-19 and seeded noise. Years after the last anchor continue with seeded growth. All random
draws come from generators seeded by (seed, indicator, purpose) and are drawn period by period,
so extending the horizon never changes an earlier value.

History: indicators of the statistics office and customs (owners GSO and GDC) start in January
2010; all others start in January 2017; COVID-19 cases start on 2020-01-23, the day of the first
cases.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from simulator.periods import end_of, index_of, rng, start_of, tet, tet_factor

LONG_HISTORY_OWNERS = ("GSO", "GDC")


def history_start(code: str, owner: str) -> date:
    if code == "COVID19_NEW_CASES":
        return date(2020, 1, 23)
    return date(2010, 1, 1) if owner in LONG_HISTORY_OWNERS else date(2017, 1, 1)


@dataclass
class Ctx:
    seed: int
    code: str
    freq: str
    i0: int  # first period
    i1: int  # last period (inclusive)
    magnitude: float

    def rng(self, purpose: str) -> random.Random:
        return rng(self.seed, self.code, purpose)


Generator = Callable[[Ctx], list[float]]


# --- anchors and trends ----------------------------------------------------------------------


def _anchors(
    ctx: Ctx, known: dict[int, float], *, growth: float = 0.0, growth_sd: float = 0.0, jitter: float = 0.0
) -> dict[int, float]:
    """Known yearly figures, jittered by the seed (relative), continued with seeded growth."""
    r = ctx.rng("anchors")
    out = {y: v * (1 + r.gauss(0, jitter)) for y, v in sorted(known.items())}
    last_year = end_of(ctx.freq, ctx.i1).year + 2
    for y in range(max(out) + 1, last_year + 1):
        out[y] = out[y - 1] * (1 + growth + r.gauss(0, growth_sd))
    return out


def _rate_anchors(
    ctx: Ctx, known: dict[int, float], *, mean: float, sd: float, pull: float, lo: float, hi: float, jitter: float
) -> dict[int, float]:
    """Known yearly rates, jittered (absolute), continued as a seeded walk pulled towards ``mean``."""
    r = ctx.rng("anchors")
    out = {y: v + r.gauss(0, jitter) for y, v in sorted(known.items())}
    last_year = end_of(ctx.freq, ctx.i1).year + 2
    for y in range(max(out) + 1, last_year + 1):
        prev = out[y - 1]
        out[y] = min(hi, max(lo, prev + pull * (mean - prev) + r.gauss(0, sd)))
    return out


def _trend(anchors: dict[int, float], year: int, frac: float, log: bool) -> float:
    """Interpolated between mid-year anchors; ``frac`` is the position in the year (0..1)."""
    first, last = min(anchors), max(anchors)
    x = year + frac - 0.5
    y0 = math.floor(x)
    w = x - y0
    a = anchors[min(max(y0, first), last)]
    b = anchors[min(max(y0 + 1, first), last)]
    if log and a > 0 and b > 0:
        return math.exp((1 - w) * math.log(a) + w * math.log(b))
    return (1 - w) * a + w * b


def _month_frac(i: int) -> float:
    return (i % 12 + 0.5) / 12


def _ym(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


@dataclass
class FlowSpec:
    """A monthly flow (or a level): yearly anchors in any unit, scaled so that 2019 averages the
    catalogue's magnitude."""

    anchors: dict[int, float]
    growth: float = 0.07
    growth_sd: float = 0.03
    jitter: float = 0.01
    holiday: float = 0.0  # share of activity lost in the week of Tết
    before: float = 0.0  # extra activity in the three weeks before Tết
    months: dict[int, float] = field(default_factory=dict)  # month-of-year multipliers
    by_days: bool = False  # proportional to the number of days in the month
    shocks: dict[str, float] = field(default_factory=dict)  # YYYY-MM -> multiplier
    fixed: dict[str, float] = field(default_factory=dict)  # YYYY-MM -> value relative to the 2019 mean
    noise: float = 0.03  # sd of the log noise
    rho: float = 0.3  # its autocorrelation


def monthly_flow(spec: FlowSpec, ctx: Ctx, i0: int | None = None) -> list[float]:
    anchors = _anchors(ctx, spec.anchors, growth=spec.growth, growth_sd=spec.growth_sd, jitter=spec.jitter)
    scale = ctx.magnitude / anchors[2019]
    r = ctx.rng("noise")
    e = 0.0
    out = []
    for i in range(ctx.i0 if i0 is None else i0, ctx.i1 + 1):
        y, m = i // 12, i % 12 + 1
        e = spec.rho * e + r.gauss(0, spec.noise)
        key = _ym(i)
        if key in spec.fixed:
            base = spec.fixed[key] * ctx.magnitude
        else:
            base = _trend(anchors, y, _month_frac(i), log=True) * scale
            base *= spec.months.get(m, 1.0) * spec.shocks.get(key, 1.0)
            if spec.by_days:
                base *= (end_of("M", i).day) / 30.44
            if spec.holiday or spec.before:
                base *= tet_factor(y, m, spec.holiday, spec.before)
        out.append(base * math.exp(e))
    return out


def yoy_of(level: list[float], lag: int) -> list[float]:
    """Year-on-year change in % of a level series that starts ``lag`` periods early."""
    return [100.0 * (level[k] / level[k - lag] - 1) for k in range(lag, len(level))]


@dataclass
class RateSpec:
    anchors: dict[int, float]
    mean: float
    sd: float = 0.3
    pull: float = 0.3
    lo: float = -math.inf  # bounds of the walk of future yearly anchors
    hi: float = math.inf
    jitter: float = 0.1
    noise: float = 0.2
    rho: float = 0.6
    shocks: dict[str, float] = field(default_factory=dict)  # period label -> added value
    floor: float = -math.inf  # bounds of any value
    ceil: float = math.inf


def rate_series(spec: RateSpec, ctx: Ctx, label_of: Callable[[int], str]) -> list[float]:
    anchors = _rate_anchors(
        ctx, spec.anchors, mean=spec.mean, sd=spec.sd, pull=spec.pull, lo=spec.lo, hi=spec.hi, jitter=spec.jitter
    )
    per_year = {"M": 12, "Q": 4, "Y": 1}[ctx.freq]
    r = ctx.rng("noise")
    e = 0.0
    out = []
    for i in range(ctx.i0, ctx.i1 + 1):
        e = spec.rho * e + r.gauss(0, spec.noise)
        y = start_of(ctx.freq, i).year
        frac = ((i % per_year) + 0.5) / per_year if per_year > 1 else 0.5
        v = _trend(anchors, y, frac, log=False) + e + spec.shocks.get(label_of(i), 0.0)
        out.append(min(spec.ceil, max(spec.floor, v)))
    return out


# --- the indicators ---------------------------------------------------------------------------

COVID_2020 = {"2020-02": 0.97, "2020-03": 0.93, "2020-04": 0.82, "2020-05": 0.93, "2020-06": 0.97}
COVID_2021 = {"2021-07": 0.9, "2021-08": 0.78, "2021-09": 0.8, "2021-10": 0.92, "2021-11": 0.97}

RETAIL = FlowSpec(
    anchors={2010: 1614, 2011: 2004, 2012: 2325, 2013: 2618, 2014: 2945, 2015: 3243, 2016: 3546, 2017: 3934,
             2018: 4395, 2019: 4940, 2020: 5060, 2021: 4790, 2022: 5680, 2023: 6230, 2024: 6390, 2025: 7000},
    growth=0.085, holiday=0.35, before=0.3, months={12: 1.05},
    shocks={**COVID_2020, **COVID_2021}, noise=0.012,
)  # fmt: skip

BUDGET_REVENUE = FlowSpec(
    anchors={2010: 588, 2011: 721, 2012: 743, 2013: 790, 2014: 877, 2015: 1000, 2016: 1101, 2017: 1294,
             2018: 1431, 2019: 1554, 2020: 1510, 2021: 1568, 2022: 1815, 2023: 1757, 2024: 2025, 2025: 2300},
    growth=0.08, months={1: 1.25, 2: 0.75, 3: 1.05, 4: 1.1, 12: 1.35, 8: 0.9, 9: 0.9, 11: 0.92},
    holiday=0.1, shocks=COVID_2021, noise=0.06,
)  # fmt: skip

BUDGET_EXPENDITURE = FlowSpec(
    anchors={2010: 648, 2011: 787, 2012: 903, 2013: 986, 2014: 1049, 2015: 1147, 2016: 1274, 2017: 1390,
             2018: 1398, 2019: 1500, 2020: 1600, 2021: 1560, 2022: 1680, 2023: 1730, 2024: 1880, 2025: 2050},
    growth=0.075, months={1: 0.75, 2: 0.85, 12: 1.8, 11: 1.05, 10: 1.0, 6: 1.02}, noise=0.05,
)  # fmt: skip

EXPORTS = FlowSpec(
    anchors={2010: 72.2, 2011: 96.9, 2012: 114.5, 2013: 132.0, 2014: 150.2, 2015: 162.0, 2016: 176.6, 2017: 214.0,
             2018: 243.5, 2019: 264.2, 2020: 282.6, 2021: 336.3, 2022: 371.9, 2023: 355.5, 2024: 405.5, 2025: 470.0},
    growth=0.08, growth_sd=0.04, holiday=0.85, before=0.12, months={12: 1.05, 1: 1.02},
    shocks={"2020-04": 0.88, "2020-05": 0.9, "2021-08": 0.93, "2021-09": 0.92}, noise=0.035,
)  # fmt: skip

IMPORTS = FlowSpec(
    anchors={2010: 84.8, 2011: 106.7, 2012: 113.8, 2013: 132.1, 2014: 148.0, 2015: 165.8, 2016: 174.8, 2017: 211.1,
             2018: 237.2, 2019: 253.4, 2020: 262.7, 2021: 332.2, 2022: 360.7, 2023: 327.5, 2024: 380.8, 2025: 450.0},
    growth=0.08, growth_sd=0.04, holiday=0.8, before=0.1, months={12: 1.03},
    shocks={"2020-04": 0.9, "2020-05": 0.88, "2021-08": 0.95}, noise=0.035,
)  # fmt: skip

# Arrivals: 2020-02 to 2022-12 are the published monthly numbers (thousands) relative to 2019's
# monthly mean, 1,500 thousand: the borders closed in April 2020 and reopened in March 2022.
_ARRIVALS_2020_2022 = [2000, 1260, 450, 3, 4, 4, 4, 4, 5, 8, 9, 13,
                       8, 6, 9, 9, 12, 14, 15, 13, 11, 13, 19, 20,
                       19, 17, 33, 101, 173, 237, 352, 290, 268, 380, 460, 520]  # fmt: skip
INTL_ARRIVALS = FlowSpec(
    anchors={2010: 5.05, 2011: 6.01, 2012: 6.85, 2013: 7.57, 2014: 7.87, 2015: 7.94, 2016: 10.0, 2017: 12.9,
             2018: 15.5, 2019: 18.0, 2020: 19.5, 2021: 14.0, 2022: 8.5, 2023: 12.6, 2024: 17.6, 2025: 21.2},
    growth=0.07, holiday=0.1, months={1: 1.08, 2: 1.05, 3: 1.0, 6: 0.9, 9: 0.88, 12: 1.12},
    fixed={f"{2020 + k // 12}-{k % 12 + 1:02d}": v / 1500 for k, v in enumerate(_ARRIVALS_2020_2022)},
    noise=0.03,
)  # fmt: skip

RICE = FlowSpec(
    anchors={2010: 6.75, 2011: 7.1, 2012: 8.0, 2013: 6.6, 2014: 6.3, 2015: 6.6, 2016: 4.8, 2017: 5.8,
             2018: 6.1, 2019: 6.37, 2020: 6.15, 2021: 6.24, 2022: 7.1, 2023: 8.1, 2024: 9.0, 2025: 8.0},
    growth=0.01, growth_sd=0.06, holiday=0.7, months={3: 1.15, 4: 1.2, 5: 1.15, 6: 1.1, 9: 0.9, 10: 0.9, 11: 0.85},
    noise=0.08,
)  # fmt: skip

FDI_REGISTERED = FlowSpec(
    anchors={2010: 19.9, 2011: 15.6, 2012: 16.3, 2013: 22.4, 2014: 21.9, 2015: 24.1, 2016: 26.9, 2017: 35.9,
             2018: 35.5, 2019: 38.0, 2020: 28.5, 2021: 31.2, 2022: 27.7, 2023: 36.6, 2024: 38.2, 2025: 38.4},
    growth=0.04, growth_sd=0.1, holiday=0.5, months={12: 1.4, 1: 0.8}, noise=0.3, rho=0.0,
)  # fmt: skip

FDI_DISBURSED = FlowSpec(
    anchors={2010: 11.0, 2011: 11.0, 2012: 10.5, 2013: 11.5, 2014: 12.5, 2015: 14.5, 2016: 15.8, 2017: 17.5,
             2018: 19.1, 2019: 20.4, 2020: 20.0, 2021: 19.7, 2022: 22.4, 2023: 23.2, 2024: 25.4, 2025: 27.6},
    growth=0.06, growth_sd=0.03, holiday=0.6, months={12: 1.25, 11: 1.05}, shocks=COVID_2021, noise=0.03,
)  # fmt: skip

NEW_ENTERPRISES = FlowSpec(
    anchors={2010: 83.6, 2011: 77.5, 2012: 69.9, 2013: 76.9, 2014: 74.8, 2015: 94.8, 2016: 110.1, 2017: 126.9,
             2018: 131.3, 2019: 138.1, 2020: 134.9, 2021: 116.8, 2022: 148.5, 2023: 159.8, 2024: 157.2, 2025: 190.0},
    growth=0.05, growth_sd=0.05, holiday=0.9, before=-0.1, months={3: 1.1, 12: 1.05},
    shocks={"2020-04": 0.75, "2021-08": 0.45, "2021-09": 0.5, "2021-10": 0.8}, noise=0.05,
)  # fmt: skip

ENTERPRISE_EXITS = FlowSpec(
    anchors={2010: 43.0, 2011: 54.0, 2012: 54.3, 2013: 60.7, 2014: 67.8, 2015: 80.9, 2016: 60.6, 2017: 90.6,
             2018: 90.6, 2019: 92.4, 2020: 101.7, 2021: 119.8, 2022: 143.2, 2023: 172.6, 2024: 197.8, 2025: 200.0},
    growth=0.05, growth_sd=0.06, months={1: 2.4, 2: 1.6, 3: 0.9, 12: 0.8}, noise=0.06,
)  # fmt: skip

SI_PARTICIPANTS = FlowSpec(
    anchors={2010: 9.4, 2011: 10.1, 2012: 10.4, 2013: 10.9, 2014: 11.5, 2015: 12.2, 2016: 12.9, 2017: 13.9,
             2018: 14.5, 2019: 15.1, 2020: 16.2, 2021: 16.5, 2022: 17.5, 2023: 17.2, 2024: 18.3, 2025: 19.3},
    growth=0.04, growth_sd=0.01, jitter=0.003,
    shocks={"2021-08": 0.98, "2021-09": 0.97, "2021-10": 0.98}, noise=0.002, rho=0.8,
)  # fmt: skip

UI_PARTICIPANTS = FlowSpec(
    anchors={2010: 7.2, 2011: 7.9, 2012: 8.3, 2013: 9.0, 2014: 9.9, 2015: 10.3, 2016: 11.0, 2017: 11.8,
             2018: 12.5, 2019: 13.4, 2020: 13.3, 2021: 13.7, 2022: 14.4, 2023: 14.6, 2024: 15.2, 2025: 15.8},
    growth=0.035, growth_sd=0.01, jitter=0.003,
    shocks={"2021-08": 0.98, "2021-09": 0.97, "2021-10": 0.98}, noise=0.002, rho=0.8,
)  # fmt: skip

TRAFFIC_ACCIDENTS = FlowSpec(
    anchors={2016: 21589, 2017: 20280, 2018: 18736, 2019: 17626, 2020: 14510, 2021: 11495, 2022: 11450,
             2023: 12650, 2024: 12210, 2025: 11600},
    growth=-0.03, growth_sd=0.03, holiday=-0.35, months={1: 1.05, 2: 1.1}, by_days=True,
    shocks={"2020-04": 0.55, "2021-08": 0.6, "2021-09": 0.65}, noise=0.05,
)  # fmt: skip

ELECTRICITY = FlowSpec(
    anchors={2010: 100.1, 2011: 109.4, 2012: 120.3, 2013: 131.0, 2014: 145.5, 2015: 159.7, 2016: 177.1, 2017: 192.6,
             2018: 212.9, 2019: 240.1, 2020: 247.1, 2021: 256.7, 2022: 268.4, 2023: 280.6, 2024: 309.0, 2025: 325.0},
    growth=0.08, growth_sd=0.02, holiday=0.25, by_days=True,
    months={4: 1.05, 5: 1.1, 6: 1.1, 7: 1.08, 8: 1.05, 12: 0.98, 1: 0.95, 2: 0.95},
    shocks={"2020-04": 0.92, "2021-08": 0.93, "2021-09": 0.94}, noise=0.015,
)  # fmt: skip

IIP_LEVEL = FlowSpec(  # a volume index whose year-on-year change is IIP_YOY
    anchors={2009: 100, 2010: 109.7, 2011: 117.2, 2012: 122.8, 2013: 130.0, 2014: 139.9, 2015: 153.6, 2016: 165.1,
             2017: 180.6, 2018: 199.0, 2019: 217.1, 2020: 224.3, 2021: 235.1, 2022: 253.4, 2023: 257.2,
             2024: 278.8, 2025: 304.5},
    growth=0.08, growth_sd=0.02, jitter=0.002, holiday=0.45, before=0.05, by_days=True,
    shocks={"2020-04": 0.88, "2020-05": 0.95, "2021-08": 0.92, "2021-09": 0.93}, noise=0.015, rho=0.2,
)  # fmt: skip

CPI_YOY = RateSpec(
    anchors={2009: 6.9, 2010: 9.2, 2011: 18.6, 2012: 9.2, 2013: 6.6, 2014: 4.1, 2015: 0.6, 2016: 2.7, 2017: 3.5,
             2018: 3.5, 2019: 2.8, 2020: 3.2, 2021: 1.8, 2022: 3.2, 2023: 3.3, 2024: 3.6, 2025: 3.3},
    mean=3.5, sd=0.6, pull=0.4, lo=0.5, hi=6.0, jitter=0.1, noise=0.18, rho=0.8,
    shocks={"2011-08": 3.5, "2011-07": 2.5, "2011-09": 3.0, "2020-01": 2.0, "2020-02": 1.8, "2021-04": -0.8},
)  # fmt: skip

UNEMPLOYMENT = RateSpec(
    anchors={2010: 2.88, 2011: 2.22, 2012: 1.96, 2013: 2.18, 2014: 2.10, 2015: 2.33, 2016: 2.30, 2017: 2.24,
             2018: 2.19, 2019: 2.17, 2020: 2.48, 2021: 3.10, 2022: 2.32, 2023: 2.28, 2024: 2.24, 2025: 2.22},
    mean=2.2, sd=0.08, pull=0.5, lo=1.8, hi=2.8, jitter=0.03, noise=0.04, rho=0.3,
    shocks={"2020-Q2": 0.3, "2020-Q3": 0.1, "2021-Q3": 0.9, "2021-Q4": 0.4, "2021-Q1": -0.2, "2021-Q2": -0.5},
    floor=0.5,
)  # fmt: skip

HI_COVERAGE = RateSpec(
    anchors={2010: 60.0, 2011: 64.9, 2012: 66.8, 2013: 71.6, 2014: 72.9, 2015: 76.5, 2016: 81.9, 2017: 86.4,
             2018: 88.5, 2019: 90.0, 2020: 90.9, 2021: 91.0, 2022: 92.0, 2023: 93.4, 2024: 94.3, 2025: 95.0},
    mean=96.0, sd=0.2, pull=0.4, lo=90.0, hi=98.5, jitter=0.1, noise=0.08, rho=0.7, ceil=100.0,
)  # fmt: skip

LEVEL4_SHARE = RateSpec(
    anchors={2016: 3.0, 2017: 5.5, 2018: 7.5, 2019: 10.0, 2020: 30.5, 2021: 45.0, 2022: 50.5, 2023: 53.0,
             2024: 55.0, 2025: 56.0},
    mean=58.0, sd=1.0, pull=0.3, lo=40.0, hi=75.0, jitter=0.4, noise=0.4, rho=0.8, floor=0.0, ceil=100.0,
)  # fmt: skip

# GDP growth (year on year, %) of each quarter as published; later quarters continue at ~7.5 %.
_GDP_Q = {
    2010: (5.8, 6.4, 7.2, 7.4), 2011: (5.6, 5.7, 6.1, 6.1), 2012: (4.0, 4.7, 5.4, 5.4), 2013: (4.8, 5.0, 5.5, 6.0),
    2014: (5.1, 5.4, 6.2, 6.9), 2015: (6.1, 6.5, 6.9, 7.0), 2016: (5.5, 5.8, 6.6, 6.7), 2017: (5.2, 6.3, 7.5, 7.7),
    2018: (7.5, 6.7, 6.9, 7.3), 2019: (6.8, 6.7, 7.5, 7.0), 2020: (3.7, 0.4, 2.7, 4.5), 2021: (4.7, 6.6, -6.0, 5.2),
    2022: (5.1, 7.8, 13.7, 5.9), 2023: (3.3, 4.1, 5.3, 6.7), 2024: (5.7, 7.1, 7.4, 7.6), 2025: (6.9, 8.0, 8.2, 8.5),
}  # fmt: skip

_CREDIT_YEAR = {
    2010: 27.7, 2011: 12.0, 2012: 8.9, 2013: 12.5, 2014: 14.2, 2015: 17.3, 2016: 18.3, 2017: 18.2, 2018: 13.3,
    2019: 13.7, 2020: 12.1, 2021: 13.6, 2022: 14.5, 2023: 13.7, 2024: 15.1, 2025: 18.5,
}  # fmt: skip

# Central rate VND/USD (the SBV publishes it since 2016): level at these dates, linear in between.
_USD_POINTS = [
    ("2016-01-04", 21896), ("2017-01-01", 22159), ("2018-01-01", 22425), ("2019-01-01", 22825),
    ("2020-01-01", 23155), ("2021-01-01", 23131), ("2022-01-01", 23145), ("2022-07-01", 23225),
    ("2022-10-20", 23650), ("2023-01-01", 23612), ("2023-07-01", 23750), ("2024-01-01", 23900),
    ("2024-07-01", 24255), ("2025-01-01", 24262), ("2025-07-01", 25060), ("2026-01-01", 25120),
]  # fmt: skip

# Overnight interbank rate (%/year): rough levels of the published averages.
_OVERNIGHT_POINTS = [
    ("2017-01-01", 4.5), ("2017-07-01", 3.0), ("2018-01-01", 1.5), ("2018-07-01", 2.5), ("2019-01-01", 4.5),
    ("2019-07-01", 3.0), ("2020-01-01", 2.5), ("2020-04-01", 2.0), ("2020-07-01", 0.2), ("2021-01-01", 0.2),
    ("2021-07-01", 0.7), ("2022-01-01", 2.0), ("2022-07-01", 2.0), ("2022-10-01", 6.0), ("2023-01-01", 5.5),
    ("2023-04-01", 4.5), ("2023-07-01", 0.4), ("2023-10-01", 0.2), ("2024-01-01", 1.0), ("2024-04-01", 0.6),
    ("2024-07-01", 4.5), ("2025-01-01", 4.0), ("2025-07-01", 4.5), ("2026-01-01", 4.5),
]  # fmt: skip


def _flow(spec: FlowSpec) -> Generator:
    return lambda ctx: monthly_flow(spec, ctx)


def gen_iip(ctx: Ctx) -> list[float]:
    level = monthly_flow(IIP_LEVEL, Ctx(ctx.seed, ctx.code, "M", ctx.i0 - 12, ctx.i1, 100.0))
    return yoy_of(level, 12)


def gen_cpi_mom(ctx: Ctx) -> list[float]:
    """Month on month: the year-on-year pace spread over the months, with the Tết price rise."""
    yoy = rate_series(CPI_YOY, Ctx(ctx.seed, "CPI_YOY", "M", ctx.i0, ctx.i1, ctx.magnitude), _ym)
    r = ctx.rng("noise")
    out = []
    for k, i in enumerate(range(ctx.i0, ctx.i1 + 1)):
        y, m = i // 12, i % 12 + 1
        tet_bump = 0.9 * (tet_factor(y, m, 0.0, 1.0) - 1) / 0.7 - 0.25 * max(0.0, 1 - tet_factor(y, m, 1.0, 0.0))
        out.append(yoy[k] / 12 + tet_bump - 0.07 + r.gauss(0, 0.12))
    return out


def gen_gdp(ctx: Ctx) -> list[float]:
    r = ctx.rng("anchors")
    out = []
    prev = 7.5
    for i in range(ctx.i0, ctx.i1 + 1):
        y, q = i // 4, i % 4
        if y in _GDP_Q:
            v = _GDP_Q[y][q] + r.gauss(0, 0.08)
        else:
            v = min(9.0, max(5.5, prev + 0.4 * (7.5 - prev) + r.gauss(0, 0.35)))
        prev = v
        out.append(v)
    return out


def gen_grdp_reference(ctx: Ctx) -> list[float]:
    """The national yearly growth that provincial GRDP growth rates vary around (not served)."""
    q = gen_gdp(Ctx(ctx.seed, "GDP_GROWTH", "Q", ctx.i0 * 4, ctx.i1 * 4 + 3, 7.0))
    return [sum(q[4 * k : 4 * k + 4]) / 4 for k in range(ctx.i1 - ctx.i0 + 1)]


def gen_credit(ctx: Ctx) -> list[float]:
    """Credit growth since the start of the year: slow in the first months, fast at year end."""
    r = ctx.rng("anchors")
    targets = {}
    last = end_of("M", ctx.i1).year
    prev = 14.0
    for y in range(min(_CREDIT_YEAR), last + 1):
        targets[y] = (
            _CREDIT_YEAR[y] + r.gauss(0, 0.2) if y in _CREDIT_YEAR else max(9.0, min(18.0, prev + r.gauss(0, 1.0)))
        )
        prev = targets[y]
    noise = ctx.rng("noise")
    out = []
    for i in range(ctx.i0, ctx.i1 + 1):
        y, m = i // 12, i % 12 + 1
        shape = (m / 12) ** 1.2 - (0.04 if m == 1 else 0.0)
        out.append(targets[y] * shape + noise.gauss(0, 0.12))
    return out


def gen_public_investment(ctx: Ctx) -> list[float]:
    """Share of the year's public investment plan disbursed so far (%): resets every January."""
    r = ctx.rng("anchors")
    noise = ctx.rng("noise")
    shape = (2.5, 6.5, 12.0, 17.5, 23.5, 30.5, 37.0, 44.0, 51.0, 58.0, 67.0, 82.0)
    out: list[float] = []
    year_factor = 1.0
    for i in range(ctx.i0, ctx.i1 + 1):
        m = i % 12
        if m == 0 or not out:
            year_factor = min(1.2, max(0.8, 1 + r.gauss(0, 0.07)))
        out.append(min(99.0, shape[m] * year_factor + noise.gauss(0, 0.4)))
    return out


def _points(points: Sequence[tuple[str, float]]) -> list[tuple[int, float]]:
    return [(date.fromisoformat(d).toordinal(), v) for d, v in points]


def _interp(points: list[tuple[int, float]], day: int) -> float:
    if day <= points[0][0]:
        return points[0][1]
    for (d0, v0), (d1, v1) in itertools.pairwise(points):
        if day <= d1:
            return v0 + (v1 - v0) * (day - d0) / (d1 - d0)
    return points[-1][1]


def _extend_points(ctx: Ctx, points: list[tuple[int, float]], step: Callable[[random.Random, float], float]) -> None:
    """Continue daily anchor points every six months after the last one, with seeded steps."""
    r = ctx.rng("anchors")
    while points[-1][0] <= ctx.i1 + 200:
        d = date.fromordinal(points[-1][0])
        nxt = date(d.year + (d.month > 6), 1 if d.month > 6 else 7, 1)
        points.append((nxt.toordinal(), step(r, points[-1][1])))


def gen_usd(ctx: Ctx) -> list[float]:
    points = _points(_USD_POINTS)
    _extend_points(ctx, points, lambda r, v: v * (1 + 0.01 + r.gauss(0, 0.006)))
    r = ctx.rng("noise")
    e = 0.0
    out = []
    for day in range(ctx.i0, ctx.i1 + 1):
        e = 0.97 * e + r.gauss(0, 4.0)
        out.append(_interp(points, day) + e)
    return out


def gen_overnight(ctx: Ctx) -> list[float]:
    points = _points(_OVERNIGHT_POINTS)
    _extend_points(ctx, points, lambda r, v: min(7.0, max(0.3, v + 0.4 * (3.5 - v) + r.gauss(0, 1.0))))
    r = ctx.rng("noise")
    e = 0.0
    out = []
    for day in range(ctx.i0, ctx.i1 + 1):
        d = date.fromordinal(day)
        e = 0.92 * e + r.gauss(0, 0.06)
        t = tet(d.year)
        # liquidity is tight in the weeks before Tết and at the end of the year
        squeeze = 1.0
        if timedelta(0) <= t - d <= timedelta(days=14) or (d.month == 12 and d.day >= 20):
            squeeze = 1.35
        out.append(max(0.05, _interp(points, day) * squeeze * math.exp(e)))
    return out


# COVID-19 waves: (start, peak, end, cases per day at the peak); the curve is a bell on a log scale.
COVID_WAVES = [
    ("2020-01-23", "2020-02-04", "2020-02-14", 1.5),
    ("2020-03-05", "2020-03-24", "2020-04-20", 12.0),
    ("2020-07-24", "2020-08-07", "2020-09-10", 45.0),
    ("2021-01-27", "2021-02-06", "2021-03-20", 55.0),
    ("2021-04-26", "2021-08-22", "2021-10-25", 12500.0),
    ("2021-10-10", "2021-12-20", "2022-01-31", 16000.0),
    ("2022-01-20", "2022-03-10", "2022-05-20", 420000.0),
    ("2022-06-10", "2022-08-25", "2022-11-10", 2400.0),
    ("2023-03-20", "2023-04-30", "2023-06-15", 1800.0),
]


def _wave(day: int, start: int, peak: int, end: int, height: float) -> float:
    if not start <= day <= end:
        return 0.0
    x = (day - peak) / max(1, (peak - start) if day < peak else (end - peak))
    return height * math.exp(-math.log(200) * x * x)


def gen_covid(ctx: Ctx) -> list[float]:
    day_of = date.fromisoformat
    waves = [(day_of(a).toordinal(), day_of(p).toordinal(), day_of(b).toordinal(), h) for a, p, b, h in COVID_WAVES]
    # after the last wave: a small seeded wave each year, on an endemic floor of some dozens a day
    r = ctx.rng("anchors")
    for y in range(2024, date.fromordinal(ctx.i1).year + 2):
        peak = date(y, 1, 1).toordinal() + r.randrange(60, 300)
        waves.append((peak - r.randrange(25, 50), peak, peak + r.randrange(40, 70), r.uniform(150, 900)))
    noise = ctx.rng("noise")
    first = date(2020, 1, 23).toordinal()
    out: list[float] = []
    for day in range(ctx.i0, ctx.i1 + 1):
        e = noise.gauss(0, 0.22)
        base = sum(_wave(day, *w) for w in waves)
        if day >= date(2020, 4, 1).toordinal():
            base += 0.6  # imported cases in quarantine
        if day >= date(2022, 6, 1).toordinal():
            base += max(25.0, 400 * math.exp(-(day - date(2022, 6, 1).toordinal()) / 200))
        weekday = date.fromordinal(day).weekday()
        v = base * math.exp(e) * (0.85 if weekday == 6 else 1.0)
        out.append(2.0 if day == first else v)
    return out


GENERATORS: dict[str, Generator] = {
    "GDP_GROWTH": gen_gdp,
    "GRDP_GROWTH": gen_grdp_reference,
    "CPI_YOY": lambda ctx: rate_series(CPI_YOY, ctx, _ym),
    "CPI_MOM": gen_cpi_mom,
    "IIP_YOY": gen_iip,
    "RETAIL_SALES": _flow(RETAIL),
    "BUDGET_REVENUE": _flow(BUDGET_REVENUE),
    "BUDGET_EXPENDITURE": _flow(BUDGET_EXPENDITURE),
    "PUBLIC_INVESTMENT_DISBURSED": gen_public_investment,
    "CREDIT_GROWTH": gen_credit,
    "USD_CENTRAL_RATE": gen_usd,
    "INTERBANK_OVERNIGHT": gen_overnight,
    "EXPORTS": _flow(EXPORTS),
    "IMPORTS": _flow(IMPORTS),
    "INTL_ARRIVALS": _flow(INTL_ARRIVALS),
    "RICE_EXPORTS": _flow(RICE),
    "FDI_REGISTERED": _flow(FDI_REGISTERED),
    "FDI_DISBURSED": _flow(FDI_DISBURSED),
    "NEW_ENTERPRISES": _flow(NEW_ENTERPRISES),
    "ENTERPRISE_EXITS": _flow(ENTERPRISE_EXITS),
    "UNEMPLOYMENT_RATE": lambda ctx: rate_series(UNEMPLOYMENT, ctx, lambda i: f"{i // 4}-Q{i % 4 + 1}"),
    "SI_PARTICIPANTS": _flow(SI_PARTICIPANTS),
    "UI_PARTICIPANTS": _flow(UI_PARTICIPANTS),
    "HI_COVERAGE": lambda ctx: rate_series(HI_COVERAGE, ctx, lambda i: f"{i // 4}-Q{i % 4 + 1}"),
    "COVID19_NEW_CASES": gen_covid,
    "TRAFFIC_ACCIDENTS": _flow(TRAFFIC_ACCIDENTS),
    "ELECTRICITY_OUTPUT": _flow(ELECTRICITY),
    "LEVEL4_SERVICE_SHARE": lambda ctx: rate_series(LEVEL4_SHARE, ctx, _ym),
}


def generic(ctx: Ctx) -> list[float]:
    """An indicator added to the catalogue later: its magnitude, a gentle trend and noise."""
    r = ctx.rng("noise")
    base = ctx.magnitude or 100.0
    return [base * (1 + 0.002 * (i - ctx.i0)) * math.exp(r.gauss(0, 0.02)) for i in range(ctx.i0, ctx.i1 + 1)]


def national(seed: int, code: str, freq: str, first: date, last: date, magnitude: float) -> list[float]:
    """Final values of ``code`` for the periods containing ``first`` .. ``last``."""
    ctx = Ctx(seed, code, freq, index_of(freq, first), index_of(freq, last), magnitude)
    return GENERATORS.get(code, generic)(ctx)
