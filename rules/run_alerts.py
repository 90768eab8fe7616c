"""Alert rules applied after every run: collector health, rejected records, revised figures.

The health rules (a source down, stale data, a counter going down) are in ``rules/source_health.py``.

Each rule keys its alert by (rule, subject): one open alert per source and rule, updated while the
condition lasts and resolved when it clears. Messages are Vietnamese (what operators read) and
never quote a URL or an error's text: that goes to the alert's ``detail``. The rule codes are stable
and ``params`` carry what the alert is about as typed values, for clients to word it in either
language.
"""

from __future__ import annotations

from collectors.breaker import BreakerState, CircuitBreaker
from collectors.config import SourceKind, SourceSettings
from rules import source_health
from rules.verdicts import Firing, about_figure, about_source, settle
from storage import AlertParams, CollectionRun, Severity, Store
from storage.models import Revision

SOURCE_FAILING = "source.failing"
SOURCE_REJECTED = "source.rejected"
FIGURES_REVISED = "figures.revised"


async def after_failure(
    store: Store,
    run: CollectionRun,
    breaker: CircuitBreaker,
    agency: str | None = None,
    *,
    settings: SourceSettings | None = None,
) -> None:
    """``source.failing`` (warning) for every failed run; ``source.down`` (critical) as well once the
    breaker is open, which mutes it (storage/alerting.py): one page, not two.

    ``source.failing`` keeps firing for one interval of the source after its condition clears
    (``settings``; without them it resolves at once), so a source that fails, succeeds and fails
    again is one alert, never resolved in between."""
    status = run.http_status if run.http_status is not None and run.http_status >= 400 else None
    facts = AlertParams(failures=breaker.failures, http_status=status, run_id=run.id)
    hysteresis = source_health.interval_of(settings) if settings is not None else None
    params = await about_source(store, run.source, agency, facts)
    await settle(
        store, SOURCE_FAILING, run.source, Firing(Severity.WARNING, params, run.error, keep_firing_for=hysteresis)
    )
    if breaker.state is BreakerState.OPEN:
        await source_health.source_down(store, run, breaker, agency)


async def after_success(
    store: Store,
    run: CollectionRun,
    revisions: list[Revision],
    rejection: str | None,
    agency: str | None = None,
    *,
    settings: SourceSettings | None = None,
) -> None:
    """A good run: the source is no longer failing (after its hysteresis), down or stale; the
    records it rejected and the official figures it revised; a portal's counters that went down."""
    await store.alerts.resolve(SOURCE_FAILING, run.source)
    await source_health.source_up(store, run.source)
    if settings is not None and settings.kind is SourceKind.PORTAL:
        await source_health.check_counters(store, run)
    rejected = None
    if rejection:  # the reasons quote the records' values: the detail, never the params
        params = await about_source(store, run.source, agency, AlertParams(count=run.rejected, run_id=run.id))
        rejected = Firing(Severity.WARNING, params, detail=rejection)
    await settle(store, SOURCE_REJECTED, run.source, rejected)
    official = [r for r in revisions if r.previous_status == "official"]
    if official:
        first = official[0]
        facts = AlertParams(
            agency=agency,
            previous_value=first.previous_value,
            count=len(official),
            run_id=run.id,
            observation_id=first.obs_id,
        )
        params = about_figure(first.indicator, first.area, first.period, run.source, first.value, facts)
        await settle(store, FIGURES_REVISED, run.source, Firing(Severity.INFO, params))
