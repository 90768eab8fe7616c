"""A rule's verdict on one subject: its alert fires while the condition holds, resolves once it clears.

Every rule keys its alert by (rule, subject) and, on each pass, says one of the two through
``settle``; the store keeps the life cycle (pending, firing, hysteresis, muting: storage/alerting.py).
``about_source`` and ``about_figure`` give an alert about a source, or about one figure, the facts
every such alert names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from storage import NATION, AlertParams, Severity, Store


@dataclass(frozen=True)
class Firing:
    """The condition holds: the alert's severity and facts, its ``detail`` (never in ``params``: it
    may quote upstream text), and its timing (``store.alerts.fire``'s ``for_``, ``keep_firing_for``)."""

    severity: Severity
    params: AlertParams
    detail: str | None = None
    for_: timedelta | None = None
    keep_firing_for: timedelta | None = None


async def settle(store: Store, rule: str, subject: str, firing: Firing | None) -> bool:
    """``rule``'s alert on ``subject`` fires (``firing``) or resolves (None). Returns whether it fires."""
    if firing is None:
        await store.alerts.resolve(rule, subject)
        return False
    await store.alerts.fire(
        rule,
        subject,
        firing.severity,
        params=firing.params,
        detail=firing.detail,
        for_=firing.for_,
        keep_firing_for=firing.keep_firing_for,
    )
    return True


async def source_area(store: Store, source: str) -> str | None:
    """The province a province's own system speaks for (the only area of its figures): its alerts
    name it, so that its late reports are muted by them and a province's wall gets them."""
    areas = await store.observations.source_areas(source)
    return areas[0] if len(areas) == 1 and areas[0] != NATION else None


async def about_source(store: Store, source: str, agency: str | None, facts: AlertParams | None = None) -> AlertParams:
    """An alert about ``source``: ``facts`` with the source, its agency and the province it speaks for."""
    area = await source_area(store, source)
    return (facts or AlertParams()).model_copy(update={"source": source, "agency": agency, "area": area})


def about_figure(
    indicator: str, area: str, period: str, source: str, value: float, facts: AlertParams | None = None
) -> AlertParams:
    """An alert about one figure: ``facts`` with its key (indicator, area, period, source) and value."""
    figure = {"indicator": indicator, "area": area, "period": period, "source": source, "value": value}
    return (facts or AlertParams()).model_copy(update=figure)
