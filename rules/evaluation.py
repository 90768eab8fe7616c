"""The alert life cycle's timer pass, and the rules' pass, run by a serving process beside the collectors.

The store fires pending alerts whose ``for`` has passed, resolves alerts that stayed clear for their
``keep_firing_for`` and ends expired silences (``store.alerts.tick``); none of that waits for a
rule to run again, so it is done on a short timer of its own.

The rules of ``[rules]`` (late reports, cross-checks) run after each successful collection run, on
what the run touched, and on a timer of their own (``[rules] every``) over the whole catalogue: a
report falls due, and so is late, without any run happening. ``RulesState`` keeps the late-report
rule's last full pass between passes, so a run's pass reads again only the indicators it touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.config import RulesSettings, SourceSettings
from rules import anomalies, crosschecks, reporting, revision_watch, source_health
from storage import Indicator, Store, StoreError
from storage.clock import utcnow
from storage.models import Revision

log = logging.getLogger(__name__)

TICK = timedelta(seconds=5)  # how late a silence may end or a pending alert fire, at most
DEFAULT_LAG = timedelta(minutes=5)  # a source polled on a crontab: about how late it may catch up


async def alert_timer(store: Store, every: timedelta = TICK) -> None:
    """Run the timer pass every ``every`` until cancelled; a failed pass is logged and retried."""
    while True:
        try:
            changed = await store.alerts.tick()
        except StoreError as exc:  # the database cannot be written just now: the store says so itself
            log.warning("alert timer pass failed: %s", exc)
        else:
            for alert in changed:
                log.info("alert %d %s %s: %s", alert.id, alert.rule, alert.subject, alert.state.value)
        await asyncio.sleep(every.total_seconds())


def province_sources(sources: Sequence[SourceSettings]) -> set[str] | None:
    """The sources a province's own report comes from: those that speak for no agency.

    None when there are none: then any source's figure of a province counts as its report (a
    centre that collects no province's own system cannot tell them apart)."""
    own = {s.name for s in sources if s.agency is None and s.kind.value != "portal"}
    return own or None


def polling_lag(sources: Sequence[SourceSettings]) -> dict[str, timedelta]:
    """How long each source may lag behind another before a disagreement is real: its interval."""
    return {s.name: s.every if s.every is not None else DEFAULT_LAG for s in sources}


@dataclass(frozen=True)
class SourceFacts:
    """What every pass asks of the configured sources, worked out once for them: whose figures
    are a province's own report, how long each may lag, the agency each speaks for."""

    sources: tuple[SourceSettings, ...]
    own: set[str] | None
    lag: dict[str, timedelta]
    agency: dict[str, str | None]

    @classmethod
    def of(cls, sources: Sequence[SourceSettings]) -> SourceFacts:
        agency = {s.name: s.agency for s in sources}
        return cls(tuple(sources), province_sources(sources), polling_lag(sources), agency)


@dataclass
class RulesState:
    """What the rules keep between passes, owned by the serving process (its ``Collector``, whose
    runs and the rules timer share it): the late-report rule's rows of the last pass, so that a
    run's pass judges again only what the run touched; the facts of the sources, so that a run's
    pass does not work them out again from every source configured."""

    late: reporting.LateReports = field(default_factory=reporting.LateReports)
    facts: SourceFacts | None = None

    def facts_of(self, sources: Sequence[SourceSettings]) -> SourceFacts:
        if self.facts is None or self.facts.sources != tuple(sources):  # the same objects: no field compared
            self.facts = SourceFacts.of(sources)
        return self.facts


async def evaluate_rules(
    store: Store,
    rules: RulesSettings,
    sources: Sequence[SourceSettings],
    *,
    source: str | None = None,
    indicators: Sequence[Indicator] | None = None,
    periods: Mapping[str, list[str]] | None = None,
    watching_since: datetime | None = None,
    revised: Sequence[Revision] = (),
    run_id: int | None = None,
    state: RulesState | None = None,
    areas: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Late reports, then the cross-checks (of ``indicators``/``periods``; default all, newest;
    two sources compared in ``areas``, per indicator: a run's, default every area).

    ``state``: what the serving process keeps between passes; after a run (``source`` and
    ``indicators`` given) the late reports are then judged again for the run's indicators only.
    None: every pass is a full one.

    Never raises: a rule that fails is logged in one line, naming the rule and the source, so a
    collection run's outcome stands whatever a rule does."""
    facts = state.facts_of(sources) if state is not None else SourceFacts.of(sources)
    own = facts.own
    touched = [i.code for i in indicators] if source is not None and indicators is not None else None
    try:
        await reporting.check_late(
            store,
            rules,
            utcnow(),
            province_sources=own,
            state=state.late if state is not None else None,
            touched=touched,
        )
    except Exception as exc:  # a rule's bug must not fail the run or stop the timer
        log.error("rule %s failed (source %s): %r", reporting.REPORT_LATE, source or "timer", exc)
    try:
        await crosschecks.check_all(
            store,
            rules,
            indicators=indicators,
            periods=dict(periods) if periods is not None else None,
            province_sources=own,
            lag=facts.lag,
            after=source or "timer",
            areas=areas,
        )
    except Exception as exc:
        log.error("rule crosscheck failed (source %s): %r", source or "timer", exc)
    agency = facts.agency.get(source) if source is not None else None
    await _revisions_and_anomalies(store, rules, agency, source, indicators, periods, revised, run_id)
    if source is None:  # the timer pass: stale data is the absence of runs, which no run reports
        try:
            await source_health.check_stale(store, rules, sources, utcnow(), watching_since=watching_since)
        except Exception as exc:
            log.error("rule %s failed (source timer): %r", source_health.DATA_STALE, exc)


async def _revisions_and_anomalies(
    store: Store,
    rules: RulesSettings,
    agency: str | None,
    source: str | None,
    indicators: Sequence[Indicator] | None,
    periods: Mapping[str, list[str]] | None,
    revised: Sequence[Revision],
    run_id: int | None,
) -> None:
    """After a run: its revisions watched (``agency``: the run's source's), its figures scored for
    outliers; always: the bands (of what the run touched, or all on the timer). A figure's outliers are judged when it arrives only."""
    after = source or "timer"
    if source is not None and revised:
        try:
            await revision_watch.watch(store, rules, source, revised, agency=agency, run_id=run_id)
        except Exception as exc:
            log.error("rule %s failed (source %s): %r", revision_watch.REVISION_WATCH, after, exc)
    if source is not None and periods:
        try:
            await anomalies.check_outliers(store, rules, source, periods, run_id)
        except Exception as exc:
            log.error("rule %s failed (source %s): %r", anomalies.ANOMALY_OUTLIER, after, exc)
    try:
        codes = [i.code for i in indicators] if indicators is not None else None
        await anomalies.check_bands(store, rules, codes)
    except Exception as exc:
        log.error("rule %s failed (source %s): %r", anomalies.ANOMALY_BAND, after, exc)


async def rules_timer(
    store: Store, rules: RulesSettings, sources: Sequence[SourceSettings], state: RulesState | None = None
) -> None:
    """Evaluate every rule over the catalogue every ``[rules] every`` until cancelled (full passes,
    which renew what ``state`` keeps for the passes after each run)."""
    started = utcnow()  # stale data counts from here: the centre did not watch before
    while True:
        await evaluate_rules(store, rules, sources, watching_since=started, state=state)
        await asyncio.sleep(rules.every.total_seconds())
