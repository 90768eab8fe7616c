"""Settings types shared by every layer's part of the configuration file."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import psycopg
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from wording import durations


def parse_duration(value: object) -> timedelta:
    """A configured duration: text (``wording.durations``: ``"500ms"``, ``"30s"``, ``"2h"``, ...) or a
    number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '15m' or '2h'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        try:
            return durations.parse_duration(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a duration: expected a number of seconds or text such as {durations.FORMS}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Section(BaseModel):
    """A part of the configuration file: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(value: object) -> object:
    """A PostgreSQL URL ``postgresql://user:password@host:port/dbname``, or a clear error."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected a PostgreSQL URL such as 'postgresql://user:password@host:5432/opscentre'")
    try:
        parts = psycopg.conninfo.conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"not a valid PostgreSQL URL: {exc}") from None
    if not parts.get("dbname"):
        raise ValueError("the PostgreSQL URL names no database: add '/dbname' after the host")
    return value


class DatabaseSettings(Section):
    path: str = Field(default="opscentre.db", min_length=1, description="SQLite file (created on first start)")
    url: Annotated[str | None, BeforeValidator(_check_url)] = Field(
        default=None, description="PostgreSQL URL (postgresql://...): the store on PostgreSQL instead of a file"
    )
    keep_events: Duration = Field(default=timedelta(days=7), description="event log kept for resuming clients")

    @model_validator(mode="after")
    def _one_engine(self) -> DatabaseSettings:
        if self.url is not None and "path" in self.model_fields_set:
            raise ValueError("give either [database] path (SQLite) or url (PostgreSQL), not both")
        return self

    @property
    def target(self) -> str:
        """What ``Store.open`` takes: the URL when one is given, else the SQLite file."""
        return self.url or self.path
