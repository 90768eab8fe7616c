"""Each source on its own schedule (APScheduler 3): an interval or a crontab, with jitter; never
two runs of one source at once; misfires coalesced into one run.

Stopping is in two steps, because APScheduler's own ``shutdown`` (wait or not) cancels the jobs
running on the event loop at once (``AsyncIOExecutor.shutdown`` cancels every pending future):
``pause`` first, so no new run starts while the collector gives the runs in flight their grace,
then ``stop`` once they are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collectors.config import SourceSettings
from collectors.pipeline import Collector
from collectors.renewal import Renewal
from storage import RunTrigger
from storage.clock import utcnow
from storage.repos.leases import RULES, LeaseNotHeld, Leases
from storage.writes import StoreError, StoreUnavailable

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
        except LeaseNotHeld:  # another collector process's source (its own schedule runs it)
            log.debug("scheduled run of %s skipped: its lease is another process's", name)
        except StoreUnavailable as exc:  # the store alerts and turns not-ready; one line here is enough
            log.warning("scheduled run of %s not started: %s", name, exc)
        except asyncio.CancelledError:  # the end of the job's own task: the run recorded how it ended
            log.info("scheduled run of %s cancelled at shutdown", name)
        finally:
            if task is not None:
                self._jobs.discard(task)

    def run_soon(self, name: str) -> None:
        """Run ``name`` now rather than at its next time (a source this process has just taken over)."""
        job = self._scheduler.get_job(name)
        if job is not None and self._scheduler.running:
            job.modify(next_run_time=utcnow())

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


class LeaseKeeper:
    """A collector process among several (``serve --role collector``): its leases (storage/repos/leases.py).

    Every ttl/3 one pass renews what it holds and takes or gives back sources to keep its fair share;
    the collector runs only what it holds (``Collector.holds``), a source just taken is run at once
    (its previous holder may have died mid-run), and ``on_rules`` is told when this process gains or
    loses ``__rules__`` (the alert and rules timers run in one process only). In its first lease
    period a process takes one source per pass, so that peers starting beside it are seen (they
    count as live from their first pass) before it takes everything. If the database cannot be
    reached for longer than a lease, it lets go of everything: the others may have taken over.
    """

    def __init__(
        self,
        leases: Leases,
        collector: Collector,
        scheduler: Scheduler | None = None,
        *,
        on_rules: Callable[[bool], None] | None = None,
    ) -> None:
        self.leases = leases
        self.collector = collector
        self.scheduler = scheduler
        self.on_rules = on_rules
        self.held: set[str] = set()
        self._born = time.monotonic()
        self._last_ok = self._born
        self._renewal = Renewal(
            self.tick, lambda: self.ttl / 3, name="opscentre-leases", log=log, failed="lease pass failed"
        )

    @property
    def ttl(self) -> float:
        return self.leases.ttl.total_seconds()

    def holds(self, name: str) -> bool:
        return name in self.held

    async def tick(self) -> None:
        """One pass: renew, balance, take over."""
        warming = time.monotonic() - self._born < self.ttl
        names = [s.name for s in self.collector.sources.values() if s.enabled]
        try:
            got = await self.leases.balance(names, self.collector.busy(), most_new=1 if warming else None)
        except StoreError as exc:  # StoreUnavailable included: the database cannot be reached now
            log.warning("leases not renewed: %s", exc)
            if time.monotonic() - self._last_ok > self.ttl and self.held:
                log.warning(
                    "leases not renewed for longer than a lease: letting go of %s", ", ".join(sorted(self.held))
                )
                self._set(set())
            return
        self._last_ok = time.monotonic()
        for run in got.interrupted:
            log.warning(
                "run #%s of %s was left running by a collector process that is gone: interrupted", run.id, run.source
            )
        if got.gained - {RULES}:
            log.info("took the leases of %s", ", ".join(sorted(got.gained - {RULES})))
        if got.released:
            log.info(
                "gave back the leases of %s (%d collector processes share the sources)",
                ", ".join(sorted(got.released)),
                got.live,
            )
        self._set(got.held)
        if self.scheduler is not None:
            for name in sorted(got.gained - {RULES}):
                self.scheduler.run_soon(name)

    def _set(self, held: set[str]) -> None:
        had_rules, self.held = RULES in self.held, set(held)
        if self.on_rules is not None and had_rules != (RULES in self.held):
            self.on_rules(RULES in self.held)

    def start(self) -> None:
        self._renewal.start()

    async def stop(self) -> None:
        """Stop renewing and give every lease back (call once the runs in flight are done)."""
        await self._renewal.stop()
        self._set(set())
        with contextlib.suppress(StoreError):
            await self.leases.release_all()


def _spread(name: str) -> float:
    """A stable fraction in [0, 1) per source, so restarts do not stampede every upstream at once."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") / 2**32
