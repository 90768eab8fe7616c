"""Cross-checks: the provinces against the national figure, a derived figure against its parts,
and one figure from two sources. Each alert carries both figures and where each came from (the
source and the sha256 of the payload it was read from).

A check compares the newest revision of each figure. The provinces are summed only when every
province in force has reported (a partial sum says nothing), and only for flows and stocks (a
rate or an index does not add up).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from collectors.config import RulesSettings
from rules.reporting import Areas, placeholders
from rules.verdicts import Firing, about_figure, settle
from storage import NATION, AlertParams, Indicator, Period, Severity, Store
from storage.models import IndicatorKind, Level

PROVINCES = "crosscheck.provinces"
DERIVED = "crosscheck.derived"
SOURCES = "crosscheck.sources"

log = logging.getLogger(__name__)

_TERM = re.compile(r"\s*([+-]?)\s*([A-Za-z0-9_.]+)\s*")


@dataclass(frozen=True)
class Figure:
    area: str
    source: str
    value: float
    status: str
    obs_id: int
    digest: str | None

    def about(self, indicator: str, period: str, facts: AlertParams) -> AlertParams:
        """An alert about this figure: ``facts`` with its key, value and where it came from."""
        provenance = facts.model_copy(update={"payload_digest": self.digest, "observation_id": self.obs_id})
        return about_figure(indicator, self.area, period, self.source, self.value, provenance)


def parse_formula(formula: str) -> list[tuple[int, str]]:
    """``"EXPORTS-IMPORTS"`` -> ``[(1, "EXPORTS"), (-1, "IMPORTS")]``; sums and differences only."""
    text = formula.removeprefix("derived:")
    terms: list[tuple[int, str]] = []
    pos = 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None or m.end() == pos or (terms and not m[1]):
            raise ValueError(f"formula {formula!r}: only sums and differences of indicator codes are understood")
        terms.append((-1 if m[1] == "-" else 1, m[2]))
        pos = m.end()
    if not terms:
        raise ValueError(f"formula {formula!r} is empty")
    return terms


async def latest_figures(store: Store, indicator: str, period: str, areas: Sequence[str] | None = None) -> list[Figure]:
    """The newest revision of every (area, source) figure of ``indicator`` for ``period``, in
    ``areas`` (default: every area the store knows), area by area in their order."""
    wanted = list(areas) if areas is not None else await Areas(store).known()
    if not wanted:
        return []
    # area IN (the areas): the key (indicator, area, period, ...) is sought per area, not the
    # indicator's whole history read (reporting.Areas says why).
    rows = await store.read_rows(
        f"""SELECT o.area, o.source, o.value, o.status, o.id, p.digest FROM observations o
           LEFT JOIN raw_payloads p ON p.id = o.payload_id
           WHERE o.indicator = ? AND o.area IN ({placeholders(len(wanted))}) AND o.period = ?
             AND o.revision = (SELECT max(revision) FROM observations m WHERE m.indicator = o.indicator
                               AND m.area = o.area AND m.period = o.period AND m.source = o.source)""",
        (indicator, *wanted, period),
    )
    by_area: dict[str, list[Figure]] = {area: [] for area in wanted}
    for r in rows:
        by_area[r[0]].append(Figure(*r))
    return [f for area in wanted for f in by_area[area]]


class Reads:
    """What one pass of the cross-checks would otherwise read again: the areas, and each
    (indicator, area, period)'s figures (read once for the three checks and for every derived
    figure that is made of it). Only the areas a check asks for are read: the national figure
    alone, or the areas a run touched, where no check needs every province. Within one pass only:
    figures change with the next ingest."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.areas = Areas(store)
        self._figures: dict[tuple[str, str], dict[str, list[Figure]]] = {}

    async def figures(self, indicator: str, period: str, areas: Sequence[str] | None = None) -> list[Figure]:
        """The figures of ``indicator`` for ``period`` in ``areas`` (default: every known area)."""
        wanted = areas if areas is not None else await self.areas.known()
        held = self._figures.setdefault((indicator, period), {})
        unread = [a for a in wanted if a not in held]
        if unread:
            for area in unread:
                held[area] = []
            for f in await latest_figures(self.store, indicator, period, unread):
                held[f.area].append(f)
        return [f for area in wanted for f in held[area]]


async def recent_periods(store: Store, indicator: str, n: int = 3) -> list[str]:
    """The ``n`` newest periods the centre holds a national figure of ``indicator`` for."""
    rows = await store.read_rows(
        "SELECT DISTINCT period FROM observations WHERE indicator = ? AND area = ? ORDER BY period DESC LIMIT ?",
        (indicator, NATION, n),
    )
    return [r[0] for r in rows]


def _differ(a: float, b: float, tolerance: float, scale: float | None = None) -> bool:
    size = abs(b) if scale is None else scale
    return abs(a - b) > tolerance * size + 1e-9


def _pick(figures: Iterable[Figure], area: str, sources: set[str] | None = None) -> Figure | None:
    """One figure of ``area``: from the first source by name (a stable choice when several publish it)."""
    mine = sorted((f for f in figures if f.area == area and (sources is None or f.source in sources)),
                  key=lambda f: f.source)  # fmt: skip
    return mine[0] if mine else None


def _short(digest: str | None) -> str:
    return f"sha256:{digest[:12]}" if digest else "sha256: —"


async def check_provinces(
    store: Store,
    indicator: Indicator,
    period: str,
    rules: RulesSettings,
    *,
    province_sources: set[str] | None = None,
    reads: Reads | None = None,
) -> bool | None:
    """Whether the provinces add up to the national figure (None: nothing to compare)."""
    if indicator.level is not Level.BOTH or indicator.kind not in (IndicatorKind.FLOW, IndicatorKind.STOCK):
        return None
    reads = reads if reads is not None else Reads(store)
    national = _pick(await reads.figures(indicator.code, period, [NATION]), NATION)
    in_force = await reads.areas.in_force(Period.parse(period).end_date)
    subject = f"{indicator.code}/{period}"
    if national is None:
        return None  # the provinces' figures are not read: nothing to add them up against
    figures = await reads.figures(indicator.code, period, in_force)
    parts = [_pick(figures, code, province_sources) for code in in_force]
    got = [p for p in parts if p is not None]
    total = sum(p.value for p in got)
    tolerance = rules.tolerance_of(indicator.code)
    partial = len(got) < len(parts)
    if partial:
        # A partial sum says nothing, unless it already exceeds the whole: with no figure below
        # zero, the provinces still to report can only add to it (an inflated province shows at
        # once, not only when the last late province has reported).
        if not got or any(p.value < 0 for p in got) or national.value < 0:
            return None
        if total <= national.value * (1 + tolerance):
            await store.alerts.resolve(PROVINCES, subject)
            return None
    elif not _differ(total, national.value, tolerance):
        await store.alerts.resolve(PROVINCES, subject)
        return True
    lines = "\n".join(f"{p.area} {p.value!r} ({p.source}, {_short(p.digest)})" for p in got)
    params = AlertParams(
        indicator=indicator.code,
        period=period,
        value=total,
        count=len(got),
        expected=len(parts),  # count < expected: some provinces have not reported, and yet
        reference_value=national.value,
        reference_source=national.source,
        reference_digest=national.digest,
        observation_id=national.obs_id,
    )
    detail = f"Số cả nước: {national.value!r} ({national.source}, {_short(national.digest)})\n{lines}"
    await settle(store, PROVINCES, subject, Firing(Severity.WARNING, params, detail))
    return False


async def check_derived(
    store: Store, indicator: Indicator, period: str, rules: RulesSettings, *, reads: Reads | None = None
) -> bool | None:
    """Whether a derived national figure equals its formula of the parts (None: nothing to compare)."""
    if indicator.formula is None:
        return None
    reads = reads if reads is not None else Reads(store)
    terms = parse_formula(indicator.formula)
    figure = _pick(await reads.figures(indicator.code, period, [NATION]), NATION)
    parts: list[tuple[int, Figure]] = []
    for sign, code in terms:
        part = _pick(await reads.figures(code, period, [NATION]), NATION)
        if part is None:
            return None
        parts.append((sign, part))
    if figure is None:
        return None
    computed = sum(sign * p.value for sign, p in parts)
    scale = max(abs(p.value) for _, p in parts)
    subject = f"{indicator.code}/{NATION}/{period}"
    firing = None
    if _differ(figure.value, computed, rules.tolerance_of(indicator.code), scale):
        lines = "\n".join(f"{'+' if s > 0 else '-'} {p.value!r} ({p.source}, {_short(p.digest)})" for s, p in parts)
        detail = f"{indicator.code}: {figure.value!r} ({_short(figure.digest)})\n{indicator.formula}:\n{lines}"
        params = figure.about(indicator.code, period, AlertParams(reference_value=computed))
        firing = Firing(Severity.WARNING, params, detail)
    return not await settle(store, DERIVED, subject, firing)


async def check_sources(
    store: Store,
    indicator: Indicator,
    period: str,
    rules: RulesSettings,
    *,
    lag: Mapping[str, timedelta] | None = None,
    reads: Reads | None = None,
    areas: Sequence[str] | None = None,
) -> int:
    """Alert on each figure two sources publish differently; returns how many disagree.

    ``areas``: only these areas' figures (after a run, those it carried: another area's figures,
    and so their verdict, did not change with it); default every area.

    Figures of different statuses are not compared: one source has published the official figure,
    the other not yet (it catches up on its next pull). ``lag``: each source's polling interval; a
    disagreement is held pending for the longer of the two, since one source pulled after a change
    and the other not yet is ordinary polling lag, not two sources disagreeing."""
    reads = reads if reads is not None else Reads(store)
    by_area: dict[str, list[Figure]] = {}
    for f in await reads.figures(indicator.code, period, areas):
        by_area.setdefault(f.area, []).append(f)
    tolerance = rules.tolerance_of(indicator.code)
    disagree = 0
    for area, figures in by_area.items():
        if len(figures) < 2:
            continue
        figures.sort(key=lambda f: f.source)
        subject = f"{indicator.code}/{area}/{period}"
        first = figures[0]
        other = next(
            (f for f in figures[1:] if f.status == first.status and _differ(f.value, first.value, tolerance)), None
        )
        firing = None
        if other is not None:
            hold = max((lag.get(f.source, timedelta(0)) for f in (first, other)), default=None) if lag else None
            facts = AlertParams(
                reference_value=other.value, reference_source=other.source, reference_digest=other.digest
            )
            firing = Firing(Severity.WARNING, first.about(indicator.code, period, facts), for_=hold or None)
        disagree += await settle(store, SOURCES, subject, firing)
    return disagree


async def check_all(
    store: Store,
    rules: RulesSettings,
    *,
    indicators: Iterable[Indicator] | None = None,
    periods: dict[str, list[str]] | None = None,
    province_sources: set[str] | None = None,
    lag: Mapping[str, timedelta] | None = None,
    after: str = "timer",
    areas: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Every cross-check of ``indicators`` (default all) for ``periods`` (default: the 3 newest).
    ``areas``: per indicator, the areas whose sources are compared (after a run, those it carried;
    default, or an indicator not in it: every area). The provinces' sum and a derived figure are
    judged whole whatever ``areas`` says.

    A check that fails is logged in one line (the rule, the indicator and period, and ``after``:
    the source whose run asked for the checks, or the timer) and the others
    still run: one bad figure or formula must not blind every other check."""
    chosen = list(indicators) if indicators is not None else await store.reference.indicators()
    reads = Reads(store)
    for ind in chosen:
        wanted = (periods or {}).get(ind.code) if periods is not None else None
        carried = (areas or {}).get(ind.code)
        only = sorted(carried) if carried is not None else None
        for period in wanted if wanted is not None else await recent_periods(store, ind.code):
            if ind.frequency.value == "live":
                continue
            # What the checks below ask for, in one read: every area, or the run's and the nation's
            # (the provinces are read only if the nation has a figure to add them up against).
            await reads.figures(ind.code, period, None if only is None else sorted({NATION, *only}))
            checks: tuple[tuple[str, Callable[[Indicator, str], Awaitable[object]]], ...] = (
                (
                    PROVINCES,
                    lambda i, p: check_provinces(store, i, p, rules, province_sources=province_sources, reads=reads),
                ),
                (DERIVED, lambda i, p: check_derived(store, i, p, rules, reads=reads)),
                (SOURCES, partial(check_sources, store, rules=rules, lag=lag, reads=reads, areas=only)),
            )
            for rule, check in checks:
                try:
                    await check(ind, period)
                except Exception as exc:  # logged, and the other checks go on
                    log.error("rule %s failed on %s %s (after %s): %r", rule, ind.code, period, after, exc)
