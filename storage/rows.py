"""Rows of the store's tables as domain models (shared by the reads and the writes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from storage.clock import from_text
from storage.models import (
    Alert,
    AlertParams,
    AlertState,
    Area,
    CollectionRun,
    Indicator,
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
