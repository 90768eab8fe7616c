"""National series: the final (official) value of each non-live indicator for each period.

Every series starts from rough published yearly figures (anchors, 2010-2025), interpolated from
mid-year to mid-year, then gets the calendar (Tết, December, the number of days), the shocks of
COVID-19 and seeded noise. Years after the last anchor continue with seeded growth. All random
draws come from generators seeded by (seed, indicator, purpose) and are drawn period by period,
so extending the horizon never changes an earlier value. The figures are in ``simulator.anchors``,
the building blocks (flows, rates, trends) in ``simulator.trends``; here, one generator per indicator.

History: indicators of the statistics office and customs (owners GSO and GDC) start in January
2010; all others start in January 2017; COVID-19 cases start on 2020-01-23, the day of the first
cases.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from simulator import anchors
from simulator.periods import end_of, index_of, tet, tet_factor
from simulator.trends import Ctx, FlowSpec, Generator, monthly_flow, rate_series, ym, yoy_of, yq

LONG_HISTORY_OWNERS = ("GSO", "GDC")


def history_start(code: str, owner: str) -> date:
    if code == "COVID19_NEW_CASES":
        return date(2020, 1, 23)
    return date(2010, 1, 1) if owner in LONG_HISTORY_OWNERS else date(2017, 1, 1)


def _flow(spec: FlowSpec) -> Generator:
    return lambda ctx: monthly_flow(spec, ctx)


def gen_iip(ctx: Ctx) -> list[float]:
    level = monthly_flow(anchors.IIP_LEVEL, Ctx(ctx.seed, ctx.code, "M", ctx.i0 - 12, ctx.i1, 100.0))
    return yoy_of(level, 12)


def gen_cpi_mom(ctx: Ctx) -> list[float]:
    """Month on month: the year-on-year pace spread over the months, with the Tết price rise."""
    yoy = rate_series(anchors.CPI_YOY, Ctx(ctx.seed, "CPI_YOY", "M", ctx.i0, ctx.i1, ctx.magnitude), ym)
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
        if y in anchors.GDP_Q:
            v = anchors.GDP_Q[y][q] + r.gauss(0, 0.08)
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
    for y in range(min(anchors.CREDIT_YEAR), last + 1):
        targets[y] = (
            anchors.CREDIT_YEAR[y] + r.gauss(0, 0.2)
            if y in anchors.CREDIT_YEAR
            else max(9.0, min(18.0, prev + r.gauss(0, 1.0)))
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
    points = _points(anchors.USD_POINTS)
    _extend_points(ctx, points, lambda r, v: v * (1 + 0.01 + r.gauss(0, 0.006)))
    r = ctx.rng("noise")
    e = 0.0
    out = []
    for day in range(ctx.i0, ctx.i1 + 1):
        e = 0.97 * e + r.gauss(0, 4.0)
        out.append(_interp(points, day) + e)
    return out


def gen_overnight(ctx: Ctx) -> list[float]:
    points = _points(anchors.OVERNIGHT_POINTS)
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


def _wave(day: int, start: int, peak: int, end: int, height: float) -> float:
    if not start <= day <= end:
        return 0.0
    x = (day - peak) / max(1, (peak - start) if day < peak else (end - peak))
    return height * math.exp(-math.log(200) * x * x)


def gen_covid(ctx: Ctx) -> list[float]:
    day_of = date.fromisoformat
    waves = [
        (day_of(a).toordinal(), day_of(p).toordinal(), day_of(b).toordinal(), h) for a, p, b, h in anchors.COVID_WAVES
    ]
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
    "CPI_YOY": lambda ctx: rate_series(anchors.CPI_YOY, ctx, ym),
    "CPI_MOM": gen_cpi_mom,
    "IIP_YOY": gen_iip,
    "RETAIL_SALES": _flow(anchors.RETAIL),
    "BUDGET_REVENUE": _flow(anchors.BUDGET_REVENUE),
    "BUDGET_EXPENDITURE": _flow(anchors.BUDGET_EXPENDITURE),
    "PUBLIC_INVESTMENT_DISBURSED": gen_public_investment,
    "CREDIT_GROWTH": gen_credit,
    "USD_CENTRAL_RATE": gen_usd,
    "INTERBANK_OVERNIGHT": gen_overnight,
    "EXPORTS": _flow(anchors.EXPORTS),
    "IMPORTS": _flow(anchors.IMPORTS),
    "INTL_ARRIVALS": _flow(anchors.INTL_ARRIVALS),
    "RICE_EXPORTS": _flow(anchors.RICE),
    "FDI_REGISTERED": _flow(anchors.FDI_REGISTERED),
    "FDI_DISBURSED": _flow(anchors.FDI_DISBURSED),
    "NEW_ENTERPRISES": _flow(anchors.NEW_ENTERPRISES),
    "ENTERPRISE_EXITS": _flow(anchors.ENTERPRISE_EXITS),
    "UNEMPLOYMENT_RATE": lambda ctx: rate_series(anchors.UNEMPLOYMENT, ctx, yq),
    "SI_PARTICIPANTS": _flow(anchors.SI_PARTICIPANTS),
    "UI_PARTICIPANTS": _flow(anchors.UI_PARTICIPANTS),
    "HI_COVERAGE": lambda ctx: rate_series(anchors.HI_COVERAGE, ctx, yq),
    "COVID19_NEW_CASES": gen_covid,
    "TRAFFIC_ACCIDENTS": _flow(anchors.TRAFFIC_ACCIDENTS),
    "ELECTRICITY_OUTPUT": _flow(anchors.ELECTRICITY),
    "LEVEL4_SERVICE_SHARE": lambda ctx: rate_series(anchors.LEVEL4_SHARE, ctx, ym),
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
