"""What the console knows, as plain models (no widgets): built from feed messages only.

How to read it (for view authors): the app holds one ``ConsoleState`` as ``app.state``.

- ``state.catalogue``: ``Catalogue`` with ``indicators``/``areas``/``agencies``/``categories``/
  ``sources`` dicts keyed by code (``feed.protocol`` models); empty until the feed answers.
- ``state.series``: ``{(indicator, area, source): Series}``; ``Series.latest`` is the newest
  ``Change``, ``Series.points`` a bounded list of (period, value) for sparklines and changes,
  ``Series.change`` the difference from the previous period, ``Series.revised`` etc. for flags.
- ``state.alerts``: ``{id: AlertInfo}`` (open and recently closed); ``state.runs``:
  ``{id: RunInfo}`` (the newest ``MAX_RUNS``); ``state.sources``: ``{name: SourceStatus}``.
- ``state.connection``: connected or not, who we are (``user``, ``role``), ``stale_since``,
  ``retry_in``, ``epoch``/``seq``, ``last_change_at``.
- ``state.as_of``: None when live, else the past instant every figure is shown as of;
  ``state.paused``: the views are frozen.

``state.apply(message)`` takes a protocol message (or a ``Disconnected``/``CatalogueData``/
``SourcesData``) and returns a ``Changed``: which series, alerts, runs changed, or
``everything``. Views get the union of the ``Changed`` of every message in a batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from feed.protocol import (
    AgencyInfo,
    AlertInfo,
    AlertMessage,
    AlertsData,
    AreaInfo,
    CatalogueData,
    CategoryInfo,
    Change,
    Delta,
    Heartbeat,
    IndicatorInfo,
    Role,
    RunInfo,
    RunStatus,
    Snapshot,
    SourceInfo,
    SourcesData,
    SourceStatus,
    Welcome,
)
from wording import AreaName, IndicatorWords, Names
from wording.periods import Frequency, Period, PeriodError

SeriesKey = tuple[str, str, str]  # (indicator, area, source)
SPARK_POINTS = 40  # values kept per series for its sparkline: memory bounded by the number of series
MAX_RUNS = 500
NATION = "VN"


def key_text(key: SeriesKey) -> str:
    """A series key as a DataTable row key (``GDP|VN|gso-json``)."""
    return "|".join(key)


def key_from_text(text: str) -> SeriesKey:
    indicator, area, source = text.split("|", 2)
    return (indicator, area, source)


@dataclass
class Series:
    key: SeriesKey
    latest: Change
    points: deque[tuple[str, float]] = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    older_revised: bool = False  # a figure of an earlier period was revised

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points]

    @property
    def previous(self) -> tuple[str, float] | None:
        """The figure of the period before the latest, if known."""
        if len(self.points) >= 2 and self.points[-1][0] == self.latest.period:
            return self.points[-2]
        return None

    @property
    def change(self) -> float | None:
        prev = self.previous
        return None if prev is None else self.latest.value - prev[1]

    @property
    def provisional(self) -> bool:
        return self.latest.status == "provisional"

    @property
    def revised(self) -> bool:
        return self.latest.revision > 1 or self.older_revised

    def add_point(self, period: str, value: float) -> None:
        """Record a figure: a new period appends, a revision of one already held replaces it."""
        for i in range(len(self.points) - 1, -1, -1):
            p = self.points[i][0]
            if p == period:
                self.points[i] = (period, value)
                return
            if p < period:
                if i == len(self.points) - 1:
                    self.points.append((period, value))
                return  # an older period we do not show in the sparkline's window: ignore
        if len(self.points) < (self.points.maxlen or SPARK_POINTS):
            self.points.appendleft((period, value))


def _area_names(areas: Iterable[AreaInfo]) -> dict[str, list[AreaName]]:
    out: dict[str, list[AreaName]] = {}
    for a in areas:
        out.setdefault(a.code, []).append(AreaName(a.name, a.valid_from, a.valid_to))
    return out


@dataclass
class Catalogue:
    indicators: dict[str, IndicatorInfo] = field(default_factory=dict)
    areas: dict[str, AreaInfo] = field(default_factory=dict)  # by code: the version in force now
    # Every version: a code can name two units (82 was Tiền Giang until 2025-06-30, Đồng Tháp since).
    area_versions: list[AreaInfo] = field(default_factory=list)
    agencies: dict[str, AgencyInfo] = field(default_factory=dict)
    categories: dict[str, CategoryInfo] = field(default_factory=dict)
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    names: Names = field(default_factory=Names)  # the same, for alert texts (wording/alerts.py)

    @classmethod
    def from_data(cls, data: CatalogueData) -> Catalogue:
        return cls(
            names=Names(
                indicators={
                    i.code: IndicatorWords(i.name_vi, i.name_en, i.unit_vi, i.decimals) for i in data.indicators
                },
                areas=_area_names(data.areas),
                agencies={a.code: (a.name_vi, a.name_en) for a in data.agencies},
                source_agencies={s.name: s.agency for s in data.sources if s.agency},
            ),
            indicators={i.code: i for i in data.indicators},
            # the newest version of each code wins (a unit still in force over a former one)
            areas={a.code: a for a in sorted(data.areas, key=lambda a: (a.valid_to is None, a.valid_from or date.min))},
            area_versions=list(data.areas),
            agencies={a.code: a for a in data.agencies},
            categories={c.code: c for c in data.categories},
            sources={s.name: s for s in data.sources},
        )

    def area_at(self, code: str, period: str) -> AreaInfo | None:
        """The unit ``code`` named at the end of ``period`` (82 is Tiền Giang for 2025-05, Đồng Tháp
        for 2026-10); the newest version if the period cannot be placed."""
        end = period_end(period)
        on = (end - timedelta(microseconds=1)).date() if end is not None else None
        if on is not None:
            for a in self.area_versions:
                if (
                    a.code == code
                    and (a.valid_from is None or a.valid_from <= on)
                    and (a.valid_to is None or on <= a.valid_to)
                ):
                    return a
        return self.areas.get(code)

    def areas_in_force(self, on: date) -> list[AreaInfo]:
        """The provinces and cities in force on ``on`` (the nation excluded), in catalogue order."""
        return [
            a
            for a in self.area_versions
            if a.kind != "nation"
            and (a.valid_from is None or a.valid_from <= on)
            and (a.valid_to is None or on <= a.valid_to)
        ]


@dataclass
class Connection:
    connected: bool = False
    ever_connected: bool = False
    user: str | None = None
    role: Role | None = None
    epoch: str | None = None
    seq: int = 0
    stale_since: datetime | None = None  # set while disconnected (since when the figures are stale)
    retry_in: float | None = None
    refused: str | None = None  # a terminal refusal (bad token): no retrying
    last_change_at: datetime | None = None  # when the newest figure reached us
    last_heartbeat: datetime | None = None


@dataclass(frozen=True)
class Disconnected:
    """The connection to the feed ended (posted by the client; not a protocol message)."""

    at: datetime
    reason: str
    retry_in: float | None = None
    terminal: bool = False


@dataclass(frozen=True)
class Backfill:
    """Older figures of one series, from a history query (for its sparkline and change)."""

    key: SeriesKey
    points: tuple[tuple[str, float], ...]


# How long after a period ends its figure is normally in (a series older than this is "late").
ALLOWANCE = {"D": timedelta(days=3), "M": timedelta(days=45), "Q": timedelta(days=75), "Y": timedelta(days=400)}


def period_end(period: str) -> datetime | None:
    """The instant a period ends: ``2020-08`` → 2020-09-01T00:00Z; an instant is itself."""
    try:
        p = Period.parse(period)
    except PeriodError:
        return None
    if p.frequency is Frequency.LIVE:
        return p.start
    return datetime.combine(p.end_date + timedelta(days=1), time(), UTC)


@dataclass
class Changed:
    """What one or more messages changed; views redraw only this."""

    everything: bool = False
    series: set[SeriesKey] = field(default_factory=set)
    alerts: set[int] = field(default_factory=set)
    runs: set[int] = field(default_factory=set)
    sources: bool = False
    catalogue: bool = False
    connection: bool = False
    mode: bool = False  # as_of, pause or language changed

    def update(self, other: Changed) -> Changed:
        self.everything |= other.everything
        self.series |= other.series
        self.alerts |= other.alerts
        self.runs |= other.runs
        self.sources |= other.sources
        self.catalogue |= other.catalogue
        self.connection |= other.connection
        self.mode |= other.mode
        return self

    def __bool__(self) -> bool:
        return bool(
            self.everything
            or self.series
            or self.alerts
            or self.runs
            or self.sources
            or self.catalogue
            or self.connection
            or self.mode
        )

    @classmethod
    def all(cls) -> Changed:
        return cls(everything=True, catalogue=True, connection=True, sources=True, mode=True)


StateInput = (
    Welcome
    | Snapshot
    | Delta
    | AlertMessage
    | RunStatus
    | Heartbeat
    | Disconnected
    | CatalogueData
    | SourcesData
    | AlertsData
    | Backfill
)


@dataclass
class ConsoleState:
    catalogue: Catalogue = field(default_factory=Catalogue)
    series: dict[SeriesKey, Series] = field(default_factory=dict)
    alerts: dict[int, AlertInfo] = field(default_factory=dict)
    runs: dict[int, RunInfo] = field(default_factory=dict)
    sources: dict[str, SourceStatus] = field(default_factory=dict)
    connection: Connection = field(default_factory=Connection)
    as_of: datetime | None = None  # None: live
    paused: bool = False
    snapshots: int = 0  # snapshots applied (tests and the status bar)

    # --- reading -------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self.as_of is None

    def indicator(self, code: str) -> IndicatorInfo | None:
        return self.catalogue.indicators.get(code)

    def decimals(self, code: str) -> int:
        info = self.catalogue.indicators.get(code)
        return info.decimals if info is not None else 1

    def now(self) -> datetime:
        """The moment the console shows: ``as_of`` in time travel, else now."""
        return self.as_of or datetime.now(UTC)

    def late(self, series: Series) -> bool:
        """The series' newest period ended longer ago than its frequency allows."""
        info = self.catalogue.indicators.get(series.key[0])
        allowance = ALLOWANCE.get(info.frequency) if info is not None else None
        end = period_end(series.latest.period)
        return allowance is not None and end is not None and end + allowance < self.now()

    def firing(self) -> list[AlertInfo]:
        return [a for a in self.alerts.values() if a.state == "firing"]

    def failing_sources(self) -> set[str]:
        """Sources with an open failing alert or whose last run failed."""
        out = {
            a.params.source or a.subject
            for a in self.alerts.values()
            if a.rule.startswith("source.") and a.state in ("pending", "firing", "acknowledged")
        }
        out |= {s.name for s in self.sources.values() if s.last_run is not None and s.last_run.outcome == "failed"}
        return {s for s in out if s}

    # --- applying ----------------------------------------------------------------------------

    def apply(self, message: StateInput) -> Changed:
        if isinstance(message, Delta):
            return self._delta(message)
        if isinstance(message, Snapshot):
            return self._snapshot(message)
        if isinstance(message, AlertMessage):
            if not self.live:
                return Changed()  # a frozen past: live events wait for the return to live
            self.alerts[message.alert.id] = message.alert
            return Changed(alerts={message.alert.id})
        if isinstance(message, RunStatus):
            if not self.live:
                return Changed()
            return self._run(message.run)
        if isinstance(message, Heartbeat):
            self.connection.seq = max(self.connection.seq, message.seq)
            self.connection.last_heartbeat = message.time
            return Changed(connection=True)
        if isinstance(message, Welcome):
            c = self.connection
            c.connected = c.ever_connected = True
            c.user, c.role, c.stale_since, c.retry_in, c.refused = message.user, message.role, None, None, None
            if c.epoch != message.epoch:
                c.seq = 0
            c.epoch = message.epoch
            return Changed(connection=True)
        if isinstance(message, Disconnected):
            c = self.connection
            c.connected = False
            c.stale_since = c.stale_since or message.at
            c.retry_in = message.retry_in
            c.refused = message.reason if message.terminal else None
            return Changed(connection=True)
        if isinstance(message, CatalogueData):
            self.catalogue = Catalogue.from_data(message)
            return Changed(catalogue=True, everything=True)
        if isinstance(message, SourcesData):
            self.sources = {s.name: s for s in message.sources}
            return Changed(sources=True)
        if isinstance(message, Backfill):
            return self.backfill(message.key, list(message.points))
        if isinstance(message, AlertsData):
            ids = set()
            for a in message.alerts:
                self.alerts[a.id] = a
                ids.add(a.id)
            return Changed(alerts=ids)
        raise TypeError(f"cannot apply {type(message).__name__}")

    def _snapshot(self, snap: Snapshot) -> Changed:
        keep_points = self.live and snap.as_of is None  # a live resync keeps what the sparklines had
        old = self.series
        self.series = {}
        for change in snap.observations:
            key = (change.indicator, change.area, change.source)
            series = Series(key, change)
            if keep_points and key in old:
                series.points = old[key].points
                series.older_revised = old[key].older_revised
            series.add_point(change.period, change.value)
            self.series[key] = series
        self.alerts = {a.id: a for a in snap.alerts}
        self.runs = {r.id: r for r in sorted(snap.runs, key=lambda r: r.id)[-MAX_RUNS:]}
        for run in self.runs.values():
            self._source_run(run)
        self.as_of = snap.as_of
        self.connection.epoch, self.connection.seq = snap.epoch, snap.seq
        self.snapshots += 1
        if snap.observations and snap.as_of is None:
            self.connection.last_change_at = max(c.collected_at for c in snap.observations)
        return Changed.all()

    def _delta(self, delta: Delta) -> Changed:
        changed = Changed(connection=True)
        self.connection.seq = max(self.connection.seq, delta.seq)
        if not self.live:
            return changed
        for change in delta.changes:
            key = (change.indicator, change.area, change.source)
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = Series(key, change)
            elif (change.period, change.revision) < (series.latest.period, series.latest.revision):
                continue  # older than what we hold (the protocol's rule)
            series.latest = change
            series.add_point(change.period, change.value)
            changed.series.add(key)
            self.connection.last_change_at = datetime.now(UTC)
        for change in delta.revisions:
            key = (change.indicator, change.area, change.source)
            series = self.series.get(key)
            if series is None:
                continue
            series.older_revised = True
            series.add_point(change.period, change.value)
            changed.series.add(key)
        return changed

    def _run(self, run: RunInfo) -> Changed:
        self.runs[run.id] = run
        if len(self.runs) > MAX_RUNS:
            for old in sorted(self.runs)[: len(self.runs) - MAX_RUNS]:
                del self.runs[old]
        self._source_run(run)
        return Changed(runs={run.id}, sources=True)

    def _source_run(self, run: RunInfo) -> None:
        status = self.sources.get(run.source)
        if status is not None and (status.last_run is None or status.last_run.id <= run.id):
            self.sources[run.source] = status.model_copy(update={"last_run": run})

    def backfill(self, key: SeriesKey, points: list[tuple[str, float]]) -> Changed:
        """Older figures of a series (from a history query) for its sparkline and change."""
        series = self.series.get(key)
        if series is None:
            return Changed()
        merged = dict(points)
        merged.update(dict(series.points))
        series.points = deque(sorted(merged.items())[-SPARK_POINTS:], maxlen=SPARK_POINTS)
        return Changed(series={key})
