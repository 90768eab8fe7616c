"""Long-running commands: `serve` (scheduler and collectors), and `collect` run in-process.

`serve` stops cleanly on SIGINT and SIGTERM: no new runs start, runs in flight get the grace
period of `[collector] shutdown_grace`, and any still going are cancelled and recorded as
interrupted (their current batch is rolled back whole, never half written).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

from rich.console import Console

from cli.config import Config
from collectors.pipeline import Collector
from collectors.scheduler import Scheduler
from feed.formatting import format_number
from storage import CollectionRun, RunOutcome, RunTrigger, Store

log = logging.getLogger("opscentre")

OUTCOME_MARK = {
    RunOutcome.SUCCESS: "[green]✓[/]",
    RunOutcome.PARTIAL: "[yellow]![/]",
    RunOutcome.FAILED: "[red]✗[/]",
    RunOutcome.SKIPPED: "[dim]-[/]",
    RunOutcome.INTERRUPTED: "[red]⨯[/]",
    RunOutcome.RUNNING: "…",
}


def describe_run(run: CollectionRun, lang: str = "en") -> str:
    n = lambda v: format_number(v, "vi" if lang == "vi" else "en")  # noqa: E731
    took = ""
    if run.ended_at is not None:
        took = f" in {(run.ended_at - run.started_at).total_seconds():.1f}s"
    text = (
        f"{OUTCOME_MARK[run.outcome]} run #{run.id} {run.source}: {run.outcome.value}{took} — fetched {n(run.fetched)}, "
        f"new {n(run.new)}, revised {n(run.revised)}, unchanged {n(run.unchanged)}, rejected {n(run.rejected)}"
    )
    if run.error:
        text += f"\n    {run.error}"
    return text


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def serve(config: Config, db_path: str, console: Console, *, ready: Callable[[], None] | None = None) -> int:
    store = await Store.open(db_path, extra_indicators=config.indicators)
    collector = Collector(store, config.sources, config.collector)
    scheduler = Scheduler(collector)
    stop = asyncio.Event()
    try:
        interrupted = await store.mark_interrupted()
        if interrupted:
            console.print(f"marked {len(interrupted)} runs left unfinished by an earlier stop as interrupted")
        collector.on_run_finished.append(lambda run: log.info(describe_run(run)))
        install_stop_signals(stop)
        scheduler.start()
        enabled = sum(s.enabled for s in config.sources)
        console.print(f"opscentre serving: database {db_path}, {enabled} sources scheduled; Ctrl+C to stop")
        if ready is not None:
            ready()
        await stop.wait()
        console.print("stopping: no new runs; waiting for runs in flight …")
        scheduler.shutdown()
        started = time.monotonic()
        await collector.shutdown()
        console.print(f"stopped cleanly in {time.monotonic() - started:.1f}s")
    finally:
        scheduler.shutdown()
        await collector.aclose()
        await store.close()
    return 0


async def collect(
    config: Config,
    db_path: str,
    console: Console,
    *,
    source: str | None,
    agency: str | None,
    everything: bool,
    requested_by: str,
) -> int:
    store = await Store.open(db_path, extra_indicators=config.indicators)
    collector = Collector(store, config.sources, config.collector)
    stop = asyncio.Event()
    try:
        names = collector.select(source=source, agency=agency, everything=everything)
        done: list[CollectionRun] = []

        def finished(run: CollectionRun) -> None:
            done.append(run)
            console.print(f"[{len(done)}/{len(names)}] {describe_run(run)}")

        collector.on_run_finished.append(finished)
        console.print(f"collecting {len(names)} source{'s' if len(names) != 1 else ''}: {', '.join(names)}")
        install_stop_signals(stop)
        work = asyncio.ensure_future(collector.run_many(names, RunTrigger.MANUAL, requested_by))
        waiter = asyncio.ensure_future(stop.wait())
        with console.status("collecting …") if console.is_terminal else contextlib.nullcontext():
            await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            console.print("stopping: runs in flight are being interrupted …")
            await collector.shutdown(grace=0)
            with contextlib.suppress(asyncio.CancelledError):
                await work
        waiter.cancel()
        ok = sum(r.outcome in (RunOutcome.SUCCESS, RunOutcome.PARTIAL) for r in done)
        console.print(f"done: {ok} of {len(names)} runs succeeded")
        return 0 if ok == len(names) else 1
    finally:
        await collector.aclose()
        await store.close()
