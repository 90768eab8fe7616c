"""The first pull's progress, for `serve` and `demo`.

A new database fills with the history of every source (about 360,000 figures in the demo, tens
of seconds) before the wall shows anything much. Until each scheduled source has finished one
run, a line every few seconds says how far it has got; one last line says it is done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from collectors.pipeline import Collector
from storage import CollectionRun, RunOutcome
from wording import number

Say = Callable[[str], object]


class FirstPull:
    """Counts each enabled source's first finished run; prints progress until all have one."""

    def __init__(self, collector: Collector, say: Say, *, every: float = 5.0) -> None:
        self.say = say
        self.every = every
        self.waiting = {name for name, s in collector.sources.items() if s.enabled}
        self.total = len(self.waiting)
        self.failed = 0
        self.figures = 0
        self.started = time.monotonic()
        self._ticker: asyncio.Task[None] | None = None
        collector.on_run_finished.append(self._finished)

    @classmethod
    def watch(cls, collector: Collector | None, say: Say, *, every: float = 5.0) -> FirstPull:
        """Attach to ``collector`` and start the periodic line (call before any run can finish)."""
        assert collector is not None, "the service is started"
        pull = cls(collector, say, every=every)
        if pull.total:
            say(pull.line())
            pull._ticker = asyncio.create_task(pull._tick(), name="first-pull-progress")
        return pull

    @property
    def done(self) -> int:
        return self.total - len(self.waiting)

    def line(self) -> str:
        failed = f" ({self.failed} failed)" if self.failed else ""
        return (
            f"first pull: {self.done} of {self.total} sources done{failed}, {number(self.figures, 'en')} figures stored"
        )

    def _finished(self, run: CollectionRun) -> None:
        if run.source not in self.waiting:
            return  # a later run of a source already counted (the portal runs every few seconds)
        self.waiting.discard(run.source)
        self.figures += run.new + run.revised
        if run.outcome in (RunOutcome.FAILED, RunOutcome.INTERRUPTED):
            self.failed += 1
        if not self.waiting:
            self.close()
            took = time.monotonic() - self.started
            self.say(f"{self.line().replace('first pull:', 'first pull done:', 1)} in {took:.0f}s")

    async def _tick(self) -> None:
        while self.waiting:
            await asyncio.sleep(self.every)
            if self.waiting:
                self.say(self.line())

    def close(self) -> None:
        """Stop the periodic line (at shutdown, or when every source has run)."""
        if self._ticker is not None and self._ticker is not asyncio.current_task():
            self._ticker.cancel()
        self._ticker = None
