"""The public service portal's live counters (docs/agency-json.md, section 3)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from collectors.config import SourceSettings
from collectors.sources.base import Fetched, Parsed, PayloadError, describe, load_json, validate_records
from storage.models import NATION
from wording.periods import Period


class Counters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["opscentre.portal-counters/1"]
    as_of: AwareDatetime
    counters: dict[str, Any]
    by_area: dict[str, dict[str, Any]] = {}


class PortalAdapter:
    accepted_statuses: frozenset[int] = frozenset()

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings

    def first_url(self, cursor: str | None) -> str:
        return str(self.settings.url)  # counters are always read whole

    def parse(self, fetched: Fetched) -> Parsed:
        try:
            data = Counters.model_validate(load_json(fetched.body))
        except ValidationError as exc:
            raise PayloadError(f"not an opscentre.portal-counters/1 response: {describe(exc)}") from None
        period = str(Period.at(data.as_of))
        raw: list[dict[str, Any]] = [
            {"indicator": code, "area": NATION, "period": period, "value": value}
            for code, value in data.counters.items()
        ]
        for area, counters in data.by_area.items():
            raw += [{"indicator": code, "area": area, "period": period, "value": v} for code, v in counters.items()]
        records, rejected = validate_records(raw)
        return Parsed(records=records, rejected=rejected)
