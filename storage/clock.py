"""UTC timestamps as the store writes them: fixed-width ISO 8601 text that sorts as it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse_moment(text: str) -> datetime:
    """A user-given time: a date (end of that day, UTC) or an ISO 8601 time (UTC unless a zone is given)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: expected a date 'YYYY-MM-DD' or a time 'YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]'"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
