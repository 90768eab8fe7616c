"""The ``data`` of a ``result``: one model per query and command, told apart by ``kind``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from feed.protocol.records import AlertInfo, Message, ObservationInfo, RunInfo
from feed.protocol.requests import SilenceMatch


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


class BriefingInfo(Message):
    """A kept briefing; its document is ``GET /briefings/{id}`` on the feed's address."""

    id: int
    period: str
    lang: Literal["vi", "en"]
    format: Literal["pdf", "html"]
    as_of: datetime  # the figures as known at this instant
    content_digest: str  # equal for two makings at the same as_of
    size: int  # bytes of the document
    made_at: datetime
    made_by: str  # the user who asked, or "schedule"


class BriefingsData(Message):
    kind: Literal["briefings"] = "briefings"
    briefings: list[BriefingInfo]  # newest first


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
    | BriefingsData
    | Duplicate,
    Field(discriminator="kind"),
]
