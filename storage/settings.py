"""Settings types shared by every layer's part of the configuration file."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"(?P<n>[0-9]+(\.[0-9]+)?)\s*(?P<u>ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """``"500ms"``, ``"30s"``, ``"15m"``, ``"2h"``, ``"1d"``, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '15m' or '2h'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        return timedelta(seconds=float(m["n"]) * _UNIT[m["u"]])
    raise ValueError(
        f"{value!r} is not a duration: expected a number of seconds or text such as '500ms', '30s', '15m', '2h'"
    )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Section(BaseModel):
    """A part of the configuration file: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    path: str = Field(default="opscentre.db", min_length=1, description="SQLite file (created on first start)")
    keep_events: Duration = Field(default=timedelta(days=7), description="event log kept for resuming clients")
