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
from collections.abc import Awaitable, Callable

from rich.console import Console
from rich.text import Text

from cli.briefings import BriefingSchedule
from cli.config import Config
from cli.progress import FirstPull
from collectors.queued import QueuedRuns, serve_requests
from collectors.scheduler import LeaseKeeper, Scheduler
from collectors.sole_lease import SoleKeeper
from feed.queries import RunService
from feed.server import FeedServer
from rules.after_run import Collector
from rules.evaluation import alert_timer, rules_timer
from storage import CollectionRun, RunOutcome, RunTrigger, Store
from storage.clock import utcnow
from storage.dialect import dialect_for
from storage.lock import CollectorLock, DatabaseBusy, Holder
from storage.pg.adapter import shown
from storage.writes import StoreError
from wording import number

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
    n = lambda v: number(v, "vi" if vi else "en")  # noqa: E731
    took = ""
    if run.ended_at is not None:
        seconds = number((run.ended_at - run.started_at).total_seconds(), "vi" if vi else "en", 1)
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


ROLES = ("all", "feed", "collector")


class Service:
    """The server process, in one of three roles (``serve --role``):

    - ``all``: store, collectors on their schedules, rule timers and the live feed in one process. It
      holds the database's collector lock exclusively (storage/lock.py): a second server on the same
      database is refused, naming the first. The only role on SQLite (one file, one writing process).
    - ``feed``: the live feed only (WebSocket, /display, /healthz, /readyz, /metrics); no collectors,
      scheduler or timers, no collector lock. PostgreSQL only.
    - ``collector``: collectors, scheduler and rule timers, no feed (a bare /healthz on the feed's
      address for liveness). PostgreSQL only; several may run on one database: each takes the collector
      lock shared (so none runs beside an ``all``) and runs the sources whose leases it holds.
    """

    def __init__(
        self,
        config: Config,
        db_path: str,
        *,
        role: str = "all",
        schedule: bool = True,
        command: str = "opscentre serve",
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        self.config = config
        self.db_path = db_path
        self.role = role
        self.schedule = schedule
        # (PostgreSQL keeps 63 bytes of the name that tells who holds the lock: no "opscentre " here)
        self.command = command if role == "all" else f"serve --role {role}"
        self.lock = CollectorLock(db_path)
        self.store: Store | None = None
        self.collector: Collector | None = None
        self.scheduler: Scheduler | None = None
        self.feed: FeedServer | None = None
        self.health: asyncio.Server | None = None
        self.keeper: LeaseKeeper | None = None
        self.sole: SoleKeeper | None = None  # `all` on PostgreSQL: its role by the __sole__ lease row
        self.stopped_collecting: str | None = None  # why this process no longer collects (/readyz says it)
        self._pruner: asyncio.Task[None] | None = None
        self._alert_timer: asyncio.Task[None] | None = None
        self._rules_timer: asyncio.Task[None] | None = None
        self._requests: asyncio.Task[None] | None = None  # manual runs asked through feed processes
        self.briefings: BriefingSchedule | None = None  # [briefing], made where the timers run

    async def start(self) -> None:
        if self.role != "all" and not dialect_for(self.db_path).notifies:  # processes beside it hear of its writes
            raise StartError(
                f"--role {self.role} needs a PostgreSQL store ([database] url): a SQLite file has one "
                "writing process, so only --role all serves it"
            )
        self.store = await Store.open(
            self.db_path, extra_indicators=self.config.indicators, source_agencies=self.config.source_agencies()
        )
        if self.role == "feed":
            # Manual runs go to the collector processes through the database (collectors/queued.py).
            await self._start_feed(runs=QueuedRuns(self.store, self.config.sources))
            return
        self._take_lock(shared=self.role == "collector")
        collector = self._make_collector()
        if self.role == "all":
            if self.store.dialect.server_clock:  # PostgreSQL: the advisory lock does not outlive a restart
                await self._take_sole()
            # Holding the lock exclusively, every run still 'running' and not ours was begun by a
            # process now gone. (A collector among several leaves that to whoever takes a source over.)
            interrupted = await self.store.runs.mark_interrupted()
            if interrupted:
                log.warning("marked %d runs left unfinished by an earlier stop as interrupted", len(interrupted))
            await self._start_feed(runs=collector)
        else:
            await self._start_health()
            await self._start_leases(collector)
        if self.schedule:
            assert self.scheduler is not None
            self.scheduler.start()
        # The collector role's background tasks start here (after the scheduler): the lease keeper,
        # and the timers once it holds `__rules__`; in `all` the timers at once.
        if self.keeper is not None:
            self.keeper.start()
        else:
            self._start_timers()
        if self.sole is not None:
            self.sole.start()
        if self.store.hears_other_processes:  # feed processes may ask this one for manual runs (collectors/queued.py)
            self._requests = asyncio.create_task(serve_requests(self.store, collector), name="opscentre-run-requests")

    async def _take_sole(self) -> None:
        """`all` on PostgreSQL: hold the __sole__ lease (collectors/sole_lease.py), which every run checks."""
        assert self.store is not None
        self.store.leases.require_sole(self.config.collector.lease)
        self.sole = SoleKeeper(self.store.leases, self.lock, self.command, on_lost=self._sole_lost)
        try:
            await self.sole.take()
        except DatabaseBusy as exc:
            self.sole = None
            raise StartError(f"{exc}: stop it first, or give this one another database (--db)") from None

    def _sole_lost(self, holder: Holder | None) -> None:
        """Another process took the __sole__ lease: collect no more (its runs would be refused anyway)."""
        self.stopped_collecting = (
            f"collector: stopped, the database's collector lease was taken by "
            f"{holder.describe() if holder else 'another process'}"
        )
        self._stop_timers()
        if self.scheduler is not None:
            self.scheduler.pause()
        if self._requests is not None:
            self._requests.cancel()

    async def _start_leases(self, collector: Collector) -> None:
        """Among several collector processes: run only the sources whose leases this one holds."""
        assert self.store is not None
        leases = self.store.leases
        if (other := await leases.sole_holder()) is not None:  # an `all` whose advisory lock a restart ended
            raise StartError(
                f"{DatabaseBusy(shown(self.db_path), Holder.from_text(other))}: stop it first, or give this one "
                "another database (--db)"
            )
        leases.require(self.config.collector.lease)  # runs.begin checks the lease in its own transaction
        self.keeper = LeaseKeeper(leases, collector, self.scheduler, on_rules=self._rules_lease)
        collector.holds = self.keeper.holds
        await self.keeper.tick()  # before the scheduler: its first runs are of sources held

    def _rules_lease(self, held: bool) -> None:
        if held:
            log.info("this process runs the alert and rules timers (it holds the __rules__ lease)")
            self._start_timers()
        else:
            self._stop_timers()

    def _take_lock(self, *, shared: bool) -> None:
        try:
            self.lock.acquire(self.command, shared=shared)
        except DatabaseBusy as exc:
            raise StartError(f"{exc}: stop it first, or give this one another database (--db)") from None

    def _make_collector(self) -> Collector:
        assert self.store is not None
        config = self.config
        # rules/'s collector: the pipeline with the rules hung on it (collectors never import rules/).
        self.collector = Collector(self.store, config.sources, config.collector)
        self.collector.rules = config.rules
        self.collector.on_run_finished.append(lambda run: log.info(Text.from_markup(describe_run(run)).plain))
        self.scheduler = Scheduler(self.collector)
        if self.schedule:  # the feed's `sources` query tells each source's next run
            self.collector.next_run = self.scheduler.next_run
        return self.collector

    async def _start_feed(self, runs: RunService | None) -> None:
        """The live feed; ``runs`` serves manual collections (None: this process collects nothing)."""
        assert self.store is not None
        store, config = self.store, self.config

        async def scheduler_running() -> str | None:
            if self.scheduler is None or not self.schedule or self.scheduler.running:
                return None
            return "scheduler: not running"

        async def database_writable() -> str | None:
            return store.write_problem()

        async def still_collecting() -> str | None:
            return self.stopped_collecting

        self.feed = FeedServer(
            store,
            config.feed,
            config.users,
            runs=runs,
            ready_checks=[scheduler_running, database_writable, still_collecting],
        )
        try:
            await self.feed.start()
        except OSError as exc:
            where = f"{config.feed.host}:{config.feed.port}"
            raise StartError(f"cannot start the feed on {where}: {exc.strerror or exc}") from None

    async def _start_health(self) -> None:
        """A collector process's liveness: ``GET /healthz`` answers 200 on the feed's address (no feed)."""
        feed = self.config.feed

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                line = await asyncio.wait_for(reader.readline(), timeout=5)
                ok = line.split(b" ")[1:2] == [b"/healthz"]
                status, body = (b"200 OK", b"ok\n") if ok else (b"404 Not Found", b"only /healthz here\n")
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + body
                )
                await writer.drain()
            writer.close()

        try:
            self.health = await asyncio.start_server(answer, feed.host, feed.port)
        except OSError as exc:
            raise StartError(f"cannot listen on {feed.host}:{feed.port}: {exc.strerror or exc}") from None

    @property
    def port(self) -> int:
        """The port this process listens on (the feed's, or the collector's /healthz)."""
        if self.feed is not None:
            return self.feed.port
        assert self.health is not None
        return int(self.health.sockets[0].getsockname()[1])

    def _start_timers(self) -> None:
        """Pruning and the alert and rules timers: one process's work."""
        assert self.store is not None and self.collector is not None
        store, config = self.store, self.config
        self._pruner = asyncio.create_task(self._prune())
        self._alert_timer = asyncio.create_task(alert_timer(store))
        self._rules_timer = asyncio.create_task(
            rules_timer(store, config.rules, config.sources, state=self.collector.rules_state)
        )
        if config.briefing is not None and self.schedule:
            self.briefings = BriefingSchedule(store, config.briefing, config.rules)
            self.briefings.start()

    def _stop_timers(self) -> None:
        for task in (self._pruner, self._alert_timer, self._rules_timer):
            if task is not None:
                task.cancel()
        self._pruner = self._alert_timer = self._rules_timer = None
        if self.briefings is not None:
            self.briefings.stop()
            self.briefings = None

    async def _prune(self) -> None:
        """Events older than `[database] keep_events` go; a client that far behind gets a snapshot."""
        assert self.store is not None
        while True:
            dropped = await self.store.events.prune(utcnow() - self.config.database.keep_events)
            if dropped:
                log.info("pruned %d events older than %s", dropped, self.config.database.keep_events)
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        """No new runs; in-flight runs get the grace period, then are interrupted; clients get 1001."""
        self._stop_timers()
        requests, self._requests = self._requests, None
        if requests is not None:
            requests.cancel()  # claims no more; its runs in flight end with the collector's below
        if self.scheduler is not None:
            self.scheduler.pause()  # not shutdown yet: APScheduler's would cancel the runs in flight
        if self.collector is not None:
            await self.collector.shutdown()
        if requests is not None:
            await asyncio.wait({requests})
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.keeper is not None:
            await self.keeper.stop()  # runs done: give the leases back, the others need not wait
        if self.sole is not None:
            await self.sole.stop()
        if self.collector is not None:
            await self.collector.aclose()
        if self.feed is not None:
            await self.feed.commands.wait()
            await self.feed.stop()
        if self.health is not None:
            self.health.close()
        if self.store is not None:
            await self.store.close()
        self.lock.release()


async def run_service(
    service: Service,
    console: Console,
    command: str,
    serving: Callable[[asyncio.Event], Awaitable[None]],
    *,
    also_stop: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Start ``service`` and run ``serving`` (given the event Ctrl+C and SIGTERM set) until it returns,
    then stop the service (and ``also_stop``). 0; 2 when the service cannot start."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    try:
        try:
            await service.start()
        except StartError as exc:
            console.print(f"[red]{command}: {exc}[/]")
            return 2
        await serving(stop)
        started = time.monotonic()
    finally:
        await service.stop()
        if also_stop is not None:
            await also_stop()
    console.print(f"stopped cleanly in {time.monotonic() - started:.1f}s")
    return 0


async def serve(config: Config, db_path: str, console: Console, role: str = "all") -> int:
    service = Service(config, db_path, role=role)

    async def serving(stop: asyncio.Event) -> None:
        enabled = sum(s.enabled for s in config.sources)
        port = service.port
        scheme = "https" if config.feed.tls_cert else "http"
        host = config.feed.host
        if role == "all":
            console.print(f"opscentre serving: database {shown(db_path)}; {enabled} sources scheduled")
        elif role == "feed":
            console.print(f"opscentre serving the feed (role feed): database {shown(db_path)}")
        else:
            console.print(
                f"opscentre collecting (role collector): database {shown(db_path)}; {enabled} sources "
                "shared with the other collector processes"
            )
        if service.feed is not None:
            console.print(f"  feed     {service.feed.url}")
            console.print(f"  display  {scheme}://{host}:{port}/display")
            console.print(f"  health   {scheme}://{host}:{port}/healthz, /readyz, /metrics")
        else:
            console.print(f"  health   http://{host}:{port}/healthz")
        console.print("Ctrl+C stops cleanly")
        first_pull = FirstPull.watch(service.collector, console.print) if service.collector is not None else None
        await stop.wait()
        if first_pull is not None:
            first_pull.close()
        console.print("stopping: no new runs; waiting for runs in flight …")

    return await run_service(service, console, "opscentre serve", serving)


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
    store = await Store.open(db_path, extra_indicators=config.indicators, source_agencies=config.source_agencies())
    lock = CollectorLock(db_path)
    try:
        lock.acquire("opscentre collect --local")
        if store.dialect.server_clock and (other := await store.leases.sole_holder()) is not None:
            lock.release()  # a server whose advisory lock a PostgreSQL restart ended still holds the database
            raise DatabaseBusy(shown(db_path), Holder.from_text(other))
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
