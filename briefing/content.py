"""What the briefing says, gathered from the store as the centre knew it at one instant (``as_of``).

Every figure is read through the store's repositories at ``as_of`` (``history``, ``value_as_of``,
``snapshots.as_of``), never later, so two briefings made for the same instant say the same thing.
Each figure shown keeps its observation (``Figure.obs``): its footnote names the source, the run,
the record, its revision and the payload's sha256 (``Notes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from collectors.config import RulesSettings
from rules.reporting import Completeness, completeness, judged_from, reported
from storage import NATION, Alert, Frequency, Indicator, Observation, Period, Store
from storage.clock import to_text
from storage.models import Level
from storage.reference import KEY_INDICATORS
from storage.repos.snapshots import SnapshotFilter

CHART_PERIODS = 24  # periods of history in each indicator's chart
MAX_CHANGES = 40  # revisions listed; the rest counted
OFFICIAL_FIRST = {"official": 0, "estimated": 1, "provisional": 2}


class BriefingError(ValueError):
    """A briefing that cannot be made as asked (a bad period, an as_of without a time zone, nothing stored)."""


@dataclass
class Notes:
    """The footnotes: one per observation shown, numbered in the order they are first cited."""

    observations: dict[int, Observation] = field(default_factory=dict)
    numbers: dict[int, int] = field(default_factory=dict)

    def cite(self, obs: Observation | None) -> int | None:
        if obs is None:
            return None
        if obs.id not in self.numbers:
            self.numbers[obs.id] = len(self.numbers) + 1
            self.observations[obs.id] = obs
        return self.numbers[obs.id]


@dataclass(frozen=True)
class Figure:
    obs: Observation | None
    note: int | None


@dataclass
class KeyRow:
    indicator: Indicator
    period: Period | None
    current: Figure
    previous: Figure
    year_ago: Figure
    series: list[Observation]  # the chart's figures, oldest first


@dataclass
class ProvinceRow:
    code: str
    name: str
    formed_from: list[str]  # the former units' names (before 2025-07-01)
    current: Figure
    previous: Figure


@dataclass
class Provinces:
    indicator: Indicator
    period: Period
    on: date
    rows: list[ProvinceRow]


@dataclass
class Change:
    before: Figure
    after: Figure
    reasons: Alert | None  # the revision watch's alert on this revision, where it fired one


@dataclass
class Content:
    period: Period
    as_of: datetime
    epoch: str
    seq: int
    key: list[KeyRow]
    provinces: Provinces | None
    reporting: list[Completeness]
    changes: list[Change]
    more_changes: int
    alerts: list[Alert]
    crosschecks: list[Alert]
    notes: Notes


def earlier(p: Period, *, years: int = 0) -> Period:
    """The period before ``p`` (``years=0``) or the same period ``years`` earlier."""
    if not years:
        return Period.containing(p.start_date - timedelta(days=1), p.frequency)
    start = p.start_date
    day = start.replace(year=start.year - years, day=28) if (start.month, start.day) == (2, 29) else start
    return Period.containing(day.replace(year=start.year - years), p.frequency)


def pick(figures: Sequence[Observation]) -> Observation | None:
    """One figure among the sources' for a period: official before provisional, then by source (stable)."""
    if not figures:
        return None
    return min(figures, key=lambda o: (OFFICIAL_FIRST.get(o.status.value, 3), o.source))


def by_period(history: Sequence[Observation]) -> dict[str, Observation]:
    grouped: dict[str, list[Observation]] = {}
    for obs in history:
        grouped.setdefault(obs.period, []).append(obs)
    return {p: got for p, figures in grouped.items() if (got := pick(figures)) is not None}


async def key_row(store: Store, ind: Indicator, period: Period, as_of: datetime, notes: Notes) -> KeyRow:
    """The indicator's newest figure of a period ending by the briefing period's end, as known at ``as_of``."""
    figures = by_period(await store.observations.history(ind.code, NATION, as_of=as_of))
    ends = period.end_date
    shown = sorted((Period.parse(p) for p in figures if Period.parse(p).end_date <= ends), reverse=True)
    if not shown:
        return KeyRow(ind, None, Figure(None, None), Figure(None, None), Figure(None, None), [])
    own = shown[0]

    def figure(p: Period) -> Figure:
        obs = figures.get(str(p))
        return Figure(obs, notes.cite(obs))

    current = figure(own)
    previous = figure(earlier(own))
    year_ago = figure(earlier(own, years=1))
    series = [figures[str(p)] for p in reversed(shown[:CHART_PERIODS])]
    return KeyRow(ind, own, current, previous, year_ago, series)


async def province_indicator(
    store: Store, period: Period, as_of: datetime, chosen: Sequence[Indicator]
) -> tuple[Indicator, Period] | None:
    """The province-level indicator of the period's frequency with the newest period (not after the
    briefing's) that provinces reported by ``as_of``, then with the most of them, the chosen (key)
    ones first; and that period."""
    listed = [*chosen, *(i for i in store.reference.listed() if i not in chosen)]
    candidates = [i for i in listed if i.level is not Level.NATIONAL and i.frequency is period.frequency]
    best: tuple[str, int, int, Indicator] | None = None
    for rank, ind in enumerate(candidates):
        rows = await store.read_rows(
            "SELECT period, count(DISTINCT area) FROM observations WHERE indicator = ? AND period <= ? AND area != ? "
            "AND collected_at <= ? GROUP BY period ORDER BY period DESC LIMIT 1",
            (ind.code, str(period), NATION, to_text(as_of)),
        )
        if rows and (best is None or (rows[0][0], int(rows[0][1]), -rank) > best[:3]):
            best = (rows[0][0], int(rows[0][1]), -rank, ind)
    return (best[3], Period.parse(best[0])) if best else None


async def provinces(store: Store, ind: Indicator, period: Period, as_of: datetime, notes: Notes) -> Provinces:
    """The units in force on the period's last day, ranked by their figure; each with the units that became it."""
    on = period.end_date
    previous_period = earlier(period)
    rows = []
    for area in await store.reference.areas_in_force(on):
        now = await store.observations.value_as_of(ind.code, area.code, str(period), as_of)
        before = await store.observations.value_as_of(ind.code, area.code, str(previous_period), as_of)
        former = await store.reference.predecessors(area.code, on)
        names = sorted({a.name_vi for a in former})
        rows.append(ProvinceRow(area.code, area.name_vi, names, Figure(now, None), Figure(before, None)))
    rows.sort(key=lambda r: (r.current.obs is None, -(r.current.obs.value if r.current.obs else 0.0), r.code))
    for r in rows:  # footnoted in the order printed
        r.current = Figure(r.current.obs, notes.cite(r.current.obs))
        r.previous = Figure(r.previous.obs, notes.cite(r.previous.obs))
    return Provinces(ind, period, on, rows)


async def reporting(store: Store, rows: Sequence[KeyRow], rules: RulesSettings, as_of: datetime) -> list[Completeness]:
    """Each key indicator's reports for the period of its figure shown, as known at ``as_of``."""
    started = await judged_from(store, rules)
    out = []
    for row in rows:
        if row.period is None or not reported(row.indicator):
            continue
        out.append(await completeness(store, row.indicator, row.period, rules, as_of, started=started, known_by=as_of))
    return out


async def changes(
    store: Store, period: Period, as_of: datetime, watched: Sequence[Alert], notes: Notes
) -> tuple[list[Change], int]:
    """The revisions collected during the period (by ``as_of``), with what each replaced and why it is watched."""
    end = min(datetime.combine(period.end_date + timedelta(days=1), datetime.min.time(), tzinfo=as_of.tzinfo), as_of)
    revised = [o for o in await store.observations.revised_between(period.start, end) if o.collected_at <= as_of]
    by_obs = {a.params.observation_id: a for a in watched if a.params.observation_id is not None}
    out = []
    for after in revised[:MAX_CHANGES]:
        earlier_ones = await store.observations.revisions(after.indicator, after.area, after.period, after.source)
        before = next((o for o in earlier_ones if o.revision == after.revision - 1), None)
        out.append(Change(Figure(before, notes.cite(before)), Figure(after, notes.cite(after)), by_obs.get(after.id)))
    return out, max(0, len(revised) - MAX_CHANGES)


async def gather(
    store: Store,
    period: Period,
    as_of: datetime,
    *,
    indicators: Sequence[str] | None,
    rules: RulesSettings,
) -> Content:
    catalogue = store.reference.catalogue.indicators
    codes = list(indicators) if indicators is not None else list(KEY_INDICATORS)
    unknown = [c for c in codes if c not in catalogue]
    if unknown:
        raise BriefingError(f"unknown indicator(s): {', '.join(unknown)}")
    chosen = [catalogue[c] for c in codes if catalogue[c].frequency is not Frequency.LIVE]
    notes = Notes()
    past = await store.snapshots.as_of(as_of, SnapshotFilter(indicators=frozenset(codes)))
    if not past.observations:
        raise BriefingError(f"the store held no figure of these indicators at {as_of.isoformat()}")
    key = [await key_row(store, ind, period, as_of, notes) for ind in chosen]
    found = await province_indicator(store, period, as_of, chosen)
    table = await provinces(store, found[0], found[1], as_of, notes) if found else None
    everything = await store.alerts.listed(open_only=False, limit=100_000)
    watched = [a for a in everything if a.rule == "revision.watch" and a.opened_at <= as_of]
    changed, more = await changes(store, period, as_of, watched, notes)
    open_alerts = sorted(past.alerts, key=lambda a: (a.severity.value != "critical", a.severity.value, a.id))
    return Content(
        period=period,
        as_of=as_of,
        epoch=past.epoch,
        seq=past.seq,
        key=key,
        provinces=table,
        reporting=await reporting(store, key, rules, as_of),
        changes=changed,
        more_changes=more,
        alerts=[a for a in open_alerts if not a.rule.startswith("crosscheck.")],
        crosschecks=[a for a in open_alerts if a.rule.startswith("crosscheck.")],
        notes=notes,
    )
