"""The demo as the tests run it: the demo's configuration (`cli/demo.py`) on the real simulator
playing its default scenario, through the real Service and its feed, on one clock the test moves
(the simulator's and the centre's). Collections are run by the test, as the demo's schedules would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tests.simulator_fixtures import Clock, running

if TYPE_CHECKING:
    from cli.runtime import Service

# The demo's national sources a scenario touches; every province's own system is taken too.
DEMO_SOURCES = frozenset({"nso", "nso-sdmx", "cus", "vnat", "mof", "portal"})


@asynccontextmanager
async def demo_service(db: Path, clock: Clock, *, every_source: bool = False) -> AsyncIterator[Service]:
    """A started Service on the demo's configuration, unscheduled, its rules timer every 0.2 s: the
    sources a scenario touches and every province's own system, or with ``every_source`` all the
    demo's sources (every ministry's national figures, as the demo itself collects them)."""
    from cli.config import load
    from cli.demo import demo_config
    from cli.runtime import Service
    from collectors.config import CollectorSettings
    from storage.clock import use_clock

    with use_clock(clock):
        async with running(clock, scenario="demo") as (sim, _):
            base = demo_config(load(), int(sim.url.rsplit(":", 1)[1]))
            sources = [
                s for s in base.sources if every_source or s.name in DEMO_SOURCES or s.name.startswith("province-")
            ]
            config = base.model_copy(
                update={
                    "sources": sources,
                    "collector": CollectorSettings(retries=0, breaker_failures=base.collector.breaker_failures),
                    "feed": base.feed.model_copy(update={"port": 0}),
                    "rules": base.rules.model_copy(update={"every": timedelta(seconds=0.2)}),
                }
            )
            service = Service(config, str(db), schedule=False)
            await service.start()
            try:
                yield service
            finally:
                await service.stop()
