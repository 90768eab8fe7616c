"""The agency reporting API (docs/agency-json.md, section 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from collectors.config import SourceSettings
from collectors.sources.base import Fetched, Parsed, PayloadError, describe, load_json, validate_records
from storage.models import ObservationIn, UpstreamTime

FORMAT = "opscentre.agency-observations/1"


class AgencyRecord(ObservationIn):
    """One record as the agency API gives it: an observation with the agency's two times.

    ``updated_at``: when the agency published this value. ``published_at``: when it first published
    the figure (its first version, earlier than ``updated_at`` once revised). The figure's
    publication time, by the agency's clock, is ``published_at``, else ``updated_at``: for a figure
    the centre saw come out they are the same; for one revised before the centre first pulled it,
    only ``published_at`` says when it was reported. Each must be a time with its zone, or the
    record is rejected with the reason."""

    updated_at: UpstreamTime | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _publication(self) -> Self:
        if self.updated_at is None:
            return self
        if self.published_at is None:
            self.published_at = self.updated_at
        elif self.published_at > self.updated_at:
            raise ValueError(
                f"published_at {iso(self.published_at)} is after updated_at {iso(self.updated_at)}: "
                "a figure is first published before any update of it"
            )
        return self


class Envelope(BaseModel):
    """The response around the records; the records themselves are checked one by one."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["opscentre.agency-observations/1"]
    agency: str | None = None
    generated_at: AwareDatetime | None = None
    next_updated_after: AwareDatetime | None = None
    next: str | None = None
    observations: list[Any]


def with_query(url: str, **params: str | None) -> str:
    """``url`` with ``params`` set (None removes one), other query parameters kept."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in params.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def iso(moment: datetime) -> str:
    """An aware time as UTC ISO 8601 text with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class AgencyJsonAdapter:
    accepted_statuses: frozenset[int] = frozenset()

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings

    def first_url(self, cursor: str | None) -> str:
        return with_query(str(self.settings.url), updated_after=cursor)

    def parse(self, fetched: Fetched) -> Parsed:
        data = load_json(fetched.body)
        if not isinstance(data, dict):
            raise PayloadError(f"expected a JSON object with format {FORMAT!r}, got {type(data).__name__}")
        try:
            envelope = Envelope.model_validate(data)
        except ValidationError as exc:
            raise PayloadError(f"not an {FORMAT} response: {describe(exc)}") from None
        raw = envelope.observations
        records, rejected = validate_records(raw, model=AgencyRecord)
        positions = None
        if rejected:
            bad = {r.index for r in rejected}
            positions = [i for i in range(len(raw)) if i not in bad]
        return Parsed(
            records=records,
            rejected=rejected,
            next_url=envelope.next,
            cursor=iso(envelope.next_updated_after) if envelope.next_updated_after else None,
            positions=positions,
        )
