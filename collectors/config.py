"""The collectors' part of the configuration: sources, their schedules, and fault-tolerance limits."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, HttpUrl, field_validator, model_validator

from storage.settings import Duration, Section

SourceName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")]


class SourceKind(StrEnum):
    AGENCY_JSON = "agency-json"  # our reporting API (docs/agency-json.md)
    SDMX = "sdmx"  # SDMX-ML 2.1 or SDMX-CSV 2.0 data messages
    PORTAL = "portal"  # the public service portal's live counters


class SdmxFormat(StrEnum):
    ML = "sdmx-ml"
    CSV = "sdmx-csv"


class SdmxMapping(Section):
    """How an SDMX series key becomes our indicator and area."""

    indicator_dimension: str = "INDICATOR"
    area_dimension: str = "REF_AREA"
    indicators: dict[str, str] = Field(default_factory=dict, description="SDMX code -> our indicator code")
    areas: dict[str, str] = Field(default_factory=dict, description="SDMX code -> our area code (default: same)")


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

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(v)
            except ValueError as exc:
                raise ValueError(f"invalid crontab expression {v!r}: {exc}") from None
        return v

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
