"""The leaders' briefing on a schedule (``[briefing]``, issue 19): the serving process that runs the
timers (``serve`` alone, or the collector process holding the ``__rules__`` lease) makes it at the
configured crontab, for the last whole period before that moment, in each configured language and
format, and keeps each in the store (``store.briefings``, ``made_by = "schedule"``), where the feed
lists it and serves its download. A briefing that cannot be made is logged and raises the
``briefing.failed`` alert (subject ``briefing/PERIOD``), resolved by the next making of that period
that succeeds. The scheduler is the collectors' (APScheduler 3), on a job of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from cli.config import BRIEFING_PERIODS, BriefingSettings
from collectors.config import RulesSettings
from storage import Period, Severity, Store
from storage.clock import utcnow
from storage.models import AlertParams
from storage.repos.briefings import SCHEDULE, Briefing, MadeBriefing

log = logging.getLogger(__name__)

RULE = "briefing.failed"
# The generator: ``briefing.make(store, *, period, as_of, lang, fmt, indicators, rules) -> Made``.
Make = Callable[..., Awaitable[MadeBriefing]]


def covered_period(settings: BriefingSettings, at: datetime) -> str:
    """The last whole period of the configured kind before ``at`` ("previous month" on 2026-12-01: 2026-11)."""
    frequency = BRIEFING_PERIODS[settings.period]
    current = Period.containing(at, frequency)
    return str(Period.containing(current.start_date - timedelta(days=1), frequency))


def generator() -> Make:
    """The briefing generator (``briefing/``), imported when first used."""
    from briefing import make

    made: Make = make
    return made


class BriefingSchedule:
    """Makes and keeps the configured briefings at each time of ``settings.cron``; ``run`` is the job."""

    def __init__(
        self, store: Store, settings: BriefingSettings, rules: RulesSettings, make: Make | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.rules = rules
        self._make = make
        self._scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.run,
            CronTrigger.from_crontab(self.settings.cron, timezone="UTC"),
            id="briefing",
            name="make the briefing",
            max_instances=1,
            coalesce=True,  # missed times (the process was down or asleep) become one making
            misfire_grace_time=3600,
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None

    def next_run(self) -> datetime | None:
        job = self._scheduler.get_job("briefing") if self._scheduler is not None else None
        return job.next_run_time if job is not None else None

    async def run(self, at: datetime | None = None) -> list[Briefing]:
        """Make and keep every configured language and format for the period before ``at`` (default:
        now), as known at ``at``. Returns those kept; a failure is logged and alerted, never raised
        (it would reach APScheduler, which logs it without the alert)."""
        at = (at or utcnow()).replace(microsecond=0)
        period = covered_period(self.settings, at)
        kept: list[Briefing] = []
        failed: list[str] = []
        for lang in self.settings.langs:
            for fmt in self.settings.formats:
                try:
                    make = self._make or generator()
                    made = await make(self.store, **self._arguments(period, at, lang, fmt))
                    kept.append(await self.store.briefings.keep(made, SCHEDULE))
                except Exception as exc:
                    log.exception("the scheduled briefing for %s (%s, %s) could not be made", period, lang, fmt)
                    failed.append(f"{lang} {fmt}: {type(exc).__name__}: {exc}")
        for b in kept:
            log.info("kept briefing %d: %s, %s, %s, as of %s (%d bytes)", b.id, b.period, b.lang, b.format, at, b.size)
        await self._tell(period, failed)
        return kept

    def _arguments(self, period: str, at: datetime, lang: str, fmt: str) -> dict[str, Any]:
        indicators: Sequence[str] | None = self.settings.indicators or None
        return {"period": period, "as_of": at, "lang": lang, "fmt": fmt, "indicators": indicators, "rules": self.rules}

    async def _tell(self, period: str, failed: list[str]) -> None:
        subject = f"briefing/{period}"
        try:
            if failed:
                await self.store.alerts.fire(
                    RULE, subject, Severity.WARNING, params=AlertParams(period=period), detail="; ".join(failed)[:2000]
                )
            else:
                await self.store.alerts.resolve(RULE, subject)
        except Exception:  # the store cannot be written: its own alert says so
            log.exception("the briefing's alert for %s could not be written", period)
