"""The reporting calendar, completeness and the late-report alert (as DHIS2's reporting rates).

Every indicator's period is due ``due_days`` after it ends (``[rules]``, by frequency, or per
indicator): by the end of that day, UTC. Who owes a report: the owner agency for a national figure,
every province or city in force on the period's last day for a provincial one (63 before
2025-07-01, 34 since). A report is *received* when the centre holds a figure for it, *on time* when
its time (``report_time``: the reporter's own publication time where the source gives one, else
when the centre first collected it) is by the due moment, *late* after, *missing* when the centre
has none past the due moment.

The centre judges only what it watched: a report due before the centre's first collection run
(less ``[rules] late_lookback``) counts as on time once received, whatever its time says (a figure
pulled with the history may already be revised, and a source without ``published_at`` then gives
the revision's time).

``completeness`` is the one computation: the feed's ``reporting`` query, ``opscentre reporting``,
the wall page and the console (which show that query's rows) and the ``report.late`` rule read it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from collectors.config import RulesSettings
from rules.verdicts import Firing, settle
from storage import NATION, AlertParams, Frequency, Indicator, Period, Severity, Store
from storage.clock import from_text, to_text
from storage.models import Level

REPORT_LATE = "report.late"


def due_date(period: Period, days: int) -> date:
    return period.due(days)


def due_moment(period: Period, days: int) -> datetime:
    """The instant a report is late after: the end of its due day, UTC."""
    return end_of(period.due(days))


def end_of(day: date) -> datetime:
    """The end of ``day``, UTC (the next day's first instant)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def last_due_period(frequency: Frequency, days: int, now: datetime) -> Period:
    """The newest period of ``frequency`` whose report was due by ``now``."""
    period = Period.containing(now - timedelta(days=days + 1), frequency)
    while due_moment(period, days) > now:
        period = Period.containing(period.start_date - timedelta(days=1), frequency)
    return period


# Which clock a report's time is on: the reporter's own ("published": the upstream's publication
# time of the figure's first revision), or the centre's ("collected": when it first collected it).
ReportClock = Literal["published", "collected"]


@dataclass(frozen=True)
class Report:
    """When one party's report came in, and by whose clock."""

    at: datetime
    clock: ReportClock


def report_time(collected_at: datetime, published_at: datetime | None) -> Report:
    """A report's time: the upstream's publication time of the figure's first revision where the
    source gave one, else when the centre first collected it.

    A publication time later than the collection is not believed (the upstream's clock runs ahead,
    or it claims what cannot be): the report is then on the centre's clock, at its collection."""
    if published_at is not None and published_at <= collected_at:
        return Report(published_at, "published")
    return Report(collected_at, "collected")


@dataclass
class Completeness:
    """One indicator's reports for one period: who was expected, who sent what, when."""

    indicator: str
    period: str
    due: date
    expected: list[str]  # areas (the nation 'VN' for the owner agency's national figure)
    on_time: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    not_due: bool = False  # the due moment is still ahead: nothing is missing yet
    reports: dict[str, Report] = field(default_factory=dict)  # each received area's report time and clock

    @property
    def received(self) -> int:
        return len(self.on_time) + len(self.late)


def expected_areas(indicator: Indicator, period: Period, in_force: Iterable[str]) -> list[str]:
    areas = [] if indicator.level is Level.PROVINCIAL else [NATION]
    if indicator.level is not Level.NATIONAL:
        areas += sorted(in_force)
    return areas


def reported(indicator: Indicator) -> bool:
    """Whether the indicator has a reporting calendar (live counters have none)."""
    return indicator.frequency is not Frequency.LIVE


async def watch_start(store: Store) -> datetime | None:
    """When the centre began collecting: the first run's start (None: it never has)."""
    # The first by id, not min(started_at): runs are numbered as they start, and this reads one
    # row of the primary key where min() would read every run ever recorded (one per poll).
    rows = await store.read_rows("SELECT started_at FROM runs ORDER BY id LIMIT 1")
    return from_text(rows[0][0]) if rows and rows[0][0] else None


async def judged_from(store: Store, rules: RulesSettings) -> datetime | None:
    """Reports due from this moment on are judged late or on time: the first run's start, less
    ``[rules] late_lookback`` (None: the centre never collected)."""
    started = await watch_start(store)
    return None if started is None else started - rules.late_lookback


class Areas:
    """The area facts one pass of the rules asks again and again, read once per pass.

    ``known``: every area code the store has (an observation's area is always one: ingest refuses
    others). ``WHERE indicator = ? AND area IN (known) AND period = ?`` then seeks the observations'
    (indicator, area, period, ...) key once per area instead of reading the indicator's whole
    history (a skip-scan by hand: no index of its own to slow down every insert)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: list[str] | None = None
        self._in_force: dict[date, list[str]] = {}

    async def known(self) -> list[str]:
        if self._known is None:
            self._known = sorted(self._store.reference.catalogue.areas)  # in memory: no read
        return self._known

    async def in_force(self, on: date) -> list[str]:
        got = self._in_force.get(on)
        if got is None:
            got = self._in_force[on] = [a.code for a in await self._store.reference.areas_in_force(on)]
        return got


def placeholders(n: int) -> str:
    return ",".join("?" * n)


async def completeness(
    store: Store,
    indicator: Indicator,
    period: Period,
    rules: RulesSettings,
    now: datetime,
    *,
    started: datetime | None,
    province_sources: set[str] | None = None,
    areas: Areas | None = None,
    known_by: datetime | None = None,
) -> Completeness:
    """The reports of ``indicator`` for ``period`` as of ``now``.

    ``started``: reports due from then on are judged (``judged_from``); one due before, once
    received, is on time. ``province_sources``: the sources a province's own report comes from (a
    figure for a province published by another source, such as the statistics office's SDMX, is
    not that province's report); None: any source. ``areas``: the pass's area facts (read here if
    not given). ``known_by``: only figures collected by then count (the briefing's ``as_of``); None:
    every figure stored. A party's report is its earliest over the sources that count."""
    areas = areas if areas is not None else Areas(store)
    days = rules.due(indicator.code, indicator.frequency.value)
    due = due_moment(period, days)
    expected = expected_areas(indicator, period, await areas.in_force(period.end_date))
    known = await areas.known()
    # Each source's first revision of the figure: when it was collected, and published upstream.
    rows = await store.read_rows(
        "SELECT area, source, collected_at, published_at FROM observations WHERE indicator = ? AND period = ? "
        f"AND area IN ({placeholders(len(known))}) AND revision = 1 AND (? IS NULL OR collected_at <= ?)",
        (indicator.code, str(period), *known, *[to_text(known_by) if known_by else None] * 2),
    )
    if not rows and not await store.read_rows(
        "SELECT 1 FROM observations WHERE indicator = ? AND period < ? LIMIT 1", (indicator.code, str(period))
    ):
        expected = []  # the series has not begun (COVID-19 cases in 2010): nobody owes it yet
    first: dict[str, Report] = {}
    for area, source, collected, published in rows:
        if area != NATION and province_sources is not None and source not in province_sources:
            continue
        report = report_time(from_text(collected), from_text(published) if published else None)
        if area not in first or report.at < first[area].at:
            first[area] = report
    out = Completeness(indicator.code, str(period), period.due(days), expected, not_due=now < due)
    for area in expected:
        got = first.get(area)
        if got is None:
            if now >= due:
                out.missing.append(area)
            continue
        out.reports[area] = got
        if got.at > due and started is not None and started <= due:
            out.late.append(area)
        else:
            out.on_time.append(area)
    return out


@dataclass
class Owed:
    """What one party (a province, or an agency for national figures) owes past its due dates."""

    party: str
    area: str | None
    agency: str | None
    items: list[tuple[str, str, date]] = field(default_factory=list)  # indicator, period, due


async def reporting_table(
    store: Store,
    rules: RulesSettings,
    now: datetime,
    *,
    indicators: Iterable[Indicator] | None = None,
    period: str | None = None,
    province_sources: set[str] | None = None,
) -> list[Completeness]:
    """Completeness of each indicator for ``period`` (default: its newest period due by ``now``)."""
    started = await judged_from(store, rules)
    chosen = list(indicators) if indicators is not None else await store.reference.indicators()
    areas = Areas(store)
    out = []
    for ind in chosen:
        if not reported(ind):
            continue
        if period is not None:
            p = Period.parse(period)
            if p.frequency is not ind.frequency:
                continue
        else:
            p = last_due_period(ind.frequency, rules.due(ind.code, ind.frequency.value), now)
        out.append(
            await completeness(
                store, ind, p, rules, now, started=started, province_sources=province_sources, areas=areas
            )
        )
    return out


class LateReports:
    """What ``check_late`` found at its last pass, per indicator, kept by the serving process.

    After a run, only the indicators the run touched can change who is missing: the others' rows
    are kept from the last pass instead of read again (the whole catalogue's completeness costs
    more than the run's other rules together). A kept row is read again all the same when time has
    moved it on (a newer period has fallen due), so the
    alerts are those a full pass would give. Anything else that changes a row (a figure stored
    by another process) is seen by the next full pass: on the `[rules] every` timer, on the first
    call, and whenever the catalogue, the settings or the store change."""

    def __init__(self) -> None:
        self.rows: dict[str, Completeness] = {}
        self.basis: tuple[object, ...] | None = None  # what ``rows`` were judged under
        # One pass at a time: a full pass that read an indicator before a run's ingest must not
        # overwrite the row that run's own pass reads after it.
        self.lock = asyncio.Lock()


async def check_late(
    store: Store,
    rules: RulesSettings,
    now: datetime,
    *,
    province_sources: set[str] | None = None,
    state: LateReports | None = None,
    touched: Iterable[str] | None = None,
) -> list[Owed]:
    """Fire a late-report alert for each party owing a report past its due date; resolve the rest.

    One alert per party (rule ``report.late``, subject the area code or the agency code), naming
    the first report owed and how many; it resolves once every owed report has come in.

    ``state``: the rows kept from the last pass; with ``touched`` (the indicators a run carried),
    only those (and the rows time has moved on) are read again. Without either: a full pass."""
    if state is None:
        return await _check_late(store, rules, now, province_sources, None, None)
    async with state.lock:
        return await _check_late(store, rules, now, province_sources, state, touched)


async def _judged(
    store: Store,
    rules: RulesSettings,
    now: datetime,
    indicators: list[Indicator],
    province_sources: set[str] | None,
    state: LateReports | None,
    touched: Iterable[str] | None,
) -> list[Completeness]:
    """Each reported indicator's completeness for its newest due period, read again only where needed."""
    basis = (id(store), tuple(indicators), rules, frozenset(province_sources or ()), province_sources is None)
    full = state is None or touched is None or state.basis != basis
    again = set(touched or ())
    reread = []
    due: dict[tuple[Frequency, int], str] = {}  # the newest period due, by frequency and due days
    for ind in indicators:
        if not reported(ind):
            continue
        kept = None if full or ind.code in again or state is None else state.rows.get(ind.code)
        if kept is not None:
            days = rules.due(ind.code, ind.frequency.value)
            period = due.get((ind.frequency, days))
            if period is None:
                period = due[(ind.frequency, days)] = str(last_due_period(ind.frequency, days, now))
            if period != kept.period:
                kept = None  # time moved it on: a newer period has fallen due
        if kept is None:
            reread.append(ind)
    fresh = await reporting_table(store, rules, now, indicators=reread, province_sources=province_sources)
    if state is None:
        return fresh
    if full:
        state.rows = {}
        state.basis = basis
    state.rows.update((row.indicator, row) for row in fresh)
    return [state.rows[i.code] for i in indicators if i.code in state.rows]


async def _check_late(
    store: Store,
    rules: RulesSettings,
    now: datetime,
    province_sources: set[str] | None,
    state: LateReports | None,
    touched: Iterable[str] | None,
) -> list[Owed]:
    indicators = store.reference.listed()  # in memory: a run's pass reads no catalogue
    started = await judged_from(store, rules)
    table = await _judged(store, rules, now, indicators, province_sources, state, touched)
    owners = {i.code: i.owner for i in indicators}
    owed: dict[str, Owed] = {}
    for row in table:
        if started is None or end_of(row.due) < started:
            continue  # due before the centre watched: a history, not a report owed to it
        for area in row.missing:
            agency = owners[row.indicator] if area == NATION else None
            party = agency if agency is not None else area
            entry = owed.setdefault(party, Owed(party, None if area == NATION else area, agency))
            entry.items.append((row.indicator, row.period, row.due))
    for entry in owed.values():
        entry.items.sort(key=lambda x: (x[2], x[0]))
        indicator, period, due = entry.items[0]
        facts = AlertParams(
            area=entry.area,
            agency=entry.agency,
            indicator=indicator,
            period=period,
            due=due.isoformat(),
            count=len(entry.items),
        )
        await settle(store, REPORT_LATE, entry.party, Firing(Severity.WARNING, facts))
    # Only this rule's open alerts (the alerts_open index), not every open alert of every rule.
    for (subject,) in await store.read_rows(
        "SELECT subject FROM alerts WHERE rule = ? AND state != 'resolved'", (REPORT_LATE,)
    ):
        if subject not in owed:
            await store.alerts.resolve(REPORT_LATE, subject)
    return list(owed.values())
