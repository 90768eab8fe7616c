"""The feed protocol: every message of both directions as a pydantic model (docs/protocol.md).

One JSON object per WebSocket text frame, with a ``type``. Server messages that come from the
event log carry ``epoch`` and ``seq``: a client that remembers the last (epoch, seq) it received
can resume from there. This module is all a client needs (the console imports nothing else of
the server), and ``opscentre protocol-schema`` prints its JSON Schema.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 1
# Identifiers and positions are SQLite integers: a bigger number is bad input, not an overflow later.
MAX_ID = 2**63 - 1


class CloseCode:
    """WebSocket close codes the server uses. Terminal ones tell the client not to retry."""

    GOING_AWAY = 1001  # server restart or shutdown: reconnect and resume
    PROTOCOL_ERROR = 1002
    INVALID_DATA = 1007  # a text frame that is not valid UTF-8 (sent by websockets itself)
    TOO_BIG = 1009  # a frame over the maximum message size
    TOO_SLOW = 4008  # the client fell too far behind: reconnect and resume
    RESYNC = 4009  # the server lost the client's place: reconnect (a snapshot follows)
    RATE_LIMITED = 4029  # a flood of commands: reconnect later
    UNAUTHENTICATED = 4401  # terminal: missing or wrong token
    FORBIDDEN = 4403  # terminal: origin not allowed

    TERMINAL = frozenset({UNAUTHENTICATED, FORBIDDEN})


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"  # the frame is not a JSON object
    BAD_MESSAGE = "bad_message"  # unknown type or wrong fields
    NOT_AUTHENTICATED = "not_authenticated"  # hello first
    FORBIDDEN = "forbidden"  # the role may not do this
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # a well-formed request the server cannot do (unknown source, alert not open, ...)
    INTERNAL = "internal"


class Role(StrEnum):
    DISPLAY = "display"  # read
    OPERATOR = "operator"  # read, acknowledge alerts
    ADMIN = "admin"  # also run collections

    def may(self, needed: Role) -> bool:
        order = [Role.DISPLAY, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- shared shapes --------------------------------------------------------------------------------


class Filter(Message):
    """What a subscription covers; an empty list means "all"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[str, ...] = Field(default=(), max_length=100)
    indicators: tuple[str, ...] = Field(default=(), max_length=1000)
    areas: tuple[str, ...] = Field(default=(), max_length=200)
    agencies: tuple[str, ...] = Field(default=(), max_length=100)
    severities: tuple[Literal["info", "warning", "critical"], ...] = ()
    observations: bool = True  # false: alerts and runs only (e.g. a command-line client)
    # true: every alert of its severities, whatever the other fields say (the centre's own wall,
    # which shows a few figures and every alert in the country)
    all_alerts: bool = False

    def key(self) -> tuple[object, ...]:
        """Clients with equal keys get byte-identical messages (encoded once per tick)."""
        lists = (self.categories, self.indicators, self.areas, self.agencies, self.severities)
        return (*(tuple(sorted(set(v))) for v in lists), self.observations, self.all_alerts)


class Change(Message):
    """The latest figure of one series (indicator, area, source)."""

    id: int
    indicator: str
    area: str
    source: str
    period: str
    value: float
    status: str
    revision: int
    collected_at: datetime
    run_id: int | None = None
    payload_digest: str | None = None
    previous_value: float | None = None  # set when this is a revision
    previous_status: str | None = None


class ObservationInfo(Message):
    """One stored figure: a revision of (indicator, area, period, source), with its provenance."""

    id: int
    indicator: str
    area: str
    period: str
    source: str
    value: float
    status: str
    revision: int
    collected_at: datetime
    run_id: int | None = None
    payload_digest: str | None = None
    published_at: datetime | None = None  # when the upstream says it published the figure (its own clock)


class AlertParams(Message):
    """What an alert is about, as typed values: a client words the alert in its own language from
    ``rule`` and these (``message`` is the server's Vietnamese wording of the same)."""

    source: str | None = None
    agency: str | None = None
    indicator: str | None = None
    area: str | None = None
    period: str | None = None
    value: float | None = None  # the figure now (a revision's new value)
    previous_value: float | None = None  # the figure before (a revision's old value)
    count: int | None = None  # how many (records rejected, figures revised, ...)
    failures: int | None = None  # failed runs in a row
    http_status: int | None = None
    run_id: int | None = None
    observation_id: int | None = None
    # Data-quality rules: the figure checked against another (cross-checks), with provenance.
    payload_digest: str | None = None  # sha256 of the payload the figure (``value``) came from
    reference_value: float | None = None  # the figure it is checked against (national, other source, formula)
    reference_source: str | None = None
    reference_digest: str | None = None
    expected: int | None = None  # reports expected (completeness: ``count`` of ``expected`` received)
    due: str | None = None  # the date a report was due (ISO)
    score: float | None = None  # an outlier's modified z-score
    # Revision watch, anomalies, stale data.
    reason: str | None = None  # why a rule fired: "threshold", "closed", "repeated", "warning_high", ...
    revision: int | None = None  # the revision number of the figure (1 = first published)
    threshold: float | None = None  # the limit crossed (a band, a relative change, a z-score)
    last_good: str | None = None  # when the source last ran well (ISO), for stale data


class AlertInfo(Message):
    id: int
    rule: str  # stable code, e.g. "source.failing", "source.rejected", "figures.revised", "storage.write_failed"
    subject: str
    severity: Literal["info", "warning", "critical"]
    state: Literal["pending", "firing", "acknowledged", "resolved"]
    message: str  # Vietnamese, for people; never a raw URL or exception text
    params: AlertParams = AlertParams()
    message_en: str | None = None  # the same in English; both rendered by the server from one catalogue
    detail: str | None = None  # technical detail (an error's text) for those who drill down
    opened_at: datetime
    fired_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    ack_note: str | None = None
    resolved_at: datetime | None = None
    updated_at: datetime
    inhibited_by: int | None = None  # muted while this alert fires (its source is down)
    silenced_by: int | None = None  # muted by this silence (until it ends)


class RunInfo(Message):
    id: int
    source: str
    trigger: str
    requested_by: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str
    fetched: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: int = 0
    error: str | None = None
    latency_ms: float | None = None
    bytes: int | None = None
    http_status: int | None = None


# --- client to server --------------------------------------------------------------------------------


class Resume(Message):
    epoch: str = Field(max_length=64)
    seq: int = Field(ge=0, le=MAX_ID)


class Hello(Message):
    """First message. Browsers put their token here (non-browser clients send
    ``Authorization: Bearer`` on the handshake instead)."""

    type: Literal["hello"] = "hello"
    token: str | None = Field(default=None, max_length=512)
    resume: Resume | None = None
    filter: Filter | None = None  # subscribe at once (else send `subscribe`)
    client: str | None = Field(default=None, max_length=100)
    # Time travel: the snapshot shows the centre as it was known at this instant, and no live
    # deltas follow until a `subscribe` without `as_of`. Needs a zone; not in the future.
    as_of: datetime | None = None


class Subscribe(Message):
    type: Literal["subscribe"] = "subscribe"
    id: str | None = Field(default=None, max_length=64)
    filter: Filter = Filter()
    as_of: datetime | None = None  # as in hello: a frozen past; absent: live


class Unsubscribe(Message):
    type: Literal["unsubscribe"] = "unsubscribe"
    id: str | None = Field(default=None, max_length=64)


class CollectCommand(Message):
    name: Literal["collect"] = "collect"
    source: str | None = Field(default=None, max_length=64)
    agency: str | None = Field(default=None, max_length=64)
    all: bool = False


class AcknowledgeCommand(Message):
    name: Literal["acknowledge"] = "acknowledge"
    alert_id: int = Field(ge=1, le=MAX_ID)
    note: str = Field(default="", max_length=1000)


Label = Annotated[str, Field(max_length=64)]
# A silence is for an outage or a known late report, not forever. Its matchers, duration and comment
# are checked by the server, which refuses a bad silence as `invalid` (and audits it), not here.
MIN_SILENCE_S, MAX_SILENCE_S = 60, 30 * 24 * 3600


class SilenceMatch(Message):
    """What a silence mutes: alerts whose rule, subject and params equal every matcher given (at
    least one, none empty)."""

    rule: Label | None = None
    subject: Label | None = None
    source: Label | None = None
    agency: Label | None = None
    area: Label | None = None
    indicator: Label | None = None


class SilenceCommand(Message):
    """Mute matching alerts (open ones and those that open meanwhile) for ``duration`` seconds or
    until ``ends_at`` (exactly one), with a comment saying why."""

    name: Literal["silence"] = "silence"
    match: SilenceMatch
    duration: int | None = None  # seconds, MIN_SILENCE_S to MAX_SILENCE_S
    ends_at: datetime | None = None
    comment: str = Field(max_length=1000)  # not blank


class UnsilenceCommand(Message):
    name: Literal["unsilence"] = "unsilence"
    silence_id: int = Field(ge=1, le=MAX_ID)


class Command(Message):
    type: Literal["command"] = "command"
    id: str = Field(min_length=1, max_length=64)
    idempotency_key: str = Field(min_length=8, max_length=128)
    command: Annotated[
        CollectCommand | AcknowledgeCommand | SilenceCommand | UnsilenceCommand, Field(discriminator="name")
    ]


class HistoryQuery(Message):
    name: Literal["history"] = "history"
    indicator: str = Field(max_length=64)
    area: str = Field(default="VN", max_length=16)
    source: str | None = Field(default=None, max_length=64)
    as_of: datetime | None = None
    since: str | None = Field(default=None, max_length=32)


class RunsQuery(Message):
    name: Literal["runs"] = "runs"
    source: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)


class ProvenanceQuery(Message):
    name: Literal["provenance"] = "provenance"
    observation_id: int = Field(ge=1, le=MAX_ID)


class AlertsQuery(Message):
    name: Literal["alerts"] = "alerts"
    open_only: bool = True
    limit: int = Field(default=200, ge=1, le=1000)
    states: list[Literal["pending", "firing", "acknowledged", "resolved"]] = Field(default=[], max_length=4)
    severities: list[Literal["info", "warning", "critical"]] = Field(default=[], max_length=3)
    filter: Filter | None = None  # the alerts a subscription with this filter gets (absent: all)


class SilencesQuery(Message):
    """Silences, newest first: the active ones, or all (``active_only: false``)."""

    name: Literal["silences"] = "silences"
    active_only: bool = True
    limit: int = Field(default=200, ge=1, le=1000)


class CatalogueQuery(Message):
    """Everything a client needs to label a figure: indicators, areas, agencies, categories, sources."""

    name: Literal["catalogue"] = "catalogue"


class SourcesQuery(Message):
    """Each source's state: schedule, circuit breaker, last run."""

    name: Literal["sources"] = "sources"


class ReportingQuery(Message):
    """Completeness of the reports (as DHIS2's reporting rates): per indicator, for ``period``
    (default: each indicator's newest period due), of one ``indicator`` or those ``agency`` owns."""

    name: Literal["reporting"] = "reporting"
    indicator: str | None = Field(default=None, max_length=64)
    period: str | None = Field(default=None, max_length=32)
    agency: str | None = Field(default=None, max_length=64)


class Query(Message):
    type: Literal["query"] = "query"
    id: str = Field(min_length=1, max_length=64)
    query: Annotated[
        HistoryQuery
        | RunsQuery
        | ProvenanceQuery
        | AlertsQuery
        | CatalogueQuery
        | SourcesQuery
        | SilencesQuery
        | ReportingQuery,
        Field(discriminator="name"),
    ]


ClientMessage = Annotated[Hello | Subscribe | Unsubscribe | Command | Query, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[Hello | Subscribe | Unsubscribe | Command | Query] = TypeAdapter(ClientMessage)


# --- server to client ------------------------------------------------------------------------------------


class Welcome(Message):
    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL_VERSION
    server_version: str
    user: str
    role: Role
    epoch: str
    seq: int  # the newest event now
    resumed: bool = False  # true: the events missed since the client's (epoch, seq) follow, nothing else


class Snapshot(Message):
    """The state for the subscription's filter, exactly as of ``seq``; deltas follow from there."""

    type: Literal["snapshot"] = "snapshot"
    epoch: str
    seq: int
    resumed: Literal[False] = False
    filter: Filter
    as_of: datetime | None = None  # set: the centre as known at that instant; no deltas follow it
    observations: list[Change]
    alerts: list[AlertInfo]
    runs: list[RunInfo]


class Delta(Message):
    """Changes up to ``seq`` that match the filter, coalesced per series.

    ``changes``: the newest figure of each series that changed (a figure for an older period than
    the series' newest never appears here). ``revisions``: figures of older periods that were
    revised, newest revision per period. A client replaces what it holds for a series only with a
    change whose (period, revision) is not older than its own.
    """

    type: Literal["delta"] = "delta"
    epoch: str
    seq: int
    changes: list[Change]
    revisions: list[Change] = []


class AlertMessage(Message):
    type: Literal["alert"] = "alert"
    epoch: str
    seq: int
    alert: AlertInfo


class RunStatus(Message):
    type: Literal["run"] = "run"
    epoch: str
    seq: int
    event: Literal["started", "finished"]
    run: RunInfo


# --- answers: the ``data`` of a result, one model per query and command, told apart by ``kind`` -------


class HistoryData(Message):
    kind: Literal["history"] = "history"
    observations: list[ObservationInfo]  # oldest period first; the newest HISTORY_LIMIT when truncated
    truncated: bool = False


class RunsData(Message):
    kind: Literal["runs"] = "runs"
    runs: list[RunInfo]  # newest first


class IngestInfo(Message):
    """One ingest call: the batch that brought a figure in."""

    id: int
    source: str
    run_id: int | None = None
    payload_digest: str | None = None
    at: datetime
    records: int
    new: int
    revised: int
    unchanged: int
    rejected: int


class PayloadInfo(Message):
    sha256: str  # of the bytes as decoded (``wire_encoding`` names what was undone, e.g. gzip)
    size: int
    content_type: str | None = None
    wire_encoding: str | None = None


class ProvenanceData(Message):
    kind: Literal["provenance"] = "provenance"
    observation: ObservationInfo
    revisions: list[ObservationInfo]  # every revision of the same (indicator, area, period, source), oldest first
    ingest: IngestInfo | None = None
    run: RunInfo | None = None
    payload: PayloadInfo | None = None


class AlertsData(Message):
    kind: Literal["alerts"] = "alerts"
    alerts: list[AlertInfo]


class IndicatorInfo(Message):
    code: str
    name_vi: str
    name_en: str
    unit_vi: str
    unit_en: str
    scale: float = 1.0  # one unit in base units (1e12 for "nghìn tỷ đồng"), to compare magnitudes
    decimals: int = 1  # digits after the decimal mark usually shown
    frequency: Literal["D", "M", "Q", "Y", "live"]
    category: str
    agency: str  # the owning agency in force
    agency_lineage: list[str]  # the owner and the agencies merged into it (e.g. NSO, GSO)
    level: str  # national, provincial, national+provincial
    kind: str  # flow, stock, rate, level, counter, derived
    key: bool = False  # a key national indicator (the overview and the wall page show it)


class AreaInfo(Message):
    code: str
    name: str  # Vietnamese, as in law (place names are not translated)
    kind: str  # nation, city, province
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive; None: still in force
    successor: str | None = None  # the unit it became part of
    predecessors: list[str] = []  # the units merged into it


class AgencyInfo(Message):
    code: str
    name_vi: str
    name_en: str
    kind: str
    valid_from: date | None = None
    valid_to: date | None = None
    successor: str | None = None
    predecessors: list[str] = []


class CategoryInfo(Message):
    code: str
    name_vi: str
    name_en: str


class SourceInfo(Message):
    name: str
    kind: str  # agency-json, sdmx, portal
    agency: str | None = None  # the agency it speaks for (None: not configured)
    enabled: bool
    schedule: str  # "every 60s" or a crontab


class CatalogueData(Message):
    kind: Literal["catalogue"] = "catalogue"
    indicators: list[IndicatorInfo]
    areas: list[AreaInfo]  # every version, 2020's 63 units and 2025's 34 with who became whom
    agencies: list[AgencyInfo]
    categories: list[CategoryInfo]
    sources: list[SourceInfo]


class SourceStatus(Message):
    name: str
    enabled: bool
    circuit: Literal["closed", "open", "half_open"] | None = None  # None: this server runs no collectors
    next_run: datetime | None = None
    last_run: RunInfo | None = None


class SourcesData(Message):
    kind: Literal["sources"] = "sources"
    sources: list[SourceStatus]


class CollectAccepted(Message):
    kind: Literal["collect_accepted"] = "collect_accepted"
    sources: list[str]


class CollectDone(Message):
    kind: Literal["collect_done"] = "collect_done"
    runs: list[RunInfo]


class Acknowledged(Message):
    kind: Literal["acknowledged"] = "acknowledged"
    alert: AlertInfo


class SilenceInfo(Message):
    id: int
    match: SilenceMatch
    comment: str
    created_by: str
    created_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None  # expired (then equal to ends_at) or removed
    ended_by: str | None = None  # who removed it (absent: it expired)


class Silenced(Message):
    """A silence made; ``muted``: the open alerts it muted at once (their ``alert`` messages follow)."""

    kind: Literal["silenced"] = "silenced"
    silence: SilenceInfo
    muted: list[int]


class Unsilenced(Message):
    kind: Literal["unsilenced"] = "unsilenced"
    silence: SilenceInfo
    unmuted: list[int]


class SilencesData(Message):
    kind: Literal["silences"] = "silences"
    silences: list[SilenceInfo]


class ReportTime(Message):
    """When one party's report came in, by whose clock: ``published``, the reporter's own (the
    upstream's publication time of the figure's first revision); ``collected``, the centre's (when it
    first collected the figure: the source gave no publication time, or one later than that)."""

    area: str
    at: datetime
    clock: Literal["published", "collected"]


class ReportingRow(Message):
    """One indicator's reports for one period. Expected: the owner agency's national figure (area
    ``VN``) and/or each province or city in force on the period's last day. The counts are of the
    provinces and cities when any is expected ("28/34 tỉnh, thành phố"), else of the national
    figure; ``missing``, ``late_areas`` and ``reports`` name every party, ``VN`` included."""

    indicator: str
    period: str
    due: date  # reports are late after the end of this day, UTC
    expected: int
    received: int  # on_time + late
    on_time: int
    late: int
    missing: list[str]  # area codes owing the report past its due date (VN: the owner's national figure)
    late_areas: list[str] = []  # area codes whose report came in after its due date
    not_due: bool = False  # the due date is still ahead: nothing is missing yet
    reports: list[ReportTime] = []  # every report received, in the order of the parties expected


class ReportingData(Message):
    kind: Literal["reporting"] = "reporting"
    rows: list[ReportingRow]  # one per indicator with a reporting calendar, by indicator code


class Duplicate(Message):
    """A command retried with an idempotency key already used: it was done once, at ``at``."""

    kind: Literal["duplicate"] = "duplicate"
    duplicate: Literal[True] = True
    audit_id: int
    at: datetime


ResultData = Annotated[
    HistoryData
    | RunsData
    | ProvenanceData
    | AlertsData
    | CatalogueData
    | SourcesData
    | CollectAccepted
    | CollectDone
    | Acknowledged
    | Silenced
    | Unsilenced
    | SilencesData
    | ReportingData
    | Duplicate,
    Field(discriminator="kind"),
]


class Result(Message):
    """The answer to a command or query (``id`` is the request's). A collect command is answered
    twice: ``status: accepted`` at once, ``status: done`` with every run's result at the end."""

    type: Literal["result"] = "result"
    id: str
    ok: bool = True
    status: Literal["accepted", "done"] = "done"
    data: ResultData


class Error(Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    id: str | None = None  # the request it answers, if any


class Heartbeat(Message):
    """Every few seconds: the server is alive, and ``seq`` is the client's position (every event
    up to it that matches the filter has been delivered; after a snapshot of the past, its seq)."""

    type: Literal["heartbeat"] = "heartbeat"
    epoch: str
    seq: int
    time: datetime


ServerMessage = Annotated[
    Welcome | Snapshot | Delta | AlertMessage | RunStatus | Result | Error | Heartbeat, Field(discriminator="type")
]
SERVER_MESSAGE: TypeAdapter[Welcome | Snapshot | Delta | AlertMessage | RunStatus | Result | Error | Heartbeat] = (
    TypeAdapter(ServerMessage)
)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of both directions (``opscentre protocol-schema``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"opscentre feed protocol v{PROTOCOL_VERSION}",
        "$defs": {
            "ClientMessage": CLIENT_MESSAGE.json_schema(ref_template="#/$defs/ClientMessage/$defs/{model}"),
            "ServerMessage": SERVER_MESSAGE.json_schema(ref_template="#/$defs/ServerMessage/$defs/{model}"),
        },
        "oneOf": [{"$ref": "#/$defs/ClientMessage"}, {"$ref": "#/$defs/ServerMessage"}],
    }
