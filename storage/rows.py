"""Rows of the store's tables as domain models (shared by the reads and the writes)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter

from storage.clock import from_text
from storage.models import (
    Alert,
    AlertParams,
    AlertState,
    Area,
    CollectionRun,
    Indicator,
    Observation,
    ObservationStatus,
    Severity,
)

OPEN_START, OPEN_END = "0001-01-01", "9999-12-31"

# The run record's columns: the model's fields, in its order (storage/models.py, ``CollectionRun``).
RUN_FIELDS = tuple(CollectionRun.model_fields)
RUN_COLUMNS = ", ".join(RUN_FIELDS)
ALERT_COLUMNS = (
    "id, rule, subject, severity, state, message, opened_at, fired_at, acknowledged_at, acknowledged_by, "
    "ack_note, resolved_at, updated_at, params, detail, inhibited_by, silenced_by, message_en"
)


def open_date(text: str | None, open_value: str) -> date | None:
    return None if text is None or text == open_value else date.fromisoformat(text)


def opt_time(text: str | None) -> datetime | None:
    return from_text(text) if text else None


def run_from_row(r: Sequence[Any]) -> CollectionRun:
    return CollectionRun.model_validate(dict(zip(RUN_FIELDS, r, strict=True)))


def alert_from_row(r: Sequence[Any]) -> Alert:
    return Alert(
        id=r[0], rule=r[1], subject=r[2], severity=Severity(r[3]), state=AlertState(r[4]), message=r[5],
        opened_at=from_text(r[6]), fired_at=opt_time(r[7]), acknowledged_at=opt_time(r[8]),
        acknowledged_by=r[9], ack_note=r[10], resolved_at=opt_time(r[11]), updated_at=from_text(r[12]),
        params=AlertParams.model_validate_json(r[13] or "{}"), detail=r[14], inhibited_by=r[15], silenced_by=r[16],
        message_en=r[17],
    )  # fmt: skip


def area_from_row(r: Sequence[Any]) -> Area:
    return Area(
        code=r[0], name_vi=r[1], kind=r[2], valid_from=open_date(r[3], OPEN_START),
        valid_to=open_date(r[4], OPEN_END), successor_code=r[5],
    )  # fmt: skip


def indicator_from_row(r: Sequence[Any]) -> Indicator:
    return Indicator(
        code=r[0], name_vi=r[1], name_en=r[2], unit=r[3], frequency=r[4], category=r[5], owner=r[6],
        level=r[7], kind=r[8], formula=r[9], magnitude=r[10],
    )  # fmt: skip


# An observation as the models see it, read from ``observations o``.
OBS_SELECT = (
    "o.id, o.indicator, o.area, o.period, o.source, o.revision, o.value, o.status, o.collected_at, o.run_id, "
    "(SELECT digest FROM raw_payloads WHERE id = o.payload_id), o.published_at"
)
_OBSERVATION_FIELDS = (
    "id", "indicator", "area", "period", "source", "revision", "value", "status", "collected_at", "run_id",
    "payload_digest", "published_at",
)  # fmt: skip
OBS_COLUMNS = len(_OBSERVATION_FIELDS)


def observation_from_row(r: Sequence[Any]) -> Observation:
    return Observation.model_validate(dict(zip(_OBSERVATION_FIELDS, r, strict=True)))


_MOMENT_JSON = TypeAdapter(datetime)


@functools.lru_cache(maxsize=4096)
def _moment_json(stored: str | datetime) -> Any:
    """A stored time (SQLite's text, PostgreSQL's timestamptz) as the models write it in JSON; the
    figures of a batch share one, hence the cache."""
    return _MOMENT_JSON.dump_python(from_text(stored) if isinstance(stored, str) else stored, mode="json")


def observation_payload(r: Sequence[Any]) -> dict[str, Any]:
    """``observation_from_row(r).model_dump(mode="json")``, built straight from our own row, without
    the model: the feed reads every event this way, and a history pull is hundreds of thousands of
    them (this and Event as a dataclass took the demo's pull from 26.0 to 21.5 CPU-s). Held equal
    to the model's JSON by a test."""
    oid, indicator, area, period, source, revision, value, status, collected_at, run_id, digest, published = r
    return {
        "id": oid,
        "indicator": indicator,
        "area": area,
        "period": period,
        "source": source,
        "value": float(value),
        "status": ObservationStatus(status).value,
        "revision": revision,
        "collected_at": _moment_json(collected_at),
        "run_id": run_id,
        "payload_digest": digest,
        "published_at": None if published is None else _moment_json(published),
    }
