"""Domain models of the operations centre (DESIGN.md, "Domain").

Every model is a pydantic v2 model: the same classes validate what comes in (reference data,
upstream records, config) and describe what the store returns. Human-readable names go through
:data:`NFCStr`, so Vietnamese text is always stored and returned NFC-normalised.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from wording.periods import Frequency, canonical_period


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


NFCStr = Annotated[str, AfterValidator(nfc)]


def _time_text(v: Any) -> Any:
    """An upstream's time is ISO 8601 text (or a time already): pydantic would also take a number as
    seconds since 1970, and a figure "published" in 1970 would always be on time."""
    if not isinstance(v, str | datetime):
        raise ValueError("must be an ISO 8601 time with its zone, such as 2024-06-20T09:00:00Z")
    return v


# A time an upstream gives: ISO 8601 text with its zone (a time without one is refused, not guessed).
UpstreamTime = Annotated[AwareDatetime, BeforeValidator(_time_text)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- reference data -------------------------------------------------------------------------


class Area(Frozen):
    """An administrative unit in force from ``valid_from`` to ``valid_to`` (inclusive; None = open)."""

    code: Code
    name_vi: NFCStr
    kind: str  # nation, city, province
    valid_from: date | None = None
    valid_to: date | None = None
    successor_code: str | None = None

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


class Agency(Frozen):
    code: Code
    name_vi: NFCStr
    name_en: str
    kind: str
    valid_from: date | None = None
    valid_to: date | None = None
    successor_code: str | None = None


class Category(Frozen):
    code: Code
    name_vi: NFCStr
    name_en: str


class Level(StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"
    BOTH = "national+provincial"

    def allows(self, area_code: str) -> bool:
        national = area_code == NATION
        return self is Level.BOTH or (self is Level.NATIONAL) == national


class IndicatorKind(StrEnum):
    FLOW = "flow"
    STOCK = "stock"
    RATE = "rate"
    LEVEL = "level"
    COUNTER = "counter"
    DERIVED = "derived"


NATION = "VN"


class Indicator(Frozen):
    code: Code
    name_vi: NFCStr
    name_en: str
    unit: NFCStr
    frequency: Frequency
    category: Code
    owner: Code
    level: Level
    kind: IndicatorKind
    formula: str | None = None  # for derived indicators, e.g. "EXPORTS-IMPORTS"
    magnitude: float | None = None  # a typical value (2019), used by the simulator and sanity rules


# --- observations ---------------------------------------------------------------------------


class ObservationStatus(StrEnum):
    PROVISIONAL = "provisional"
    OFFICIAL = "official"
    ESTIMATED = "estimated"


class ObservationIn(BaseModel):
    """One figure as an upstream reported it, before the store has checked it against the catalogue."""

    model_config = ConfigDict(extra="forbid")

    indicator: Code
    area: Code
    period: str
    value: float
    status: ObservationStatus = ObservationStatus.OFFICIAL
    # When the upstream published the figure, by its own clock (the agency API's ``published_at``,
    # else its ``updated_at``); None: the source does not say. Timeliness judges a report by it.
    published_at: UpstreamTime | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("value must be a finite number")
        return v

    @field_validator("period")
    @classmethod
    def _period(cls, v: str) -> str:
        return canonical_period(v)


class Observation(Frozen):
    """A stored figure: one revision of (indicator, area, period, source), with its provenance."""

    id: int
    indicator: str
    area: str
    period: str
    source: str
    value: float
    status: ObservationStatus
    revision: int
    collected_at: datetime
    run_id: int | None
    payload_digest: str | None
    published_at: datetime | None = None  # the upstream's own time, as the record said (ObservationIn)


class Revision(NamedTuple):
    """A figure that changed: the new revision stored and the value it replaced.

    A named tuple, not a pydantic model or a dataclass: a re-published history can revise 100,000
    figures at once, and this is built straight from trusted rows of our own database (a frozen
    dataclass, setting each field through ``object.__setattr__``, cost 0.15 s of them).
    """

    obs_id: int
    indicator: str
    area: str
    period: str
    revision: int
    value: float
    status: str
    previous_value: float
    previous_status: str


class Rejection(Frozen):
    index: int  # position of the record in the batch
    record: dict[str, Any]
    reason: str


class IngestResult(BaseModel):
    """What one ``ingest`` did. ``new`` + ``revised`` + ``unchanged`` + ``rejected`` = records."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    new: int = 0
    revised: list[Revision] = Field(default_factory=list)
    unchanged: int = 0
    rejected: list[Rejection] = Field(default_factory=list)
    first_seq: int | None = None  # the events this batch appended
    last_seq: int | None = None
    first_id: int | None = None  # the observations it appended (consecutive ids)
    last_id: int | None = None
    run: CollectionRun | None = None  # the run, when the ingest also finished it

    @property
    def changed(self) -> int:
        return self.new + len(self.revised)


class IngestLog(Frozen):
    """One ingest call as recorded: counts, the payload it came from, the figures and events it made."""

    id: int
    source: str
    run_id: int | None
    payload_digest: str | None
    at: datetime
    records: int
    new: int
    revised: int
    unchanged: int
    rejected: int
    first_id: int | None
    last_id: int | None
    first_seq: int | None
    last_seq: int | None


# --- runs, alerts, audit, events -------------------------------------------------------------


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"


class RunOutcome(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"  # fetched and stored, nothing rejected
    PARTIAL = "partial"  # stored what was valid, some records rejected
    FAILED = "failed"  # nothing stored: fetch or payload failed
    SKIPPED = "skipped"  # not attempted (circuit open, already running)
    INTERRUPTED = "interrupted"  # cut off by shutdown or a crash


class RunResult(Frozen):
    """What a run did: the part of the run record written when it ends. The record is defined here
    once: the table's columns, the row readers and the ``UPDATE`` that ends a run are derived from
    these models (storage/rows.py, storage/writes.py); the feed's ``RunInfo`` is checked against
    them by a test, as is the ``runs`` table."""

    fetched: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: int = 0
    error: str | None = None
    latency_ms: float | None = None
    bytes: int | None = None
    http_status: int | None = None


class CollectionRun(RunResult):
    id: int
    source: str
    trigger: RunTrigger
    requested_by: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: RunOutcome


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertParams(Frozen):
    """What an alert is about, as typed values (the feed sends them as ``AlertInfo.params``)."""

    source: str | None = None
    agency: str | None = None
    indicator: str | None = None
    area: str | None = None
    period: str | None = None
    value: float | None = None  # the figure now (a revision's new value)
    previous_value: float | None = None  # the figure before
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


class Alert(Frozen):
    id: int
    rule: str
    subject: str
    severity: Severity
    state: AlertState
    message: NFCStr  # Vietnamese, for people: never a raw URL or exception text (that goes to ``detail``)
    params: AlertParams = AlertParams()
    message_en: str | None = None  # the same in English (both from wording/alerts.py); None: kept before it
    detail: str | None = None
    opened_at: datetime
    fired_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    ack_note: str | None = None
    resolved_at: datetime | None = None
    updated_at: datetime
    inhibited_by: int | None = None  # muted by this firing alert (a source that is down mutes its late reports)
    silenced_by: int | None = None  # muted by this silence


class SilenceMatch(Frozen):
    """What a silence mutes: open alerts whose rule, subject and params equal every matcher given."""

    rule: str | None = None
    subject: str | None = None
    source: str | None = None
    agency: str | None = None
    area: str | None = None
    indicator: str | None = None

    def matches(self, alert: Alert) -> bool:
        for name, want in self.model_dump(exclude_none=True).items():
            have = getattr(alert, name) if name in ("rule", "subject") else getattr(alert.params, name)
            if have != want:
                return False
        return True


class Silence(Frozen):
    id: int
    match: SilenceMatch
    comment: str
    created_by: str
    created_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None  # expired (then equal to ends_at) or removed
    ended_by: str | None = None  # who removed it (None: it expired)


class AuditEntry(Frozen):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class EventType(StrEnum):
    OBSERVATION = "observation"  # a new or revised figure (payload: the observation)
    RUN_STARTED = "run.started"
    RUN_FINISHED = "run.finished"
    ALERT = "alert"  # an alert changed state


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log, as read back: a plain dataclass, not a pydantic model, for the
    reason Revision is one (the feed reads every event, a history pull's hundreds of thousands of
    them, straight from trusted rows; building a model each cost more than the read)."""

    seq: int
    epoch: str
    type: EventType
    at: datetime
    payload: dict[str, Any]


IngestResult.model_rebuild()  # it names CollectionRun, defined after it
