"""The revision watch: a revised figure that leaders should hear about, one alert per figure.

A revision is reported (``revision.watch``, subject ``indicator/area/period/source``) when it is

- **threshold**: its relative change is beyond ``revision_threshold_of(indicator)``;
- **closed**: its period's report was already due (the reporting calendar's due moment had passed
  when the revision was collected): the figure had been final for everyone reading it;
- **repeated**: it is the ``repeated_revisions``-th version of the figure or later.

Warning; critical when both threshold and closed. A revision does not "clear": the alert stays
until acknowledged, and a later revision of the same figure updates it (after an acknowledgement,
it opens a new one: the person who acknowledged it has not seen the new value).

A change of status alone (provisional to official, same value) is no revision of the number and is
not reported. Live counters have no reporting calendar, so they are never "closed".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from collectors.config import RulesSettings
from rules.reporting import due_moment
from rules.verdicts import Firing, about_figure, settle
from storage import AlertParams, AlertState, Frequency, Period, Severity, Store
from storage.clock import from_text, utcnow
from storage.models import Revision

REVISION_WATCH = "revision.watch"
THRESHOLD, CLOSED, REPEATED = "threshold", "closed", "repeated"
# A re-published history can revise thousands of figures in one run: each is kept and visible in
# the figures' history and counted by figures.revised; the first ones (the most severe) get an
# alert each, the rest one log line, so the alert list stays something people can read.
MAX_ALERTS_PER_RUN = 50


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Watched:
    """A revision worth an alert, with why."""

    revision: Revision
    reasons: tuple[str, ...]
    threshold: float
    collected_at: datetime
    digest: str | None

    @property
    def severity(self) -> Severity:
        return Severity.CRITICAL if THRESHOLD in self.reasons and CLOSED in self.reasons else Severity.WARNING


def relative_change(before: float, after: float) -> float:
    """|after − before| / |before|; a change from zero is infinitely large (no change: 0)."""
    if after == before:
        return 0.0
    return abs(after - before) / abs(before) if before != 0 else float("inf")


def reasons_for(
    r: Revision, rules: RulesSettings, frequency: Frequency | None, collected_at: datetime
) -> tuple[str, ...]:
    """The conditions ``r`` meets, in the order threshold, closed, repeated."""
    out = []
    if relative_change(r.previous_value, r.value) > rules.revision_threshold_of(r.indicator):
        out.append(THRESHOLD)
    if frequency is not None and frequency is not Frequency.LIVE:
        days = rules.due(r.indicator, frequency.value)
        if due_moment(Period.parse(r.period, frequency), days) <= collected_at:
            out.append(CLOSED)
    if r.revision >= rules.repeated_revisions:
        out.append(REPEATED)
    return tuple(out)


async def _provenance(store: Store, ids: Sequence[int]) -> dict[int, tuple[datetime, str | None]]:
    """Each observation's collection time and payload digest."""
    out: dict[int, tuple[datetime, str | None]] = {}
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
        chunk = list(ids[start : start + 500])
        rows = await store.read_rows(
            f"""SELECT o.id, o.collected_at, p.digest FROM observations o
                LEFT JOIN raw_payloads p ON p.id = o.payload_id WHERE o.id IN ({",".join("?" * len(chunk))})""",
            chunk,
        )
        out.update({r[0]: (from_text(r[1]), r[2]) for r in rows})
    return out


async def judge(store: Store, rules: RulesSettings, revisions: Sequence[Revision]) -> list[Watched]:
    """The revisions worth an alert, most severe first."""
    changed = [r for r in revisions if r.value != r.previous_value]
    if not changed:
        return []
    catalogue = {i.code: i.frequency for i in await store.reference.indicators()}
    known = await _provenance(store, [r.obs_id for r in changed])
    out = []
    for r in changed:
        collected_at, digest = known.get(r.obs_id, (utcnow(), None))
        frequency = catalogue.get(r.indicator)
        reasons = reasons_for(r, rules, frequency, collected_at)
        if reasons:
            threshold = rules.revision_threshold_of(r.indicator)
            out.append(Watched(r, reasons, threshold, collected_at, digest))
    out.sort(key=lambda w: (w.severity is not Severity.CRITICAL, -len(w.reasons)))
    return out


def subject(r: Revision, source: str) -> str:
    return f"{r.indicator}/{r.area}/{r.period}/{source}"


async def watch(
    store: Store,
    rules: RulesSettings,
    source: str,
    revisions: Sequence[Revision],
    *,
    agency: str | None = None,
    run_id: int | None = None,
) -> list[Watched]:
    """Fire (or update) the ``revision.watch`` alert of each revision worth one; returns those."""
    watched = await judge(store, rules, revisions)
    if len(watched) > MAX_ALERTS_PER_RUN:
        log.warning(
            "%s: %d revised figures of source %s are worth an alert; the first %d get one",
            REVISION_WATCH,
            len(watched),
            source,
            MAX_ALERTS_PER_RUN,
        )
    acknowledged = {
        a.subject
        for a in await store.alerts.listed(states=[AlertState.ACKNOWLEDGED], limit=100_000)
        if a.rule == REVISION_WATCH
    }
    for w in watched[:MAX_ALERTS_PER_RUN]:
        r = w.revision
        key = subject(r, source)
        if key in acknowledged:
            # Someone saw the previous revision: this one is news, so it gets an alert of its own.
            await store.alerts.resolve(REVISION_WATCH, key)
        facts = AlertParams(
            agency=agency,
            previous_value=r.previous_value,
            revision=r.revision,
            reason=",".join(w.reasons),
            threshold=w.threshold,
            observation_id=r.obs_id,
            payload_digest=w.digest,
            run_id=run_id,
        )
        params = about_figure(r.indicator, r.area, r.period, source, r.value, facts)
        await settle(store, REVISION_WATCH, key, Firing(w.severity, params))
    return watched
