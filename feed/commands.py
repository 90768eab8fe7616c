"""Commands and queries from feed clients: checked against the caller's role, rate-limited,
idempotent, and every command written to the audit log (refusals included)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from collectors.breaker import BreakerState
from collectors.config import RulesSettings
from collectors.pipeline import SourceState
from feed.builder import Matcher
from feed.catalogue import catalogue
from feed.client import Client
from feed.hub import routed_alerts
from feed.metrics import Metrics
from feed.protocol import (
    MAX_SILENCE_S,
    MIN_SILENCE_S,
    AcknowledgeCommand,
    Acknowledged,
    AlertInfo,
    AlertsData,
    AlertsQuery,
    CatalogueQuery,
    CollectAccepted,
    CollectCommand,
    CollectDone,
    Command,
    Duplicate,
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
    Role,
    RunInfo,
    RunsData,
    RunsQuery,
    SilenceCommand,
    Silenced,
    SilenceInfo,
    SilencesData,
    SilencesQuery,
    SourceInfo,
    SourcesData,
    SourcesQuery,
    SourceStatus,
    UnsilenceCommand,
    Unsilenced,
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
    StoreError,
)
from storage.clock import utcnow
from storage.models import Silence, SilenceMatch

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


@dataclass
class Bucket:
    """A token bucket: ``rate`` per second, up to ``burst`` at once."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)
    refused: int = 0

    @classmethod
    def per_minute(cls, limit: int) -> Bucket:
        """``limit`` a minute on average, in bursts of up to a tenth of it (at least 3)."""
        return cls(rate=limit / 60, burst=max(3.0, limit / 10))

    def take(self) -> bool:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused = 0  # a flood is refusals in a row, not a long day's total
            return True
        self.refused += 1
        return False


CIRCUIT: dict[BreakerState, Literal["closed", "open", "half_open"]] = {
    BreakerState.CLOSED: "closed",
    BreakerState.OPEN: "open",
    BreakerState.HALF_OPEN: "half_open",
}
NEEDS = {"collect": Role.ADMIN, "acknowledge": Role.OPERATOR, "silence": Role.ADMIN, "unsilence": Role.ADMIN}
# The audit actions of commands that were done: only these use an idempotency key up.
DONE = {
    "collect": "collect.run",
    "acknowledge": "alert.acknowledge",
    "silence": "alert.silence",
    "unsilence": "silence.remove",
}
MAX_SILENCE = timedelta(seconds=MAX_SILENCE_S)
RECENT_KEYS = 10_000
UNREAD_CHARS = 1000  # of each part of a malformed command the audit log keeps
HISTORY_LIMIT = 10_000


@dataclass
class Remembered:
    """A command done under an idempotency key: what it was, and the results sent for it."""

    shape: dict[str, Any]
    results: list[Result]


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
    if agency is not None and agency not in {a.code for a in await store.agencies()}:
        raise ReportingError(f"unknown agency {agency!r}")
    chosen: list[Indicator] = await store.indicators(agency=agency)
    one = None
    if indicator is not None:
        one = await store.indicator(indicator)
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


class Commands:
    def __init__(
        self,
        store: Store,
        runs: RunService | None,
        metrics: Metrics,
        matcher: Callable[[Filter], Matcher],
        rules: RulesSettings | None = None,
    ) -> None:
        self.store = store
        self.matcher = matcher  # how a subscription's filter routes alerts (the hub's): for the alerts query
        self.runs = runs
        self.metrics = metrics
        self.rules = rules  # the reporting calendar's due dates (None: see _rules)
        # Set by the server: returns once ``client`` has been sent every event up to ``seq``.
        self.delivered: Callable[[Client, int], Awaitable[None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # (user, idempotency key) -> the command done; the newest RECENT_KEYS (the audit log keeps them all)
        self._recent: OrderedDict[tuple[str, str], Remembered] = OrderedDict()

    async def command(self, client: Client, msg: Command) -> None:
        name = msg.command.name
        key = (client.user, msg.idempotency_key)
        shape = msg.command.model_dump(mode="json")
        if (known := self._recent.get(key)) is not None:
            if known.shape != shape:
                await self._reused(client, msg)
                return
            # The same command again (a retry after a reconnect): the same answer, not done twice.
            for result in known.results:
                client.push_message(result.model_copy(update={"id": msg.id}))
            self.metrics.commands.labels(name, "duplicate").inc()
            return
        if not client.role.may(NEEDS[name]):
            await self.refused(
                client,
                msg,
                ErrorCode.FORBIDDEN,
                f"the {client.role.value} role may not {name}; it needs {NEEDS[name].value}",
            )
            return
        earlier = await self.store.find_audit(client.user, msg.idempotency_key, actions=list(DONE.values()))
        if earlier is not None:  # done before a restart of the server: do not do it twice
            if (
                earlier.action != DONE[name]
                # a silence's target is the id it was given, which the request cannot know
                or (name != "silence" and earlier.target != _target(msg))
                or earlier.details.get("command", shape) != shape
            ):
                await self._reused(client, msg)
                return
            result = Result(id=msg.id, data=Duplicate(audit_id=earlier.id, at=earlier.at))
            self._remember(key, shape, result)
            client.push_message(result)
            self.metrics.commands.labels(name, "duplicate").inc()
            return
        if isinstance(msg.command, CollectCommand):
            await self._collect(client, msg, msg.command, key)
        elif isinstance(msg.command, SilenceCommand):
            await self._silence(client, msg, msg.command, key)
        elif isinstance(msg.command, UnsilenceCommand):
            await self._unsilence(client, msg, msg.command, key)
        else:
            await self._acknowledge(client, msg, msg.command, key)

    async def refused(self, client: Client, msg: Command | Mapping[str, Any], code: ErrorCode, message: str) -> None:
        """Answer with an error and write the refusal to the audit log: every command is audited,
        one too malformed to read (``msg``: the frame as parsed) as far as it can be read."""
        name: str
        request_id: str | None
        if isinstance(msg, Command):
            name, request_id, target, details = msg.command.name, msg.id, _target(msg), _details(msg)
        else:
            name, request_id, target, details = _unread(msg)
        self.metrics.commands.labels(name, code.value).inc()
        details = {**details, "error_code": code.value, "error": message}
        # Written before the answer: a client that has its answer can rely on the audit entry.
        await self.store.audit(client.user, client.role.value, f"{name}.refused", target, details)
        client.push_message(Error(code=code, id=request_id, message=message))

    async def _reused(self, client: Client, msg: Command) -> None:
        await self.refused(
            client,
            msg,
            ErrorCode.INVALID,
            f"idempotency_key {msg.idempotency_key!r} was already used for a different command: use a new key",
        )

    async def _collect(self, client: Client, msg: Command, cmd: CollectCommand, key: tuple[str, str]) -> None:
        if self.runs is None:
            await self.refused(client, msg, ErrorCode.INVALID, "this server runs no collectors")
            return
        if sum((cmd.source is not None, cmd.agency is not None, cmd.all)) != 1:
            await self.refused(client, msg, ErrorCode.INVALID, "say exactly one of: source, agency, or all")
            return
        try:
            names = self.runs.select(source=cmd.source, agency=cmd.agency, everything=cmd.all)
        except KeyError as exc:
            await self.refused(client, msg, ErrorCode.INVALID, str(exc.args[0] if exc.args else exc))
            return
        await self.store.audit(
            client.user, client.role.value, DONE["collect"], _target(msg), {**_details(msg), "sources": names}
        )
        self.metrics.commands.labels("collect", "accepted").inc()
        accepted = Result(id=msg.id, status="accepted", data=CollectAccepted(sources=names))
        self._remember(key, msg.command.model_dump(mode="json"), accepted)
        client.push_message(accepted)
        task = asyncio.create_task(self._run(client, msg, names, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, client: Client, msg: Command, names: list[str], key: tuple[str, str]) -> None:
        assert self.runs is not None
        try:
            runs = await self.runs.run_many(names, RunTrigger.MANUAL, requested_by=client.user)
        except Exception as exc:
            log.exception("manual collection failed")
            client.push_message(Error(code=ErrorCode.INTERNAL, id=msg.id, message=f"collection failed: {exc}"))
            return
        if self.delivered is not None:
            # `done` comes last: after the `run finished` messages of these runs reach this client.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.delivered(client, await self.store.last_seq()), timeout=30)
        done = Result(id=msg.id, status="done", data=CollectDone(runs=[_run_info(r) for r in runs]))
        self._remember(key, msg.command.model_dump(mode="json"), done)
        client.push_message(done)

    async def _acknowledge(self, client: Client, msg: Command, cmd: AcknowledgeCommand, key: tuple[str, str]) -> None:
        details = _details(msg)
        del details["note"]  # the store records the note itself
        try:
            alert = await self.store.acknowledge_alert(cmd.alert_id, client.user, client.role.value, cmd.note, details)
        except StoreError as exc:
            code = ErrorCode.NOT_FOUND if str(exc).startswith("no alert") else ErrorCode.INVALID
            await self.refused(client, msg, code, str(exc))
            return
        self.metrics.commands.labels("acknowledge", "done").inc()
        result = Result(id=msg.id, data=Acknowledged(alert=alert_info(alert)))
        self._remember(key, msg.command.model_dump(mode="json"), result)
        client.push_message(result)

    async def _silence(self, client: Client, msg: Command, cmd: SilenceCommand, key: tuple[str, str]) -> None:
        match = SilenceMatch.model_validate(cmd.match.model_dump())
        now = utcnow()
        problem = None
        matchers = match.model_dump(exclude_none=True).values()
        if not matchers or not all(v.strip() for v in matchers):
            problem = "match: give at least one of rule, subject, source, agency, area, indicator (none empty)"
        elif (cmd.duration is None) == (cmd.ends_at is None):
            problem = "say exactly one of: duration (seconds) or ends_at"
        elif cmd.duration is not None and not MIN_SILENCE_S <= cmd.duration <= MAX_SILENCE_S:
            problem = f"duration must be {MIN_SILENCE_S} seconds to {MAX_SILENCE.days} days"
        elif cmd.ends_at is not None and cmd.ends_at.tzinfo is None:
            problem = "ends_at needs a time zone (Z or +07:00)"
        elif cmd.ends_at is not None and not now < cmd.ends_at <= now + MAX_SILENCE:
            problem = f"ends_at must be in the future and at most {MAX_SILENCE.days} days away"
        elif not cmd.comment.strip():
            problem = "comment: say why these alerts may be muted"
        if problem is not None:
            await self.refused(client, msg, ErrorCode.INVALID, problem)
            return
        ends_at = cmd.ends_at if cmd.ends_at is not None else now + timedelta(seconds=cmd.duration or 0)
        try:
            made, muted = await self.store.silence(
                match, ends_at, cmd.comment, client.user, client.role.value, _details(msg)
            )
        except StoreError as exc:
            await self.refused(client, msg, ErrorCode.INVALID, str(exc))
            return
        self.metrics.commands.labels("silence", "done").inc()
        result = Result(id=msg.id, data=Silenced(silence=silence_info(made), muted=[a.id for a in muted]))
        self._remember(key, msg.command.model_dump(mode="json"), result)
        client.push_message(result)

    async def _unsilence(self, client: Client, msg: Command, cmd: UnsilenceCommand, key: tuple[str, str]) -> None:
        try:
            ended, unmuted = await self.store.unsilence(cmd.silence_id, client.user, client.role.value, _details(msg))
        except StoreError as exc:
            code = ErrorCode.NOT_FOUND if str(exc).startswith("no silence") else ErrorCode.INVALID
            await self.refused(client, msg, code, str(exc))
            return
        self.metrics.commands.labels("unsilence", "done").inc()
        result = Result(id=msg.id, data=Unsilenced(silence=silence_info(ended), unmuted=[a.id for a in unmuted]))
        self._remember(key, msg.command.model_dump(mode="json"), result)
        client.push_message(result)

    def _remember(self, key: tuple[str, str], shape: dict[str, Any], result: Result) -> None:
        self._recent.setdefault(key, Remembered(shape, [])).results.append(result)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    async def query(self, client: Client, msg: Query) -> None:
        if (as_of := getattr(msg.query, "as_of", None)) is not None and (problem := past_problem(as_of)):
            client.push_message(Error(code=ErrorCode.INVALID, id=msg.id, message=problem))
            return
        q = msg.query
        data: ResultData
        if isinstance(q, HistoryQuery):
            if await self.store.indicator(q.indicator) is None:
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
            rows = await self.store.history(q.indicator, q.area, source=q.source, as_of=q.as_of, since=since)
            data = HistoryData(
                observations=[_observation_info(o) for o in rows[-HISTORY_LIMIT:]],
                truncated=len(rows) > HISTORY_LIMIT,
            )
        elif isinstance(q, RunsQuery):
            if q.source is not None and not await self._known_source(q.source):
                client.push_message(Error(code=ErrorCode.INVALID, id=msg.id, message=f"unknown source {q.source!r}"))
                return
            data = RunsData(runs=[_run_info(r) for r in await self.store.runs(q.source, q.limit)])
        elif isinstance(q, ProvenanceQuery):
            found = await self.store.provenance(q.observation_id)
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
            listed = await self.store.silences(active_only=q.active_only, limit=q.limit)
            data = SilencesData(silences=[silence_info(s) for s in listed])
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
        last = await self.store.last_runs()
        if self.runs is None:
            return SourcesData(
                sources=[
                    SourceStatus(name=name, enabled=True, last_run=_run_info(run)) for name, run in sorted(last.items())
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
                    last_run=_run_info(run) if run is not None else None,
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
        return bool(await self.store.runs(name, limit=1))

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _run_info(run: CollectionRun) -> RunInfo:
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


def _details(msg: Command) -> dict[str, Any]:
    """What the audit log keeps of a command: the request, the key, and the command itself (whole,
    under ``command``, so that a key reused for another command is recognised after a restart)."""
    shape = msg.command.model_dump(mode="json")
    fields = {k: v for k, v in shape.items() if k != "name"}
    return {"request_id": msg.id, "idempotency_key": msg.idempotency_key, "command": shape, **fields}


def _unread(frame: Mapping[str, Any]) -> tuple[str, str | None, str, dict[str, Any]]:
    """What the audit log keeps of a command too malformed to read: its name (if one we know), the
    request's id and key, and the command as sent, each cut short (a frame may be 64 KiB of junk)."""
    cmd = frame.get("command")
    name = cmd.get("name") if isinstance(cmd, dict) else None
    request_id, key = (v if isinstance(v := frame.get(k), str) else None for k in ("id", "idempotency_key"))
    details = {
        "request_id": request_id and request_id[:UNREAD_CHARS],
        "idempotency_key": key and key[:UNREAD_CHARS],
        "command": json.dumps(cmd, ensure_ascii=False)[:UNREAD_CHARS],
    }
    return name if name in NEEDS else "command", request_id, "malformed", details


def _target(msg: Command) -> str:
    c = msg.command
    if isinstance(c, CollectCommand):
        return f"source:{c.source}" if c.source else f"agency:{c.agency}" if c.agency else "all"
    if isinstance(c, SilenceCommand):
        return "silence:new"
    if isinstance(c, UnsilenceCommand):
        return f"silence:{c.silence_id}"
    return f"alert:{c.alert_id}"


def past_problem(as_of: datetime) -> str | None:
    """Why ``as_of`` cannot be looked at (None: it can): one rule for every as_of a client sends."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        return f"as_of {as_of.isoformat()} has no time zone: say which instant, e.g. {as_of.isoformat()}Z"
    if as_of > utcnow():
        return f"as_of {as_of.isoformat()} is in the future: the centre knows only the past"
    return None
