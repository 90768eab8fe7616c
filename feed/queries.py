"""Queries from feed clients (history, runs, provenance, alerts, silences, catalogue, sources,
reporting, briefings), answered from the store and from what the collectors tell of their sources."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal, Protocol

from collectors.breaker import BreakerState
from collectors.config import RulesSettings
from collectors.pipeline import SourceState
from feed.briefings import READS_BRIEFINGS, briefing_info, refusal
from feed.builder import Matcher
from feed.catalogue import catalogue
from feed.client import Client
from feed.hub import routed_alerts
from feed.protocol import (
    AlertInfo,
    AlertsData,
    AlertsQuery,
    BriefingsData,
    BriefingsQuery,
    CatalogueQuery,
    Error,
    ErrorCode,
    Filter,
    HistoryData,
    HistoryQuery,
    IngestInfo,
    ObservationInfo,
    ProvenanceData,
    ProvenanceQuery,
    Query,
    ReportingData,
    ReportingQuery,
    ReportingRow,
    ReportTime,
    Result,
    ResultData,
    RunInfo,
    RunsData,
    RunsQuery,
    SilenceInfo,
    SilencesData,
    SilencesQuery,
    SourceInfo,
    SourcesData,
    SourcesQuery,
    SourceStatus,
)
from rules import reporting
from storage import (
    NATION,
    Alert,
    AlertState,
    CollectionRun,
    Indicator,
    Observation,
    Period,
    PeriodError,
    RunTrigger,
    Severity,
    Store,
)
from storage.clock import utcnow
from storage.models import Silence

log = logging.getLogger(__name__)


class RunService(Protocol):
    """The one narrow interface through which the feed asks the collectors for manual runs."""

    def select(self, *, source: str | None = None, agency: str | None = None, everything: bool = False) -> list[str]:
        """Names of the sources asked for; raises KeyError with a message for the user."""
        ...

    async def run_many(
        self, names: Iterable[str], trigger: RunTrigger = RunTrigger.MANUAL, requested_by: str | None = None
    ) -> list[CollectionRun]: ...

    def source_states(self) -> list[SourceState]:
        """Each configured source: kind, agency, schedule, circuit, next run (for `catalogue`, `sources`)."""
        ...


CIRCUIT: dict[BreakerState, Literal["closed", "open", "half_open"]] = {
    BreakerState.CLOSED: "closed",
    BreakerState.OPEN: "open",
    BreakerState.HALF_OPEN: "half_open",
}
HISTORY_LIMIT = 10_000


class ReportingError(ValueError):
    """A reporting request the centre cannot answer (unknown indicator or agency, a bad period)."""


async def reporting_completeness(
    store: Store,
    rules: RulesSettings,
    *,
    indicator: str | None = None,
    period: str | None = None,
    agency: str | None = None,
    province_sources: set[str] | None = None,
) -> list[reporting.Completeness]:
    """Completeness per indicator (``rules.reporting``) as of now, by indicator code: the
    filters checked first (the feed's ``reporting`` query and ``opscentre reporting`` alike)."""
    if agency is not None and agency not in {a.code for a in await store.reference.agencies()}:
        raise ReportingError(f"unknown agency {agency!r}")
    chosen: list[Indicator] = await store.reference.indicators(agency=agency)
    one = None
    if indicator is not None:
        one = await store.reference.indicator(indicator)
        if one is None:
            raise ReportingError(f"unknown indicator {indicator!r}")
        if not reporting.reported(one):
            raise ReportingError(f"{one.code} is a live counter: it has no reporting calendar")
        chosen = [i for i in chosen if i.code == one.code]
    if period is not None:
        try:
            parsed = Period.parse(period)
        except PeriodError as exc:
            raise ReportingError(f"period: not a period ({exc})") from None
        if one is not None and parsed.frequency is not one.frequency:
            # Silently answering nothing would read as "no reports": say why instead.
            raise ReportingError(f"period {parsed} is not of {one.code}'s frequency ({one.frequency.value})")
        period = str(parsed)
    table = await reporting.reporting_table(
        store, rules, utcnow(), indicators=chosen, period=period, province_sources=province_sources
    )
    return sorted(table, key=lambda c: c.indicator)


def reporting_row(c: reporting.Completeness) -> ReportingRow:
    """The counts are of provinces and cities when any is expected ("28/34 tỉnh, thành phố": the
    nation counted in would read 29/35 provinces), else of the owner's national report; the
    lists name every party, the nation ``VN`` included."""
    provinces = [a for a in c.expected if a != NATION]
    counted = set(provinces or c.expected)
    on_time = [a for a in c.on_time if a in counted]
    late = [a for a in c.late if a in counted]
    return ReportingRow(
        indicator=c.indicator,
        period=c.period,
        due=c.due,
        expected=len(counted),
        received=len(on_time) + len(late),
        on_time=len(on_time),
        late=len(late),
        missing=list(c.missing),
        late_areas=list(c.late),
        not_due=c.not_due,
        reports=[ReportTime(area=a, at=r.at, clock=r.clock) for a, r in c.reports.items()],
    )


class Queries:
    """The answering side of a client's requests; :class:`feed.commands.Commands` adds the commands
    on the same store and run service (the server holds one object for both)."""

    def __init__(
        self,
        store: Store,
        runs: RunService | None,
        matcher: Callable[[Filter], Matcher],
        rules: RulesSettings | None = None,
    ) -> None:
        self.store = store
        self.matcher = matcher  # how a subscription's filter routes alerts (the hub's): for the alerts query
        self.runs = runs
        self.rules = rules  # the reporting calendar's due dates (None: see _rules)

    async def query(self, client: Client, msg: Query) -> None:
        if (as_of := getattr(msg.query, "as_of", None)) is not None and (problem := past_problem(as_of)):
            client.push_message(Error(code=ErrorCode.INVALID, id=msg.id, message=problem))
            return
        q = msg.query
        data: ResultData
        if isinstance(q, HistoryQuery):
            if await self.store.reference.indicator(q.indicator) is None:
                client.push_message(
                    Error(code=ErrorCode.NOT_FOUND, id=msg.id, message=f"unknown indicator {q.indicator!r}")
                )
                return
            since = None
            if q.since is not None:
                try:
                    since = str(Period.parse(q.since))
                except PeriodError as exc:
                    client.push_message(
                        Error(code=ErrorCode.INVALID, id=msg.id, message=f"since: not a period ({exc})")
                    )
                    return
            rows = await self.store.observations.history(
                q.indicator, q.area, source=q.source, as_of=q.as_of, since=since
            )
            data = HistoryData(
                observations=[_observation_info(o) for o in rows[-HISTORY_LIMIT:]],
                truncated=len(rows) > HISTORY_LIMIT,
            )
        elif isinstance(q, RunsQuery):
            if q.source is not None and not await self._known_source(q.source):
                client.push_message(Error(code=ErrorCode.INVALID, id=msg.id, message=f"unknown source {q.source!r}"))
                return
            data = RunsData(runs=[run_info(r) for r in await self.store.runs.recent(q.source, q.limit)])
        elif isinstance(q, ProvenanceQuery):
            found = await self.store.observations.provenance(q.observation_id)
            if found is None:
                client.push_message(
                    Error(code=ErrorCode.NOT_FOUND, id=msg.id, message=f"no observation {q.observation_id}")
                )
                return
            data = _provenance(found)
        elif isinstance(q, AlertsQuery):
            alerts = await routed_alerts(
                self.store,
                self.matcher(q.filter or Filter()),
                limit=q.limit,
                open_only=q.open_only,
                states=[AlertState(s) for s in q.states],
                severities=[Severity(s) for s in q.severities],
            )
            data = AlertsData(alerts=[AlertInfo.model_validate(a) for a in alerts])
        elif isinstance(q, SilencesQuery):
            listed = await self.store.alerts.silences(active_only=q.active_only, limit=q.limit)
            data = SilencesData(silences=[silence_info(s) for s in listed])
        elif isinstance(q, BriefingsQuery):
            if not client.role.may(READS_BRIEFINGS):
                client.push_message(
                    Error(code=ErrorCode.FORBIDDEN, id=msg.id, message=refusal(client.role, "list briefings"))
                )
                return
            data = BriefingsData(briefings=[briefing_info(b) for b in await self.store.briefings.listed(q.limit)])
        elif isinstance(q, CatalogueQuery):
            data = await catalogue(self.store, self._source_infos())
        elif isinstance(q, ReportingQuery):
            try:
                table = await reporting_completeness(
                    self.store,
                    self._rules(),
                    indicator=q.indicator,
                    period=q.period,
                    agency=q.agency,
                    province_sources=self._province_sources(),
                )
            except ReportingError as exc:
                client.push_message(Error(code=ErrorCode.INVALID, id=msg.id, message=str(exc)))
                return
            data = ReportingData(rows=[reporting_row(c) for c in table])
        else:
            assert isinstance(q, SourcesQuery)
            data = await self._sources()
        client.push_message(Result(id=msg.id, data=data))

    def _rules(self) -> RulesSettings:
        """The ``[rules]`` served: given to the server, else those the collectors evaluate (the
        Collector carries them, set by cli/runtime.py), so that the answer and the late-report
        alerts count by the same due dates; else the built-ins."""
        if self.rules is not None:
            return self.rules
        served = getattr(self.runs, "rules", None)
        return served if isinstance(served, RulesSettings) else RulesSettings()

    def _province_sources(self) -> set[str] | None:
        """The sources a province's own report comes from, as the late-report rule counts them
        (rules.evaluation.province_sources): those that speak for no agency, portals aside.
        None (no collectors here, or none such): any source's figure of a province counts."""
        if self.runs is None:
            return None
        own = {s.name for s in self.runs.source_states() if s.agency is None and s.kind != "portal"}
        return own or None

    def _source_infos(self) -> list[SourceInfo]:
        if self.runs is None:
            return []
        return [
            SourceInfo(name=s.name, kind=s.kind, agency=s.agency, enabled=s.enabled, schedule=s.schedule)
            for s in self.runs.source_states()
        ]

    async def _sources(self) -> SourcesData:
        """The configured sources' states with their last runs; without collectors, the sources
        that have run (their circuit and next run unknown here)."""
        last = await self.store.runs.last_per_source()
        if self.runs is None:
            return SourcesData(
                sources=[
                    SourceStatus(name=name, enabled=True, last_run=run_info(run)) for name, run in sorted(last.items())
                ]
            )
        out = []
        for s in self.runs.source_states():
            run = last.get(s.name)
            out.append(
                SourceStatus(
                    name=s.name,
                    enabled=s.enabled,
                    circuit=CIRCUIT[s.circuit],
                    next_run=s.next_run,
                    last_run=run_info(run) if run is not None else None,
                )
            )
        return SourcesData(sources=out)

    async def _known_source(self, name: str) -> bool:
        """A configured source (when this server runs collectors), or one that has run."""
        if self.runs is not None:
            try:
                self.runs.select(source=name)
                return True
            except KeyError:
                pass
        return bool(await self.store.runs.recent(name, limit=1))


def run_info(run: CollectionRun) -> RunInfo:
    return RunInfo.model_validate(run.model_dump())


def _observation_info(obs: Observation) -> ObservationInfo:
    return ObservationInfo.model_validate(obs.model_dump())


def _provenance(found: dict[str, Any]) -> ProvenanceData:
    ingest = found["ingest"]
    if ingest is not None:  # the store's record also names the ids and seqs it wrote: not for clients
        ingest = {k: v for k, v in ingest.items() if k in IngestInfo.model_fields}
    return ProvenanceData.model_validate({**found, "ingest": ingest})


def alert_info(alert: Alert) -> AlertInfo:
    return AlertInfo.model_validate(alert.model_dump())


def silence_info(silence: Silence) -> SilenceInfo:
    return SilenceInfo.model_validate(silence.model_dump())


def past_problem(as_of: datetime) -> str | None:
    """Why ``as_of`` cannot be looked at (None: it can): one rule for every as_of a client sends."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        return f"as_of {as_of.isoformat()} has no time zone: say which instant, e.g. {as_of.isoformat()}Z"
    if as_of > utcnow():
        return f"as_of {as_of.isoformat()} is in the future: the centre knows only the past"
    return None
