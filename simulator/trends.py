"""The building blocks of a national series: yearly anchors, mid-year interpolation, monthly
flows and rates with their calendar, shocks and seeded noise.

Every generator in ``simulator.national`` is made of these; the figures they start from are in
``simulator.anchors``. Random draws come from generators seeded by (seed, indicator, purpose).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.periods import end_of, rng, start_of, tet_factor


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


def ym(i: int) -> str:
    """The label of month ``i`` (months since year 0)."""
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def yq(i: int) -> str:
    """The label of quarter ``i`` (quarters since year 0)."""
    return f"{i // 4}-Q{i % 4 + 1}"


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
        key = ym(i)
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
