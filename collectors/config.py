"""The collectors' part of the configuration: sources, their schedules, and fault-tolerance limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Self

import httpx
from pydantic import Field, HttpUrl, field_validator, model_validator

from storage.repos.leases import DEFAULT_TTL
from storage.settings import Duration, Section

SourceName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")]


class SourceKind(StrEnum):
    AGENCY_JSON = "agency-json"  # our reporting API (docs/agency-json.md)
    SDMX = "sdmx"  # SDMX-ML 2.1/3.0 or SDMX-CSV 1.0/2.0 data messages (docs/agency-json.md)
    PORTAL = "portal"  # the public service portal's live counters


class SdmxFormat(StrEnum):
    ML = "sdmx-ml"
    CSV = "sdmx-csv"


class StatusMapping(StrEnum):
    """What an SDMX observation status or flag code becomes."""

    OFFICIAL = "official"
    PROVISIONAL = "provisional"
    ESTIMATED = "estimated"
    REJECT = "reject"  # the record is refused, with the code named in the reason


# SDMX CL_OBS_STATUS A, P, E; the mapping's ``statuses`` add to (or override) these.
DEFAULT_STATUSES = {"A": StatusMapping.OFFICIAL, "P": StatusMapping.PROVISIONAL, "E": StatusMapping.ESTIMATED}
# SDMX FREQ codes and the catalogue frequencies they agree with.
SDMX_FREQUENCIES = {"D": "D", "B": "D", "M": "M", "Q": "Q", "A": "Y"}
_REFERENCE = re.compile(
    r"^(?:urn:sdmx:org\.sdmx\.infomodel\.(?:datastructure|registry)\.)?"
    r"(?:(?P<cls>Dataflow|DataStructure|ProvisionAgreement)=)?"
    r"(?P<agency>[A-Za-z0-9_@$\-]+(?:\.[A-Za-z0-9_@$\-]+)*):(?P<id>[A-Za-z0-9_@$\-]+)"
    r"\((?P<version>[0-9A-Za-z.+\-]+)\)$"
)
_PACKAGE = {"Dataflow": "datastructure", "DataStructure": "datastructure", "ProvisionAgreement": "registry"}


@dataclass(frozen=True, slots=True)
class StructureReference:
    """A data flow, data structure or provision agreement: what an SDMX data message's header names."""

    cls: str
    agency: str
    id: str
    version: str

    @classmethod
    def parse(cls, text: str) -> StructureReference:
        """``Dataflow=IT1:22_289(1.0)``, the same as a URN, or ``IT1:22_289(1.0)`` (a data flow)."""
        m = _REFERENCE.match(text.strip())
        if m is None:
            raise ValueError(
                f"{text!r} is not an SDMX structure reference: write CLASS=AGENCY:ID(VERSION), "
                "e.g. 'Dataflow=IT1:22_289(1.0)' (CLASS is Dataflow, DataStructure or ProvisionAgreement), "
                "or its URN"
            )
        return cls(m["cls"] or "Dataflow", m["agency"], m["id"], m["version"])

    def __str__(self) -> str:
        return f"{self.cls}={self.agency}:{self.id}({self.version})"

    def urn(self) -> str:
        return f"urn:sdmx:org.sdmx.infomodel.{_PACKAGE[self.cls]}.{self}"


class SdmxMapping(Section):
    """How an SDMX series key becomes our indicator and area (docs/agency-json.md, section 2)."""

    indicator_dimension: str = "INDICATOR"
    area_dimension: str = "REF_AREA"
    time_dimension: str = Field(default="TIME_PERIOD", min_length=1, description="the dimension holding the period")
    indicator: str | None = Field(
        default=None, min_length=1, description="our indicator for every row (a data flow without that dimension)"
    )
    area: str | None = Field(
        default=None, min_length=1, description="our area for every row (a data flow without that dimension)"
    )
    indicators: dict[str, str] = Field(default_factory=dict, description="SDMX code -> our indicator code")
    areas: dict[str, str] = Field(default_factory=dict, description="SDMX code -> our area code (default: same)")
    filters: dict[str, list[str]] = Field(
        default_factory=dict, description="keep only rows whose component has one of these codes, e.g. EXR_SUFFIX"
    )
    status_attribute: str = Field(default="OBS_STATUS", min_length=1, description="the attribute with the status code")
    statuses: dict[str, StatusMapping] = Field(
        default_factory=dict, description="status or flag code (any case) -> ours; added to A, P, E"
    )
    unknown_status: StatusMapping = Field(
        default=StatusMapping.REJECT, description="what a code not in 'statuses' (nor A, P, E) becomes"
    )
    structure: str | None = Field(
        default=None, description="the data flow the messages carry, for headers that do not name it"
    )

    @field_validator("structure")
    @classmethod
    def _structure(cls, v: str | None) -> str | None:
        return None if v is None else str(StructureReference.parse(v))

    def structure_reference(self) -> StructureReference | None:
        return None if self.structure is None else StructureReference.parse(self.structure)

    @field_validator("filters")
    @classmethod
    def _filters(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for component, codes in v.items():
            if not codes:
                raise ValueError(f"filter {component!r} lists no codes: it would keep nothing")
        return v

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, v: dict[str, StatusMapping]) -> dict[str, StatusMapping]:
        upper = [code.strip().upper() for code in v]
        if "" in upper:
            raise ValueError("an empty status code cannot be mapped (an absent status is a normal figure)")
        twice = sorted({c for c in upper if upper.count(c) > 1})
        if twice:
            raise ValueError(f"codes differ only in case, and codes match in any case: {', '.join(twice)}")
        return v

    def status_table(self) -> dict[str, StatusMapping]:
        """Every mapped code, upper-cased: codes match in any case (Eurostat writes ``p``, others ``P``)."""
        return {**DEFAULT_STATUSES, **{code.strip().upper(): ours for code, ours in self.statuses.items()}}

    def required(self) -> list[str]:
        """The components every data row must have, given the constants."""
        wanted = [
            None if self.indicator else self.indicator_dimension,
            None if self.area else self.area_dimension,
            self.time_dimension,
            "OBS_VALUE",
            *self.filters,
        ]
        return list(dict.fromkeys(w for w in wanted if w))


def check_mapping(key: str, mapping: SdmxMapping, indicators: dict[str, str], areas: set[str]) -> list[str]:
    """Problems of an SDMX mapping against the catalogue, each naming its key.

    ``indicators`` maps each known indicator to its catalogue frequency (D, M, Q, Y or live);
    ``areas`` holds every area code the store knows (the nation, provinces old and new).
    """
    problems: list[str] = []
    ours: dict[str, str] = {f"{key}.indicators.{k}": v for k, v in mapping.indicators.items()}
    if mapping.indicator is not None:
        ours[f"{key}.indicator"] = mapping.indicator
    for where, code in ours.items():
        if code not in indicators:
            problems.append(f"{where}: unknown indicator {code!r}")
    placed = {f"{key}.areas.{k}": v for k, v in mapping.areas.items()}
    if mapping.area is not None:
        placed[f"{key}.area"] = mapping.area
    for where, code in placed.items():
        if code not in areas:
            problems.append(f"{where}: unknown area {code!r} (not in the reference data of provinces and cities)")
    freq = mapping.filters.get("FREQ")
    if freq is not None:
        for code in freq:
            ours_freq = SDMX_FREQUENCIES.get(code)
            if ours_freq is None:
                problems.append(f"{key}.filters.FREQ: {code!r} is not a frequency we keep (A, Q, M, D or B)")
                continue
            for where, indicator in ours.items():
                have = indicators.get(indicator)
                if have is not None and have != ours_freq:
                    problems.append(
                        f"{key}.filters.FREQ: {code!r} contradicts the catalogue: {where} -> {indicator} is {have!r}"
                    )
    return problems


def check_crontab(text: str) -> str:
    """``text`` if APScheduler reads it as a crontab expression (the sources' and the briefing's)."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text)
    except ValueError as exc:
        raise ValueError(f"invalid crontab expression {text!r}: {exc}") from None
    return text


class SourceSettings(Section):
    name: SourceName
    kind: SourceKind
    url: HttpUrl
    agency: str | None = Field(default=None, description="the agency this source speaks for")
    every: Duration | None = Field(default=None, description="poll interval, e.g. '15m'")
    cron: str | None = Field(default=None, description="crontab expression instead of 'every'")
    jitter: Duration = timedelta(0)
    timeout: Duration = timedelta(seconds=10)
    max_bytes: int = Field(default=50_000_000, gt=0, description="payloads larger than this are refused")
    enabled: bool = True
    format: SdmxFormat | None = None
    mapping: SdmxMapping | None = None
    redirect_origins: list[str] = Field(
        default_factory=list,
        description="other origins (scheme://host[:port]) the source may redirect to; its own is always allowed",
    )

    @field_validator("redirect_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for given in v:
            try:
                url = httpx.URL(given)
            except httpx.InvalidURL as exc:
                raise ValueError(f"redirect_origins: {given!r} is not an origin ({exc})") from None
            if url.scheme not in ("http", "https") or not url.host or url.raw_path not in (b"", b"/") or url.query:
                raise ValueError(f"redirect_origins: {given!r} is not an origin: give scheme://host[:port], no path")
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return None if v is None else check_crontab(v)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' (an interval) or 'cron' (a crontab expression)")
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError("'every' must be longer than zero")
        if self.kind is SourceKind.SDMX and self.format is None:
            raise ValueError("an sdmx source needs 'format' ('sdmx-ml' or 'sdmx-csv')")
        if self.kind is not SourceKind.SDMX and (self.format or self.mapping):
            raise ValueError("'format' and 'mapping' apply to sdmx sources only")
        return self


class CollectorSettings(Section):
    max_concurrency: int = Field(default=32, ge=1, le=1024, description="runs fetching at once, all sources")
    max_connections: int = Field(default=64, ge=1, le=4096)
    retries: int = Field(default=3, ge=0, le=10, description="extra attempts on a transient error")
    backoff_initial: Duration = timedelta(seconds=0.5)
    backoff_max: Duration = timedelta(seconds=10)
    breaker_failures: int = Field(default=5, ge=1, description="failed runs in a row that open a source's circuit")
    breaker_reset: Duration = Field(
        default=timedelta(seconds=60), description="how long before an open circuit is probed"
    )
    shutdown_grace: Duration = Field(default=timedelta(seconds=10), description="time in-flight runs get on shutdown")
    lease: Duration = Field(
        default=DEFAULT_TTL,
        ge=timedelta(seconds=1),
        description="serve --role collector: how long a source's lease lasts unrenewed (renewed every third of it)",
    )


# --- the data-quality rules (rules/reporting.py, crosschecks.py, anomalies.py, source_health.py) ----

# Days after a period ends by which its report is due. The simulated agencies publish monthly
# figures by the 22nd of the next month, quarterly ones within ~33 days, yearly ones within ~65.
DEFAULT_DUE_DAYS = {"D": 2, "M": 25, "Q": 35, "Y": 70}


class IndicatorRules(Section):
    """``[rules.indicators.CODE]``: one indicator's own thresholds instead of the defaults."""

    due_days: int | None = Field(default=None, ge=0, le=400, description="days after the period's end")
    tolerance: float | None = Field(default=None, ge=0, description="relative gap allowed between two figures")
    revision_threshold: float | None = Field(default=None, ge=0, description="relative change that is reported")
    # A band of nan or inf would never fire (every comparison with nan is false): refused.
    warning_low: float | None = Field(default=None, allow_inf_nan=False)
    warning_high: float | None = Field(default=None, allow_inf_nan=False)
    critical_low: float | None = Field(default=None, allow_inf_nan=False)
    critical_high: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _bands(self) -> Self:
        # Strictly: a warning limit equal to its critical one would never show as a warning.
        named = ("critical_low", "warning_low", "warning_high", "critical_high")
        given = [(n, v) for n in named if (v := getattr(self, n)) is not None]
        for (n1, v1), (n2, v2) in (given[k - 1 : k + 1] for k in range(1, len(given))):
            if not v1 < v2:
                raise ValueError(
                    "bands must nest: critical_low < warning_low < warning_high < critical_high "
                    f"(got {n1} {v1!r}, {n2} {v2!r})"
                )
        return self


class RulesSettings(Section):
    """``[rules]``: timeliness, cross-checks, revisions, anomalies and stale data (docs/rules.md)."""

    every: Duration = Field(default=timedelta(seconds=60), description="how often the timer pass runs")
    due_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_DUE_DAYS), description="by frequency D, M, Q, Y"
    )
    tolerance: float = Field(default=0.005, ge=0, description="relative gap allowed between two figures")
    revision_threshold: float = Field(default=0.02, ge=0, description="relative change of a figure reported")
    repeated_revisions: int = Field(default=3, ge=2, description="the revision number that counts as repeated")
    outlier_z: float = Field(
        default=5.0, gt=0, allow_inf_nan=False, description="modified z-score of a change that is an outlier"
    )
    outlier_history: int = Field(default=36, ge=6, description="past changes the outlier test looks at")
    stale_intervals: int = Field(default=3, ge=1, description="intervals without a good run before data is stale")
    late_lookback: Duration = Field(
        default=timedelta(0),
        description="reports due this long before the first run are judged late too (the demo sets it)",
    )
    indicators: dict[str, IndicatorRules] = Field(default_factory=dict)

    @field_validator("due_days")
    @classmethod
    def _due(cls, v: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(v) - set(DEFAULT_DUE_DAYS))
        if unknown:
            raise ValueError(f"unknown frequency {', '.join(unknown)}: use D, M, Q or Y")
        if any(d < 0 for d in v.values()):
            raise ValueError("a due date cannot come before the period ends")
        return {**DEFAULT_DUE_DAYS, **v}

    def due(self, indicator: str, frequency: str) -> int:
        own = self.indicators.get(indicator)
        if own is not None and own.due_days is not None:
            return own.due_days
        return self.due_days[frequency]

    def tolerance_of(self, indicator: str) -> float:
        own = self.indicators.get(indicator)
        return own.tolerance if own is not None and own.tolerance is not None else self.tolerance

    def revision_threshold_of(self, indicator: str) -> float:
        own = self.indicators.get(indicator)
        if own is not None and own.revision_threshold is not None:
            return own.revision_threshold
        return self.revision_threshold
