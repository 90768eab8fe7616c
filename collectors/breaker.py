"""A circuit breaker per source: a dead upstream is probed now and then, not hammered.

closed --(N failed runs in a row)--> open --(reset time passes)--> half-open: one probe run
--success--> closed, --failure--> open again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class CircuitBreaker:
    failures_to_open: int
    reset_after: float  # seconds
    clock: Callable[[], float] = field(default=time.monotonic)
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # in a row
    opened_at: float | None = None
    _probing: bool = False

    def allow(self) -> bool:
        """May a run go ahead now? In half-open state, only one probe at a time."""
        if self.state is BreakerState.OPEN:
            assert self.opened_at is not None
            if self.clock() - self.opened_at < self.reset_after:
                return False
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    def seconds_until_probe(self) -> float:
        if self.state is not BreakerState.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_after - (self.clock() - self.opened_at))

    def record_success(self) -> None:
        self.state, self.failures, self.opened_at, self._probing = BreakerState.CLOSED, 0, None, False

    def record_failure(self) -> None:
        self.failures += 1
        self._probing = False
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failures_to_open:
            self.state, self.opened_at = BreakerState.OPEN, self.clock()

    def release(self) -> None:
        """A probe that ended without a verdict (cancelled): let the next one try."""
        self._probing = False
