"""Each source on its own schedule (APScheduler 3): an interval or a crontab, with jitter; never
two runs of one source at once; misfires coalesced into one run.

Stopping is in two steps, because APScheduler's own ``shutdown`` (wait or not) cancels the jobs
running on the event loop at once (``AsyncIOExecutor.shutdown`` cancels every pending future):
``pause`` first, so no new run starts while the collector gives the runs in flight their grace,
then ``stop`` once they are done.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collectors.config import SourceSettings
from collectors.pipeline import Collector
from storage import RunTrigger
from storage.clock import utcnow
from storage.writes import StoreUnavailable

log = logging.getLogger(__name__)


def trigger_for(source: SourceSettings) -> BaseTrigger:
    jitter = int(source.jitter.total_seconds()) or None
    if source.cron is not None:
        trigger = CronTrigger.from_crontab(source.cron, timezone="UTC")  # (it takes no jitter argument)
        trigger.jitter = jitter
        return trigger
    assert source.every is not None
    return IntervalTrigger(seconds=source.every.total_seconds(), timezone="UTC", jitter=jitter)


class Scheduler:
    """Runs ``collector.run(name)`` for every enabled source on its trigger."""

    def __init__(self, collector: Collector, *, run_at_start: bool = True) -> None:
        self.collector = collector
        self.run_at_start = run_at_start
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._jobs: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        now = utcnow()
        for source in self.collector.sources.values():
            if not source.enabled:
                continue
            extra = {}
            if self.run_at_start and source.every is not None:
                # Fill the centre at start; spread the first runs over the jitter window. (Passing
                # next_run_time=None would add the job paused, hence the dict.)
                spread = min(source.jitter.total_seconds(), 5.0) * _spread(source.name)
                extra["next_run_time"] = now + timedelta(seconds=spread)
            self._scheduler.add_job(
                self._job,
                trigger_for(source),
                args=[source.name],
                id=source.name,
                name=f"collect {source.name}",
                max_instances=1,  # with the collector's lock per source: never two at once
                coalesce=True,  # missed runs while busy or asleep become one
                misfire_grace_time=max(1, int(source.every.total_seconds()) if source.every else 60),
                replace_existing=True,
                **extra,
            )
        self._scheduler.start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def next_runs(self) -> dict[str, str | None]:
        return {
            job.id: job.next_run_time.isoformat() if job.next_run_time else None for job in self._scheduler.get_jobs()
        }

    def next_run(self, name: str) -> datetime | None:
        """When ``name`` runs next on its schedule (None: not scheduled, or paused)."""
        job = self._scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    async def _job(self, name: str) -> None:
        """One scheduled run. Whatever happens is in the run's record (or the store's alert), so
        nothing reaches APScheduler, which would log it with a traceback."""
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            await self.collector.run(name, RunTrigger.SCHEDULE)
        except StoreUnavailable as exc:  # the store alerts and turns not-ready; one line here is enough
            log.warning("scheduled run of %s not started: %s", name, exc)
        except asyncio.CancelledError:  # the end of the job's own task: the run recorded how it ended
            log.info("scheduled run of %s cancelled at shutdown", name)
        finally:
            if task is not None:
                self._jobs.discard(task)

    def pause(self) -> None:
        """Start no new runs (runs in flight go on)."""
        if self._scheduler.running:
            self._scheduler.pause()

    async def stop(self, timeout: float = 10) -> None:
        """Stop the scheduler once its jobs are done (call after the collector's shutdown, which
        gave them their grace); jobs still going after ``timeout`` are cancelled."""
        self.pause()
        jobs = {t for t in self._jobs if not t.done()}
        if jobs:
            await asyncio.wait(jobs, timeout=timeout)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        jobs = {t for t in self._jobs if not t.done()}
        if jobs:
            await asyncio.wait(jobs, timeout=timeout)

    def shutdown(self) -> None:
        """Stop at once, cancelling jobs in flight (``stop`` is the clean way)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


def _spread(name: str) -> float:
    """A stable fraction in [0, 1) per source, so restarts do not stampede every upstream at once."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") / 2**32
