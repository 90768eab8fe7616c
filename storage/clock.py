"""UTC timestamps as the store writes them: fixed-width ISO 8601 text that sorts as it reads.

Every "now" of the store and of the alert rules comes from ``utcnow()``, so a test can put the whole
process on a clock it controls (``use_clock(ManualClock(...))``): alerts held for their ``for``, a
report past its due date or a silence that expires are then tested without waiting on the wall clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta


def _system() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _system


def utcnow() -> datetime:
    return _clock()


class ManualClock:
    """A clock that moves only when told to (thread-safe: the store's writer thread reads it too)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a ManualClock needs a time zone")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, by: timedelta) -> datetime:
        if by < timedelta(0):
            raise ValueError("a clock is not moved back")
        with self._lock:
            self._now += by
            return self._now


@contextmanager
def use_clock(clock: Callable[[], datetime]) -> Iterator[Callable[[], datetime]]:
    """Within the block, ``utcnow()`` is ``clock()`` in every thread of this process."""
    global _clock
    before, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = before


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
