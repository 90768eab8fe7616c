"""Client to server: hello, subscribe and unsubscribe, the commands (collect, acknowledge, silence,
unsilence) and the queries, each told apart by ``name`` inside its envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeAlias

from pydantic import Field, TypeAdapter

from feed.protocol.codes import MAX_ID
from feed.protocol.records import Filter, Message


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


# What a command or a query envelope carries, told apart by ``name`` (a client builds one of these).
CommandBody: TypeAlias = CollectCommand | AcknowledgeCommand | SilenceCommand | UnsilenceCommand


class Command(Message):
    type: Literal["command"] = "command"
    id: str = Field(min_length=1, max_length=64)
    idempotency_key: str = Field(min_length=8, max_length=128)
    command: Annotated[CommandBody, Field(discriminator="name")]


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


class BriefingsQuery(Message):
    """The leaders' briefings kept in the store, newest first (operator and admin; each is downloaded
    over HTTP: ``GET /briefings/{id}`` with ``Authorization: Bearer``)."""

    name: Literal["briefings"] = "briefings"
    limit: int = Field(default=50, ge=1, le=500)


QueryBody: TypeAlias = (
    HistoryQuery
    | RunsQuery
    | ProvenanceQuery
    | AlertsQuery
    | CatalogueQuery
    | SourcesQuery
    | SilencesQuery
    | ReportingQuery
    | BriefingsQuery
)


class Query(Message):
    type: Literal["query"] = "query"
    id: str = Field(min_length=1, max_length=64)
    query: Annotated[QueryBody, Field(discriminator="name")]


ClientMessage = Annotated[Hello | Subscribe | Unsubscribe | Command | Query, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[Hello | Subscribe | Unsubscribe | Command | Query] = TypeAdapter(ClientMessage)
