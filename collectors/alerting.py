"""The alert life cycle's timer pass, run by a serving process beside the collectors.

The store fires pending alerts whose ``for`` has passed, resolves alerts that stayed clear for their
``keep_firing_for`` and ends expired silences (``Store.tick_alerts``); none of that waits for a
rule to run again, so it is done on a short timer of its own.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from storage import Store, StoreError

log = logging.getLogger(__name__)

TICK = timedelta(seconds=5)  # how late a silence may end or a pending alert fire, at most


async def alert_timer(store: Store, every: timedelta = TICK) -> None:
    """Run the timer pass every ``every`` until cancelled; a failed pass is logged and retried."""
    while True:
        try:
            changed = await store.tick_alerts()
        except StoreError as exc:  # the database cannot be written just now: the store says so itself
            log.warning("alert timer pass failed: %s", exc)
        else:
            for alert in changed:
                log.info("alert %d %s %s: %s", alert.id, alert.rule, alert.subject, alert.state.value)
        await asyncio.sleep(every.total_seconds())
