"""The records both directions share: the subscription's filter, and the figures, alerts and runs
the server sends in snapshots, deltas and answers. Every protocol model derives from ``Message``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


class Figure(Message):
    """What every figure sent carries: its key, its value and its provenance."""

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


class Change(Figure):
    """The latest figure of one series (indicator, area, source)."""

    previous_value: float | None = None  # set when this is a revision
    previous_status: str | None = None


class ObservationInfo(Figure):
    """One stored figure: a revision of (indicator, area, period, source), with its provenance."""

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
