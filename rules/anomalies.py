"""Anomalies: a figure outside its band (``anomaly.band``), a change unlike the series' past ones
(``anomaly.outlier``).

**Bands.** The newest figure of an indicator in an area in force (any source: the newest period, the figure
collected last) outside its warning band is a warning, outside its critical band critical; the alert
(subject ``indicator/area``) resolves once the newest figure is back inside. A few indicators have
bands built in (``DEFAULT_BANDS``); ``[rules.indicators.CODE]`` giving any of warning_low,
warning_high, critical_low or critical_high replaces that indicator's built-in band as a whole
(a band half from here, half from the file could fail to nest).

**Outliers.** A figure's change from the previous period is scored against the last
``outlier_history`` changes of its series (indicator, area, source) before it, by the modified
z-score of Iglewicz and Hoaglin: 0.6745·(x − median)/MAD, MAD the median absolute deviation from
the median. Beyond ``outlier_z`` (either way) it is an outlier (subject ``indicator/area/period``,
warning); it resolves when the figure is revised to a value that does not score beyond. What has
no score, so never fires:

- fewer than ``MIN_CHANGES`` (6) past changes: too little history to call anything unusual;
- MAD = 0: a flat history (every change the same), or more than half the changes equal (a count
  that mostly stays put, a rate held for months): there is no typical change to measure one
  against, and a province's daily cases going from 1 to 0 is no news (a band catches a constant
  series gone wrong). Changes are rounded to the figures' precision first, so float noise
  (0.229 − 0.228 ≠ 0.228 − 0.227) is no spread.

A figure is judged when it arrives in a series the centre already held (the first pull of a
history brings years of figures nobody watched arrive: none of them is news).

Live counters are cumulative: they have ``counter.decreased`` instead of outliers.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from collectors.config import IndicatorRules, RulesSettings
from rules.verdicts import Firing, about_figure, settle
from storage import AlertParams, Frequency, Period, Severity, Store
from storage.clock import utcnow

ANOMALY_BAND = "anomaly.band"
ANOMALY_OUTLIER = "anomaly.outlier"
MIN_CHANGES = 6
MAD_SCALE = 0.6745  # Φ⁻¹(0.75): makes the MAD of normal data estimate its standard deviation
PRECISION = 1e-12  # relative: a difference smaller than this share of the figures is float noise


@dataclass(frozen=True)
class Band:
    warning_low: float | None = None
    warning_high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None


# Built-in bands, each replaced as a whole by [rules.indicators.CODE] giving any band field.
DEFAULT_BANDS: dict[str, Band] = {
    # The National Assembly's yearly inflation ceiling (about 4.5 %) is the warning; 6 % is far past it.
    "CPI_YOY": Band(warning_high=4.5, critical_high=6.0),
    # A negative GDP growth (the economy contracts) is critical.
    "GDP_GROWTH": Band(critical_low=0.0),
}


def band_of(rules: RulesSettings, indicator: str) -> Band | None:
    """The indicator's band: its own from the settings if it gives any, else the built-in one."""
    own: IndicatorRules | None = rules.indicators.get(indicator)
    if own is not None:
        fields = (own.warning_low, own.warning_high, own.critical_low, own.critical_high)
        if any(v is not None for v in fields):
            return Band(*fields)
    return DEFAULT_BANDS.get(indicator)


def outside(band: Band, value: float) -> tuple[Severity, str, float] | None:
    """(severity, reason, the limit crossed) of a value outside the band; None inside it."""
    for severity, reason, limit, beyond in (
        (Severity.CRITICAL, "critical_high", band.critical_high, lambda v, lim: v > lim),
        (Severity.CRITICAL, "critical_low", band.critical_low, lambda v, lim: v < lim),
        (Severity.WARNING, "warning_high", band.warning_high, lambda v, lim: v > lim),
        (Severity.WARNING, "warning_low", band.warning_low, lambda v, lim: v < lim),
    ):
        if limit is not None and beyond(value, limit):
            return severity, reason, limit
    return None


def modified_z(history: Sequence[float], x: float) -> float | None:
    """The modified z-score of ``x`` against ``history`` (see the module's docstring); None: no score."""
    if len(history) < MIN_CHANGES:
        return None
    median = statistics.median(history)
    mad = statistics.median(abs(h - median) for h in history)
    if mad == 0:
        return None
    return MAD_SCALE * (x - median) / mad


def change(a: float, b: float) -> float:
    """b − a, rounded to the figures' precision (float noise removed, so equal steps are equal)."""
    scale = max(abs(a), abs(b))
    if scale == 0:
        return 0.0
    return round(b - a, -math.floor(math.log10(scale * PRECISION)))


# --- bands ------------------------------------------------------------------------------------------


async def check_bands(store: Store, rules: RulesSettings, indicators: Iterable[str] | None = None) -> None:
    """Every banded indicator's (of ``indicators``, default all) newest figure per area, against its band."""
    banded = {code: b for code in (await _codes(store, indicators)) if (b := band_of(rules, code)) is not None}
    if not banded:
        return
    codes = sorted(banded)
    rows = await store.read_rows(
        f"""SELECT s.indicator, s.area, s.period, s.obs_id, o.source, o.value FROM series_latest s
            JOIN observations o ON o.id = s.obs_id WHERE s.indicator IN ({",".join("?" * len(codes))})""",
        codes,
    )
    # A unit merged away keeps its last figure for ever: it says nothing about now.
    in_force = {a.code for a in await store.reference.areas_in_force(utcnow().date(), include_nation=True)}
    newest: dict[tuple[str, str], tuple[str, int, str, float]] = {}
    for indicator, area, period, obs_id, source, value in rows:
        if area not in in_force:
            continue
        have = newest.get((indicator, area))
        if have is None or (period, obs_id) > (have[0], have[1]):  # the newest period, collected last
            newest[(indicator, area)] = (period, obs_id, source, value)
    for (indicator, area), (period, _, source, value) in sorted(newest.items()):
        crossed = outside(banded[indicator], value)
        firing = None
        if crossed is not None:
            severity, reason, limit = crossed
            facts = AlertParams(threshold=limit, reason=reason)
            firing = Firing(severity, about_figure(indicator, area, period, source, value, facts))
        await settle(store, ANOMALY_BAND, f"{indicator}/{area}", firing)


async def _codes(store: Store, indicators: Iterable[str] | None) -> list[str]:
    if indicators is not None:
        return list(indicators)
    return [i.code for i in await store.reference.indicators()]


# --- outliers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outlier:
    indicator: str
    area: str
    period: str
    value: float
    previous_value: float
    score: float


def score_series(
    series: Sequence[tuple[str, float]], periods: Iterable[str], history: int
) -> list[tuple[str, float, float, float | None]]:
    """For each of ``periods`` in ``series`` ((period, value), oldest first): (period, value, the
    previous period's value, its change's modified z-score against up to ``history`` changes before)."""
    index = {p: k for k, (p, _) in enumerate(series)}
    values = [v for _, v in series]
    changes = [change(a, b) for a, b in itertools.pairwise(values)]  # changes[k-1]: into period k
    out = []
    for period in periods:
        k = index.get(period)
        if k is None or k == 0:
            continue
        past = changes[max(0, k - 1 - history) : k - 1]
        out.append((period, values[k], values[k - 1], modified_z(past, changes[k - 1])))
    return out


async def _ran_before(store: Store, source: str, run_id: int) -> bool:
    """Whether ``source`` brought figures in a run before ``run_id`` (the runs' index answers it)."""
    rows = await store.read_rows(
        "SELECT 1 FROM runs WHERE source = ? AND id < ? AND new + revised + unchanged > 0 LIMIT 1", (source, run_id)
    )
    return bool(rows)


async def _window(
    store: Store, indicator: str, source: str, frequency: Frequency, periods: set[str], before: int
) -> list[tuple[str, str, float, int | None]]:
    """Every revision of ``source``'s figures of ``indicator`` from ``before`` periods before the
    earliest of ``periods`` to the latest, by area and period: what scoring them needs, read through
    the observations' key (area by area) rather than the indicator's whole history."""
    start = Period.parse(min(periods), frequency)
    for _ in range(before):
        start = Period.containing(start.start_date - timedelta(days=1), frequency)
    areas = [r[0] for r in await store.read_rows(
        "SELECT area FROM series_latest WHERE indicator = ? AND source = ?", (indicator, source)
    )]  # fmt: skip
    rows: list[tuple[str, str, float, int | None]] = []
    for k in range(0, len(areas), 500):  # SQLite's bound-parameter limit
        chunk = areas[k : k + 500]
        rows += await store.read_rows(
            f"""SELECT area, period, value, run_id FROM observations
                WHERE indicator = ? AND area IN ({",".join("?" * len(chunk))}) AND period BETWEEN ? AND ?
                  AND source = ? ORDER BY area, period, revision""",
            [indicator, *chunk, str(start), max(periods), source],
        )
    return rows


async def check_outliers(
    store: Store,
    rules: RulesSettings,
    source: str,
    periods: Mapping[str, Iterable[str]],
    run_id: int | None = None,
) -> list[Outlier]:
    """Score the figures of ``source`` for ``periods`` (indicator -> periods, e.g. what a run brought);
    fire an alert for each outlier, resolve this source's alert of each figure that is no longer one.
    With ``run_id``, a series none of whose figures came before that run is not judged (a first pull)."""
    if run_id is not None and not await _ran_before(store, source, run_id):
        return []  # the source's first pull: no series of it was watched before
    frequency = {i.code: i.frequency for i in await store.reference.indicators()}
    open_alerts = {a.subject: a for a in await store.alerts.listed(limit=100_000) if a.rule == ANOMALY_OUTLIER}
    found = []
    for indicator, wanted in sorted(periods.items()):
        if frequency.get(indicator) in (None, Frequency.LIVE):
            continue
        wanted = set(wanted)
        if not wanted:
            continue
        rows = await _window(store, indicator, source, frequency[indicator], wanted, rules.outlier_history + 1)
        by_area: dict[str, dict[str, float]] = {}
        watched: set[str] = set()  # areas with a figure from before this run
        for area, period, value, run in rows:
            by_area.setdefault(area, {})[period] = value  # the last revision wins
            if run_id is None or run != run_id:
                watched.add(area)
        for area, values in sorted(by_area.items()):
            mine = [p for p in wanted if p in values]
            if not mine or area not in watched:
                continue
            for period, value, previous, score in score_series(
                sorted(values.items()), sorted(mine), rules.outlier_history
            ):
                subject = f"{indicator}/{area}/{period}"
                if score is None or abs(score) <= rules.outlier_z:
                    have = open_alerts.get(subject)
                    if have is not None and have.params.source == source:
                        await store.alerts.resolve(ANOMALY_OUTLIER, subject)
                    continue
                found.append(Outlier(indicator, area, period, value, previous, score))
                facts = AlertParams(previous_value=previous, score=round(score, 2), threshold=rules.outlier_z)
                firing = Firing(Severity.WARNING, about_figure(indicator, area, period, source, value, facts))
                await settle(store, ANOMALY_OUTLIER, subject, firing)
    return found
