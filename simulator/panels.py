"""Provincial panels: how one indicator's national figures spread over the provinces.

Flows and stocks are split from the national figure by seeded, slowly drifting shares with
largest-remainder rounding, so the provinces add up exactly to the nation; a merged unit's share
is the sum of its former units'. Rates vary around the national value, and a merged unit's rate
is the weighted mean of its former units'. Both fill the same columns from the same input, a
:class:`PanelInput`; ``simulator.figures`` turns the columns into series.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from simulator.periods import rng
from simulator.provinces import COVID_HOTSPOTS, TRADE_HUBS, weight
from simulator.reference import IndicatorRow
from simulator.series import Value, revision_size, rounded


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


# Final and first values: one column per former unit, then one per current unit.
Columns = tuple[list[list[Value]], list[list[Value]] | None]


@dataclass(frozen=True, slots=True)
class PanelInput:
    """One indicator's national figures and where each period's provincial figures go."""

    seed: int
    row: IndicatorRow
    final: list[float]  # the national final values, one per period
    first: list[float] | None  # the first published ones, if the indicator is revised
    ends: list[date]  # the last day of each period
    cut: int  # periods [0, cut) are reported by the former units, the others by the current ones
    former: list[str]  # the former units' codes
    groups: list[list[int]]  # for each current unit, the positions of its former units in ``former``
    d: int  # decimals

    def rng(self, purpose: str) -> random.Random:
        return rng(self.seed, self.row.code, purpose)

    def columns(self) -> Columns:
        """Zeroed columns: one per former unit, then one per current unit (filled where they report)."""
        n = len(self.former) + len(self.groups)
        cols_fin: list[list[Value]] = [[0] * len(self.final) for _ in range(n)]
        cols_first: list[list[Value]] | None = [[0] * len(self.final) for _ in range(n)] if self.first else None
        return cols_fin, cols_first


def split(p: PanelInput) -> Columns:
    """A flow or stock: the national figure apportioned by each period's shares."""
    spec = SHARES.get(p.row.code, ShareSpec())
    former = p.former
    nf, nc = len(former), len(p.groups)
    r = p.rng("shares")
    base = [weight(u, spec.grdp, spec.pop) * math.exp(r.gauss(0, spec.spread)) for u in former]
    if p.row.code in ("EXPORTS", "IMPORTS"):
        base = [b * TRADE_HUBS.get(u, 1.0) for b, u in zip(base, former, strict=True)]
    hotspots = []
    if p.row.code == "COVID19_NEW_CASES":
        for since, until, spots in COVID_HOTSPOTS:
            mult = [spots.get(u, 1.0) for u in former]
            hotspots.append((date.fromisoformat(since), date.fromisoformat(until), mult))
    scale = 10**p.d
    cols_fin, cols_first = p.columns()
    walk = [0.0] * nf
    moves = p.rng("share-moves")
    uniform = moves.random
    drift, noise = SQRT12 * spec.drift, SQRT12 * spec.noise
    exp = math.exp
    for k, end in enumerate(p.ends):
        w = []
        for j in range(nf):
            if drift:
                walk[j] += (uniform() - 0.5) * drift
            w.append(base[j] * exp(walk[j] + (uniform() - 0.5) * noise))
        for a, b, mult in hotspots:
            if a <= end <= b:
                w = [x * m for x, m in zip(w, mult, strict=True)]
        if k < p.cut:
            targets, weights = range(nf), w
        else:
            targets, weights = range(nf, nf + nc), [sum(w[j] for j in g) for g in p.groups]
        for cols, vals in ((cols_fin, p.final), (cols_first, p.first)):
            if cols is None or vals is None:
                continue
            parts = apportion(round(vals[k] * scale), weights)
            for col, part in zip(targets, parts, strict=True):
                cols[col][k] = part if p.d == 0 else round(part / scale, p.d)
    return cols_fin, cols_first


def vary(p: PanelInput) -> Columns:
    """A rate: the national figure plus a lasting and a passing deviation for each unit."""
    spec = RATES.get(p.row.code, RateSpec())
    former = p.former
    nf = len(former)
    r = p.rng("offsets")
    offsets = [r.gauss(0, spec.spread) for _ in former]
    size = [weight(u, 0.5, 0.5) for u in former]
    noise = p.rng("province-noise")
    rev = p.rng("province-revision")
    rsize = revision_size(p.row)
    e = [0.0] * nf
    south = [u >= "70" for u in former]
    cols_fin, cols_first = p.columns()

    def clip(v: float) -> float:
        return min(spec.hi, max(spec.lo, v))

    for k, end in enumerate(p.ends):
        vals = []
        for j in range(nf):
            e[j] = spec.rho * e[j] + spread(noise, spec.noise)
            v = p.final[k] * math.exp(offsets[j] + e[j]) if spec.mode == "mul" else p.final[k] + offsets[j] + e[j]
            if p.row.code == "GRDP_GROWTH" and end.year == 2021 and south[j]:
                v -= 5.0  # the lockdowns of the 2021 Delta wave in the south
            vals.append(v)
        if k < p.cut:
            out = [(j, clip(vals[j])) for j in range(nf)]
        else:
            out = [
                (nf + c, clip(sum(vals[j] * size[j] for j in g) / sum(size[j] for j in g)))
                for c, g in enumerate(p.groups)
            ]
        for col, v in out:
            cols_fin[col][k] = rounded(v, p.d)
            if cols_first is not None:
                cols_first[col][k] = rounded(clip(v + spread(rev, rsize)), p.d)
    return cols_fin, cols_first
