"""Long-running commands: `serve` (scheduler, collectors and the feed), and `collect` in-process.

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

from rich.console import Console
from rich.text import Text

from cli.config import Config
from cli.progress import FirstPull
from collectors.alerting import alert_timer, rules_timer
from collectors.pipeline import Collector
from collectors.scheduler import Scheduler
from feed.formatting import format_number
from feed.server import FeedServer
from storage import CollectionRun, RunOutcome, RunTrigger, Store
from storage.clock import utcnow
from storage.lock import CollectorLock, DatabaseBusy
from storage.pg.adapter import shown
from storage.writes import StoreError

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
    """One line per run, wholly in ``lang`` (words and number format alike)."""
    vi = lang == "vi"
    n = lambda v: format_number(v, "vi" if vi else "en")  # noqa: E731
    took = ""
    if run.ended_at is not None:
        seconds = format_number(round((run.ended_at - run.started_at).total_seconds(), 1), "vi" if vi else "en", 1)
        took = f" trong {seconds} giây" if vi else f" in {seconds}s"
    if vi:
        text = (
            f"{OUTCOME_MARK[run.outcome]} lượt thu #{run.id} {run.source}: {RUN_OUTCOME_VI[run.outcome]}{took} — "
            f"nhận {n(run.fetched)}, mới {n(run.new)}, điều chỉnh {n(run.revised)}, không đổi {n(run.unchanged)}, "
            f"bị loại {n(run.rejected)}"
        )
    else:
        text = (
            f"{OUTCOME_MARK[run.outcome]} run #{run.id} {run.source}: {run.outcome.value}{took} — fetched "
            f"{n(run.fetched)}, new {n(run.new)}, revised {n(run.revised)}, unchanged {n(run.unchanged)}, "
            f"rejected {n(run.rejected)}"
        )
    if run.error:
        text += f"\n    {run.error}"
    return text


RUN_OUTCOME_VI = {
    RunOutcome.SUCCESS: "thành công",
    RunOutcome.PARTIAL: "thành công một phần",
    RunOutcome.FAILED: "thất bại",
    RunOutcome.SKIPPED: "bỏ qua",
    RunOutcome.INTERRUPTED: "bị ngắt",
    RunOutcome.RUNNING: "đang chạy",
}


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


class StartError(Exception):
    """The service cannot start (its port is taken, another server collects on its database)."""


class Service:
    """The server process: store, collectors on their schedules, and the live feed.

    It holds the database's collector lock (storage/lock.py) while it runs: a second server on the
    same database is refused, naming the first.
    """

    def __init__(
        self, config: Config, db_path: str, *, schedule: bool = True, command: str = "opscentre serve"
    ) -> None:
        self.config = config
        self.db_path = db_path
        self.schedule = schedule
        self.command = command
        self.lock = CollectorLock(db_path)
        self.store: Store | None = None
        self.collector: Collector | None = None
        self.scheduler: Scheduler | None = None
        self.feed: FeedServer | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._alert_timer: asyncio.Task[None] | None = None
        self._rules_timer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = self.config
        self.store = store = await Store.open(self.db_path, extra_indicators=config.indicators)
        try:
            self.lock.acquire(self.command)
        except DatabaseBusy as exc:
            raise StartError(f"{exc}: stop it first, or give this one another database (--db)") from None
        # Holding the lock, every run still 'running' and not ours was begun by a process now gone.
        interrupted = await store.mark_interrupted()
        if interrupted:
            log.warning("marked %d runs left unfinished by an earlier stop as interrupted", len(interrupted))
        self.collector = Collector(store, config.sources, config.collector)
        self.collector.rules = config.rules
        self.collector.on_run_finished.append(lambda run: log.info(Text.from_markup(describe_run(run)).plain))
        self.scheduler = Scheduler(self.collector)
        if self.schedule:  # the feed's `sources` query tells each source's next run
            self.collector.next_run = self.scheduler.next_run

        async def scheduler_running() -> str | None:
            if not self.schedule or (self.scheduler is not None and self.scheduler.running):
                return None
            return "scheduler: not running"

        async def database_writable() -> str | None:
            return store.write_problem()

        self.feed = FeedServer(
            store, config.feed, config.users, runs=self.collector, ready_checks=[scheduler_running, database_writable]
        )
        try:
            await self.feed.start()
        except OSError as exc:
            where = f"{config.feed.host}:{config.feed.port}"
            raise StartError(f"cannot start the feed on {where}: {exc.strerror or exc}") from None
        if self.schedule:
            self.scheduler.start()
        self._pruner = asyncio.create_task(self._prune())
        self._alert_timer = asyncio.create_task(alert_timer(store))
        self._rules_timer = asyncio.create_task(
            rules_timer(store, config.rules, config.sources, state=self.collector.rules_state)
        )

    async def _prune(self) -> None:
        """Events older than `[database] keep_events` go; a client that far behind gets a snapshot."""
        assert self.store is not None
        while True:
            dropped = await self.store.prune_events(utcnow() - self.config.database.keep_events)
            if dropped:
                log.info("pruned %d events older than %s", dropped, self.config.database.keep_events)
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        """No new runs; in-flight runs get the grace period, then are interrupted; clients get 1001."""
        if self._pruner is not None:
            self._pruner.cancel()
        if self._alert_timer is not None:
            self._alert_timer.cancel()
        if self._rules_timer is not None:
            self._rules_timer.cancel()
        if self.scheduler is not None:
            self.scheduler.pause()  # not shutdown yet: APScheduler's would cancel the runs in flight
        if self.collector is not None:
            await self.collector.shutdown()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.collector is not None:
            await self.collector.aclose()
        if self.feed is not None:
            await self.feed.commands.wait()
            await self.feed.stop()
        if self.store is not None:
            await self.store.close()
        self.lock.release()


async def serve(config: Config, db_path: str, console: Console) -> int:
    service = Service(config, db_path)
    stop = asyncio.Event()
    install_stop_signals(stop)
    try:
        try:
            await service.start()
        except StartError as exc:
            console.print(f"[red]opscentre serve: {exc}[/]")
            return 2
        assert service.feed is not None
        enabled = sum(s.enabled for s in config.sources)
        port = service.feed.port
        scheme = "https" if config.feed.tls_cert else "http"
        console.print(f"opscentre serving: database {shown(db_path)}; {enabled} sources scheduled")
        console.print(f"  feed     {service.feed.url}")
        console.print(f"  display  {scheme}://{config.feed.host}:{port}/display")
        console.print(f"  health   {scheme}://{config.feed.host}:{port}/healthz, /readyz, /metrics")
        console.print("Ctrl+C stops cleanly")
        first_pull = FirstPull.watch(service.collector, console.print)
        await stop.wait()
        first_pull.close()
        console.print("stopping: no new runs; waiting for runs in flight …")
        started = time.monotonic()
    finally:
        await service.stop()
    console.print(f"stopped cleanly in {time.monotonic() - started:.1f}s")
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
    lock = CollectorLock(db_path)
    try:
        lock.acquire("opscentre collect --local")
    except DatabaseBusy as exc:
        await store.close()
        raise StoreError(f"{exc}: run `opscentre collect` without --local to ask it for the runs") from None
    collector = Collector(store, config.sources, config.collector)
    collector.rules = config.rules
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
        lock.release()
