"""`opscentre demo`: simulated agency systems, the collectors on their schedules and the live feed,
in one process, on a local SQLite file, with nothing to set up."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit

from rich.console import Console

from cli.config import Config
from cli.progress import FirstPull
from cli.runtime import Service, run_service

# What the demo changes so that its scenario shows each rule within about three minutes:
DEMO_POLL = timedelta(minutes=1)  # the longest poll: the SDMX/JSON disagreement fires after one
DEMO_BREAKER_FAILURES = 2  # a ministry down for three minutes opens its circuit (source.down)
# The held province's last monthly report, due before the demo began, is missing at once (and late
# once delivered); the others published theirs on time by their own clock (docs/rules.md).
DEMO_LATE_LOOKBACK = timedelta(days=35)


def demo_config(config: Config, sim_port: int) -> Config:
    """The built-in sources point at the simulator's default port; follow it if moved, and switch
    the SDMX source on when its optional library is installed.

    So that the scenario's events alert within minutes, not at the next due date or 5-minute
    poll: no source polls less often than every minute (a disagreement of two sources is held
    pending for the longer of their polls), two failed runs open a circuit, and reports due up to
    35 days before the demo's first run are judged (a province withholding them is missing at once)."""
    have_sdmx = importlib.util.find_spec("pysdmx") is not None
    sources = []
    for src in config.sources:
        url = str(src.url)
        parts = urlsplit(url)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port == 8780 and sim_port != 8780:
            url = url.replace(":8780/", f":{sim_port}/", 1)
        enabled = src.enabled or (src.kind.value == "sdmx" and have_sdmx)
        update: dict[str, object] = {"url": url, "enabled": enabled}
        if src.every is not None and src.every > DEMO_POLL:
            update["every"] = DEMO_POLL
        sources.append(src.model_copy(update=update))
    collector = config.collector.model_copy(
        update={"breaker_failures": min(config.collector.breaker_failures, DEMO_BREAKER_FAILURES)}
    )
    rules = config.rules
    if not rules.late_lookback:
        rules = rules.model_copy(update={"late_lookback": DEMO_LATE_LOOKBACK})
    return config.model_copy(update={"sources": sources, "collector": collector, "rules": rules})


# Run in the foreground while the demo serves (``demo --console``): given the feed's URL and the
# stop event, it returns when the user is done (the demo then stops).
Foreground = Callable[[str, asyncio.Event], Awaitable[None]]


async def run_demo(
    config: Config,
    db_path: str,
    console: Console,
    *,
    sim_port: int = 8780,
    foreground: Foreground | None = None,
    scenario: str = "demo",
) -> int:
    import simulator

    config = demo_config(config, sim_port)
    try:
        # The demo scenario on by default: within three minutes a revision, a late province, a
        # contradiction, an outlier and an outage happen (simulator/scenarios.py).
        sim = await simulator.start(simulator.SimulatorConfig(port=sim_port, scenario=scenario))
    except ValueError as exc:  # an unknown scenario: the message names the known ones
        console.print(f"opscentre demo: {exc}", markup=False)
        return 2
    except OSError as exc:
        console.print(f"[red]cannot start the simulated agencies on port {sim_port}: {exc.strerror}[/]")
        console.print("Is another demo running? Stop it, or pass --sim-port with a free port.")
        return 2
    service = Service(config, db_path, command="opscentre demo")

    async def serving(stop: asyncio.Event) -> None:
        assert service.feed is not None
        page = f"http://{config.feed.host}:{service.feed.port}/display"
        enabled = sum(s.enabled for s in config.sources)
        console.print("[bold]opscentre demo[/] — the operations centre on simulated agency systems")
        console.print(f"  simulated agencies  {sim.url}  (faults: PUT {sim.url}/_admin/faults)")
        console.print(
            f"  scenario            {sim.scenario.name}: {sim.scenario.description}  ({sim.url}/_admin/scenario)"
        )
        for step in sim.scenario.steps:
            console.print(f"    +{step.at:>3.0f}s  {step.what}")
        console.print(f"  database            {db_path}")
        console.print(f"  collectors          {enabled} sources on their schedules; the first runs fill the history")
        console.print(f"  wall display        {page}   token: demo-display")
        console.print(f"  live feed           {service.feed.url}   (tokens demo-operator, demo-admin)")
        console.print("  run a collection    opscentre collect --all    (in another terminal, as the demo admin)")
        console.print("Ctrl+C stops everything cleanly.")
        first_pull = FirstPull.watch(service.collector, console.print)
        if foreground is None:
            await stop.wait()
        else:
            await foreground(service.feed.url, stop)
        first_pull.close()
        console.print("stopping …")

    return await run_service(service, console, "opscentre demo", serving, also_stop=sim.stop)
