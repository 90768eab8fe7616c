"""A pass repeated every few seconds until stopped, for the keepers of leases (collectors/scheduler.py's
LeaseKeeper, collectors/sole_lease.py's SoleKeeper): a pass that fails is logged and tried again at the
next, since a bug must not stop the renewals silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Renewal:
    def __init__(
        self, tick: Callable[[], Awaitable[object]], every: Callable[[], float], *, name: str,
        log: logging.Logger, failed: str, done: Callable[[], bool] = lambda: False,
    ) -> None:  # fmt: skip
        self._tick, self._every, self._name, self._done = tick, every, name, done
        self._log, self._failed = log, failed
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def _loop(self) -> None:
        while not self._done():
            await asyncio.sleep(self._every())
            try:
                await self._tick()
            except Exception:
                self._log.exception(self._failed)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
