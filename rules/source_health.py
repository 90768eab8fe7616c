"""Collector health and stale data: a source that is down, data not refreshed, a counter going down.

- ``source.down`` (subject: the source): its circuit breaker opened, so it is not polled until the
  breaker's reset. Critical. Resolved by the source's next good run.
- ``data.stale`` (subject: the source): no successful run for ``[rules] stale_intervals`` × the
  source's interval, whatever the reason (failing, the scheduler stuck, never a good run since the
  centre started watching). Warning, evaluated on the rules' timer pass; resolved by a good run.
  A source that is failing or down mutes it (``storage.alerting.DEFAULT_INHIBITIONS``).
- ``counter.decreased`` (subject: ``"{indicator}/{area}"``): a portal counter (a cumulative count)
  whose newest reading is below the one before. Warning. Resolved once the counter is back at or
  above the value it fell below.

Messages are Vietnamese for operators; ``params`` carry the facts for clients to word them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from collectors.breaker import CircuitBreaker
from collectors.config import RulesSettings, SourceSettings
from rules.verdicts import Firing, about_figure, about_source, settle
from storage import AlertParams, CollectionRun, Severity, Store
from storage.clock import from_text, to_text, utcnow

SOURCE_DOWN = "source.down"
DATA_STALE = "data.stale"
COUNTER_DECREASED = "counter.decreased"

GOOD = ("success", "partial")  # run outcomes that delivered figures


def interval_of(source: SourceSettings, now: datetime | None = None) -> timedelta:
    """How often ``source`` is polled: its ``every``, or the gap between its crontab's next two runs."""
    if source.every is not None:
        return source.every
    assert source.cron is not None  # the settings hold exactly one of the two
    trigger = CronTrigger.from_crontab(source.cron, timezone="UTC")
    first = trigger.get_next_fire_time(None, now or utcnow())
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first is not None else None
    if first is None or second is None:  # a crontab that never fires again: treat it as daily
        return timedelta(days=1)
    return second - first


async def last_good(store: Store, source: str) -> datetime | None:
    """When ``source``'s newest good run ended (None: it never had one)."""
    rows = await store.read_rows(
        "SELECT ended_at FROM runs WHERE source = ? AND outcome IN (?, ?) ORDER BY id DESC LIMIT 1", (source, *GOOD)
    )
    return from_text(rows[0][0]) if rows and rows[0][0] else None


async def _first_run(store: Store, source: str) -> datetime | None:
    rows = await store.read_rows("SELECT started_at FROM runs WHERE source = ? ORDER BY id LIMIT 1", (source,))
    return from_text(rows[0][0]) if rows else None


# --- source.down ------------------------------------------------------------------------------------


async def source_down(store: Store, run: CollectionRun, breaker: CircuitBreaker, agency: str | None) -> None:
    """The breaker of ``run.source`` is open: it is not polled until its reset. One critical alert."""
    good = await last_good(store, run.source)
    facts = AlertParams(failures=breaker.failures, last_good=to_text(good) if good is not None else None)
    params = await about_source(store, run.source, agency, facts)
    await settle(store, SOURCE_DOWN, run.source, Firing(Severity.CRITICAL, params, detail=run.error))


async def source_up(store: Store, source: str) -> None:
    """A good run of ``source``: it is neither down nor stale any more."""
    await store.alerts.resolve(SOURCE_DOWN, source)
    await store.alerts.resolve(DATA_STALE, source)


# --- data.stale -------------------------------------------------------------------------------------


async def check_stale(
    store: Store,
    rules: RulesSettings,
    sources: Sequence[SourceSettings],
    now: datetime,
    *,
    watching_since: datetime | None = None,
) -> list[str]:
    """Fire ``data.stale`` for each enabled source without a good run for ``stale_intervals`` of its
    intervals; resolve it for the others. Returns the stale sources' names.

    Only time the centre watched counts (``watching_since``: when the timer pass started; without
    it, the source's first run): a centre started after a night off does not call every source
    stale before it had the chance to poll them, as a report is late only if it falls due while the
    centre watches."""
    stale: list[str] = []
    for source in sources:
        if not source.enabled:
            await store.alerts.resolve(DATA_STALE, source.name)
            continue
        good = await last_good(store, source.name)
        floor = watching_since or await _first_run(store, source.name)
        since = max((t for t in (good, floor) if t is not None), default=None)
        interval = interval_of(source, now)
        if since is None or now - since <= rules.stale_intervals * interval:
            await store.alerts.resolve(DATA_STALE, source.name)
            continue
        stale.append(source.name)
        facts = AlertParams(count=int((now - since) / interval), last_good=to_text(good) if good is not None else None)
        params = await about_source(store, source.name, source.agency, facts)
        await settle(store, DATA_STALE, source.name, Firing(Severity.WARNING, params))
    return stale


# --- counter.decreased ------------------------------------------------------------------------------

# Per counter series the run delivered: its newest reading, and the reading before it (an earlier
# revision of the same period if any, else the newest of the periods before).
_COUNTERS_SQL = """
WITH delivered AS (
    SELECT o.indicator, o.area, o.source, max(o.period) AS period
    FROM observations o JOIN indicators i ON i.code = o.indicator AND i.kind = 'counter'
    WHERE o.id BETWEEN ?1 AND ?2
    GROUP BY o.indicator, o.area, o.source
),
newest AS (
    SELECT d.indicator, d.area, d.source, d.period,
           (SELECT o.id FROM observations o WHERE o.indicator = d.indicator AND o.area = d.area
              AND o.period = d.period AND o.source = d.source ORDER BY o.revision DESC LIMIT 1) AS id
    FROM delivered d
)
SELECT n.indicator, n.area, n.source, n.period, o.value, o.id,
       COALESCE(
           (SELECT s.value FROM observations s WHERE s.id = o.supersedes),
           (SELECT p.value FROM observations p WHERE p.indicator = n.indicator AND p.area = n.area
              AND p.source = n.source AND p.period < n.period ORDER BY p.period DESC, p.revision DESC LIMIT 1)
       ) AS previous
FROM newest n JOIN observations o ON o.id = n.id
"""


async def check_counters(store: Store, run: CollectionRun) -> list[str]:
    """After a good run of a portal source: ``counter.decreased`` for each counter it delivered whose
    newest reading is below the one before; resolved for those back at or above the value they fell
    below. Returns the subjects that fire."""
    logs = await store.observations.ingest_log(run.id, limit=100_000)
    ids = [i for log in logs for i in (log.first_id, log.last_id) if i is not None]
    if not ids:
        return []
    open_rows = await store.read_rows(
        "SELECT subject, params FROM alerts WHERE rule = ? AND state != 'resolved'", (COUNTER_DECREASED,)
    )
    fell_below = {
        subject: p.previous_value
        for subject, text in open_rows
        if (p := AlertParams.model_validate_json(text)).previous_value is not None
    }
    firing: list[str] = []
    for indicator, area, source, period, value, _, previous in await store.read_rows(
        _COUNTERS_SQL, (min(ids), max(ids))
    ):
        subject = f"{indicator}/{area}"
        # While an alert is open, the counter is measured against the value it fell below, not its
        # previous (already low) reading: a counter that dipped and then grows a little is still low.
        before = fell_below.get(subject, previous)
        fell = None
        if before is not None and value < before:
            fell = Firing(
                Severity.WARNING,
                about_figure(indicator, area, period, source, value, AlertParams(previous_value=before)),
            )
        if await settle(store, COUNTER_DECREASED, subject, fell):
            firing.append(subject)
    return firing
