"""The run pipeline: fetch → validate → ingest → record the run → the hook after it (``AfterRun``).

One ``Collector`` serves the scheduler and manual runs alike. It owns one shared
``httpx.AsyncClient`` (connection limits, timeouts), a global concurrency limit, a lock per
source (two runs of one source never overlap: a second trigger waits for the first), and a
circuit breaker per source. Among several collector processes (``serve --role collector``) it runs
only the sources whose leases its process holds (``holds``; storage/repos/leases.py). What a run's
outcome sets going beyond its record (the alert rules) is ``after_run``, given by whoever builds
the collector: collectors never import rules/.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, Self, TypeVar

import httpx

from collectors.breaker import BreakerState, CircuitBreaker
from collectors.config import CollectorSettings, SourceSettings
from collectors.fetch import FetchError, FetchStats, allowed_origins, fetch, origin, within
from collectors.sources import Adapter, PayloadError, adapter_for
from collectors.sources.base import Fetched, Parsed
from collectors.transport import Transport
from storage import Batch, CollectionRun, IngestResult, RunOutcome, RunTrigger, Store
from storage.clock import utcnow
from storage.hooks import tell
from storage.models import Revision
from storage.repos.leases import LeaseNotHeld
from storage.writes import RunFinish, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

INLINE_PARSE_BYTES = 256 * 1024  # smaller payloads parse on the event loop; larger ones in a thread
KEEP_FAILED_BYTES = 4 * 1024 * 1024  # of a failed run's payload, kept so the failure can be traced to the bytes
MAX_PAGES = 10_000  # a runaway `next` chain is an upstream bug, not a reason to loop forever

T = TypeVar("T")
ProgressHook = Callable[[CollectionRun], Awaitable[None] | None]


class AfterRun(Protocol):
    """Called after each run that reached its source (rules.after_run.RunRules, wired by cli/runtime.py)."""

    async def failed(self, run: CollectionRun, source: SourceSettings, breaker: CircuitBreaker) -> None: ...

    async def succeeded(self, run: CollectionRun, source: SourceSettings, tally: RunTally) -> None: ...


class UnknownSource(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def select_sources(
    sources: Mapping[str, SourceSettings],
    *,
    source: str | None = None,
    agency: str | None = None,
    everything: bool = False,
) -> list[str]:
    """Names of the enabled sources asked for (one, an agency's, or all); raises UnknownSource with
    a clear message. Shared by the collector and a feed process's queued runs (collectors/queued.py)."""
    if source is not None:
        if source not in sources:
            known = ", ".join(sorted(sources)) or "none configured"
            raise UnknownSource(f"unknown source {source!r}; configured sources: {known}")
        return [source]
    enabled = [s for s in sources.values() if s.enabled]
    if agency is not None:
        chosen = [s.name for s in enabled if s.agency == agency]
        if not chosen:
            raise UnknownSource(f"no enabled source speaks for agency {agency!r}")
        return chosen
    if everything:
        return [s.name for s in enabled]
    raise UnknownSource("say which sources to run: a source, an agency, or all")


@dataclass
class RunTally:
    fetched: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: int = 0
    pages: int = 0
    revisions: list[Revision] = field(default_factory=list)
    first_rejection: str | None = None
    first_example: str | None = None  # "#index: reason" of the first rejected record
    touched: dict[str, set[str]] = field(default_factory=dict)  # indicator -> periods the run carried
    areas: dict[str, set[str]] = field(default_factory=dict)  # indicator -> areas the run carried
    last_answer: Fetched | None = None  # the latest answer received: kept with the run if it fails


@dataclass(frozen=True)
class SourceState:
    """What the feed may tell any client about one configured source (no URL: every role sees it)."""

    name: str
    kind: str
    agency: str | None
    enabled: bool
    schedule: str  # "every 60s" or a crontab
    circuit: BreakerState
    next_run: datetime | None


class Collector:
    def __init__(
        self,
        store: Store,
        sources: Iterable[SourceSettings],
        settings: CollectorSettings | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        after_run: AfterRun | None = None,
    ) -> None:
        self.store = store
        self.after_run = after_run
        self.settings = settings or CollectorSettings()
        self.sources = {s.name: s for s in sources}
        self._adapters: dict[str, Adapter] = {}
        self._owns_client = client is None
        limits = httpx.Limits(
            max_connections=self.settings.max_connections,
            max_keepalive_connections=self.settings.max_connections,
        )
        self.client = client or httpx.AsyncClient(
            transport=Transport(limits=limits),  # aiohttp's: a quarter of httpcore's CPU (collectors/transport.py)
            limits=limits,
            timeout=httpx.Timeout(30.0),
            follow_redirects=True,
            headers={"User-Agent": "opscentre-collector/1"},
        )
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)
        self._locks = {name: asyncio.Lock() for name in self.sources}
        self.breakers = {
            name: CircuitBreaker(self.settings.breaker_failures, self.settings.breaker_reset.total_seconds())
            for name in self.sources
        }
        self._inflight: set[asyncio.Task[object]] = set()
        self._closing = False
        self.on_run_finished: list[ProgressHook] = []
        # Set by whoever schedules the runs (cli/runtime.py): a source's next scheduled run.
        self.next_run: Callable[[str], datetime | None] | None = None
        # Set by a collector process among several (cli/runtime.py, collectors/scheduler.LeaseKeeper):
        # whether it holds a source's lease. A source it does not hold is another process's to run:
        # run() raises LeaseNotHeld and records nothing (the store checks again as the run begins).
        self.holds: Callable[[str], bool] | None = None

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- choosing sources ---------------------------------------------------------------------------

    def select(self, *, source: str | None = None, agency: str | None = None, everything: bool = False) -> list[str]:
        """Names of the enabled sources asked for; raises UnknownSource with a clear message."""
        return select_sources(self.sources, source=source, agency=agency, everything=everything)

    def adapter(self, name: str) -> Adapter:
        if name not in self._adapters:
            self._adapters[name] = adapter_for(self.sources[name])
        return self._adapters[name]

    # --- running ---------------------------------------------------------------------------------------

    async def run_many(
        self, names: Iterable[str], trigger: RunTrigger = RunTrigger.MANUAL, requested_by: str | None = None
    ) -> list[CollectionRun]:
        return list(await asyncio.gather(*(self.run(n, trigger, requested_by) for n in names)))

    async def run(
        self, name: str, trigger: RunTrigger = RunTrigger.SCHEDULE, requested_by: str | None = None
    ) -> CollectionRun:
        """One collection run of source ``name``; never raises for upstream trouble: the outcome says it."""
        if name not in self.sources:
            raise UnknownSource(f"unknown source {name!r}")
        if self.holds is not None and not self.holds(name):
            raise LeaseNotHeld(name, None)
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            async with self._locks[name]:
                return await self._run_locked(name, trigger, requested_by)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _run_locked(self, name: str, trigger: RunTrigger, requested_by: str | None) -> CollectionRun:
        source = self.sources[name]
        breaker = self.breakers[name]
        run, cursor = await self._begin(name, trigger, requested_by)
        if self._closing:
            return await self._finish(
                run, RunOutcome.SKIPPED, RunTally(), FetchStats(), "the collector is shutting down"
            )
        if not breaker.allow():
            wait = breaker.seconds_until_probe()
            error = f"circuit open after {breaker.failures} failed runs in a row; next probe in {wait:.0f}s"
            return await self._finish(run, RunOutcome.SKIPPED, RunTally(), FetchStats(), error)
        tally, stats = RunTally(), FetchStats()
        try:
            async with self._slots:
                done = await self._pull(source, run, cursor, tally, stats)
        except (FetchError, PayloadError) as exc:
            breaker.record_failure()
            failed = await self._fail(source, run, tally, stats, exc)
            if self.after_run is not None:
                await self.after_run.failed(failed, source, breaker)
            return failed
        except asyncio.CancelledError:
            breaker.release()
            # Shutdown or a crash-in-waiting: record it, then let the cancellation go on.
            await self._interrupted(run, tally, stats)
            raise
        except StoreUnavailable as exc:  # our disk, not the upstream: no breaker verdict, no traceback
            breaker.release()
            return await self._finish(run, RunOutcome.FAILED, tally, stats, f"not stored: {exc}")
        except Exception as exc:  # a bug must not kill the scheduler; it is recorded and logged
            log.exception("run %s of %s failed unexpectedly", run.id, name)
            breaker.record_failure()
            return await self._finish(run, RunOutcome.FAILED, tally, stats, f"internal error: {exc!r}")
        await self._finished(done)
        if done.outcome is RunOutcome.FAILED:  # every record rejected: nothing usable came
            breaker.record_failure()
            if self.after_run is not None:
                await self.after_run.failed(done, source, breaker)
            return done
        breaker.record_success()
        if self.after_run is not None:
            await self.after_run.succeeded(done, source, tally)
        return done

    async def _pull(
        self, source: SourceSettings, run: CollectionRun, cursor: str | None, tally: RunTally, stats: FetchStats
    ) -> CollectionRun:
        """Every page of one pull; the last page's batch also finishes the run (one transaction)."""
        adapter = self.adapter(source.name)
        url: str | None = adapter.first_url(cursor)
        while url is not None:
            tally.pages += 1
            if tally.pages > MAX_PAGES:
                raise PayloadError(f"more than {MAX_PAGES} pages: the upstream's `next` links do not end")
            collected_at = utcnow()
            fetched = await fetch(self.client, url, source, self.settings, stats, adapter.accepted_statuses)
            tally.last_answer = fetched
            parsed = await self._parse(adapter, fetched)
            if parsed.next_url is not None and not within(parsed.next_url, allowed_origins(source)):
                # A `next` link elsewhere would send our requests (and the pull) to a host nobody configured.
                raise PayloadError(
                    f"the answer's `next` link leads off the source's own origin ({origin(str(source.url))}); "
                    "not followed"
                )
            last_page = parsed.next_url is None

            def finish(result: IngestResult, parsed: Parsed = parsed) -> RunFinish:
                self._count(tally, parsed, result)
                if tally.rejected and tally.rejected == tally.fetched:
                    error = f"every record was rejected ({tally.rejected}), e.g. {tally.first_example}"
                    return self._finish_fields(RunOutcome.FAILED, tally, stats, error)
                outcome = RunOutcome.PARTIAL if tally.rejected else RunOutcome.SUCCESS
                return self._finish_fields(outcome, tally, stats, tally.first_rejection)

            result = await self.store.observations.ingest(
                Batch(
                    source.name,
                    parsed.records,
                    run_id=run.id,
                    collected_at=collected_at,
                    payload=fetched.body,
                    content_type=fetched.content_type,
                    content_encoding=fetched.content_encoding,
                    cursor=parsed.cursor if last_page else None,
                    rejected=parsed.rejected,
                    positions=parsed.positions,
                ),
                finish=finish if last_page else None,
            )
            if not last_page:
                self._count(tally, parsed, result)
            elif result.run is not None:
                return result.run
            url = parsed.next_url
        raise AssertionError("unreachable: the last page finishes the run")

    @staticmethod
    def _count(tally: RunTally, parsed: Parsed, result: IngestResult) -> None:
        tally.fetched += len(parsed.records) + len(parsed.rejected)
        tally.new += result.new
        tally.revised += len(result.revised)
        tally.unchanged += result.unchanged
        tally.rejected += len(result.rejected)
        tally.revisions += result.revised
        for rec in parsed.records:
            tally.touched.setdefault(rec.indicator, set()).add(rec.period)
            tally.areas.setdefault(rec.indicator, set()).add(rec.area)
        if result.rejected and tally.first_rejection is None:
            first = result.rejected[0]
            reason = first.reason if len(first.reason) <= 300 else first.reason[:297] + "..."  # it may quote values
            tally.first_example = f"#{first.index}: {reason}"
            tally.first_rejection = f"{len(result.rejected)} records rejected, e.g. {tally.first_example}"

    async def _parse(self, adapter: Adapter, fetched: Fetched) -> Parsed:
        if len(fetched.body) <= INLINE_PARSE_BYTES:
            return adapter.parse(fetched)
        return await asyncio.to_thread(adapter.parse, fetched)

    @staticmethod
    def _finish_fields(outcome: RunOutcome, tally: RunTally, stats: FetchStats, error: str | None) -> RunFinish:
        return RunFinish(
            outcome=outcome,
            fetched=tally.fetched,
            new=tally.new,
            revised=tally.revised,
            unchanged=tally.unchanged,
            rejected=tally.rejected,
            error=error,
            latency_ms=round(stats.latency_ms, 3) if stats.attempts else None,
            bytes=stats.bytes if stats.attempts else None,
            http_status=stats.status,
        )

    async def _fail(
        self, source: SourceSettings, run: CollectionRun, tally: RunTally, stats: FetchStats, exc: Exception
    ) -> CollectionRun:
        """Finish a failed run, keeping the answer that failed it (bounded) with the run, in one transaction.

        The error every feed role sees is ours; the upstream's own words (``detail``) go to the log,
        and its bytes to the kept payload (``store.observations.ingest_log(run_id)`` names its digest).
        """
        error = str(exc)
        detail, url = getattr(exc, "detail", None), getattr(exc, "url", None)
        if detail or url:
            said = f"; the upstream said: {detail}" if detail else ""
            log.warning("run %s of %s failed: %s (%s)%s", run.id, source.name, error, url or source.url, said)
        body, content_type = getattr(exc, "body", None), getattr(exc, "content_type", None)
        encoding = getattr(exc, "content_encoding", None)
        if body is None and isinstance(exc, PayloadError) and tally.last_answer is not None:
            answer = tally.last_answer
            body, content_type, encoding = answer.body, answer.content_type, answer.content_encoding
        if not body:
            return await self._finish(run, RunOutcome.FAILED, tally, stats, error)
        if len(body) > KEEP_FAILED_BYTES:
            error += f" (the first {KEEP_FAILED_BYTES:,} of its {len(body):,} bytes are kept)"
            body = body[:KEEP_FAILED_BYTES]
        fields = self._finish_fields(RunOutcome.FAILED, tally, stats, error)
        result = await self.store.observations.ingest(
            Batch(source.name, [], run_id=run.id, payload=body, content_type=content_type, content_encoding=encoding),
            finish=lambda _: fields,
        )
        assert result.run is not None
        await self._finished(result.run)
        return result.run

    async def _finish(
        self, run: CollectionRun, outcome: RunOutcome, tally: RunTally, stats: FetchStats, error: str | None
    ) -> CollectionRun:
        # While the database cannot be written, the store keeps the end and writes it on recovery.
        done = await self.store.runs.end_eventually(run, self._finish_fields(outcome, tally, stats, error))
        await self._finished(done)
        return done

    async def _finished(self, done: CollectionRun) -> None:
        await tell(self.on_run_finished, done, log, "run-finished hook")

    # --- beginning, interrupting, shutdown ------------------------------------------------------------------

    async def _begin(
        self, name: str, trigger: RunTrigger, requested_by: str | None
    ) -> tuple[CollectionRun, str | None]:
        """Begin a run. A cancellation while its row is being written does not leave the row
        'running': the write completes, and the run is recorded as interrupted."""
        begun = asyncio.ensure_future(self.store.runs.begin(name, trigger, requested_by))
        try:
            return await asyncio.shield(begun)
        except asyncio.CancelledError:
            try:
                run, _ = await _settled(begun)
            except Exception:  # the row was never written: nothing to end
                raise asyncio.CancelledError from None
            await self._interrupted(run, RunTally(), FetchStats())
            raise

    async def _interrupted(self, run: CollectionRun, tally: RunTally, stats: FetchStats) -> None:
        """Record ``run`` as interrupted, even if the caller is cancelled again meanwhile."""
        try:
            await _settled(
                asyncio.ensure_future(
                    self._finish(run, RunOutcome.INTERRUPTED, tally, stats, "interrupted by shutdown")
                )
            )
        except StoreError:  # it had ended already: its last batch, queued before the cancel, finished it
            ended = await self.store.runs.get(run.id)
            if ended is not None:
                await self._finished(ended)

    async def shutdown(self, grace: float | None = None) -> None:
        """Refuse new runs; give in-flight runs ``grace`` seconds, then cancel them (recorded as interrupted)."""
        self._closing = True
        grace = self.settings.shutdown_grace.total_seconds() if grace is None else grace
        pending = {t for t in self._inflight if not t.done() and t is not asyncio.current_task()}
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=10)

    def busy(self) -> set[str]:
        """The sources with a run in flight (or waiting for one) in this process."""
        return {name for name, lock in self._locks.items() if lock.locked()}

    def breaker_state(self, name: str) -> BreakerState:
        return self.breakers[name].state

    def source_states(self) -> list[SourceState]:
        """Each configured source's schedule, circuit and next run, by name."""
        out = []
        for name, s in sorted(self.sources.items()):
            schedule = s.cron if s.cron is not None else f"every {s.every.total_seconds():g}s" if s.every else ""
            nxt = self.next_run(name) if self.next_run is not None and s.enabled else None
            out.append(SourceState(name, s.kind.value, s.agency, s.enabled, schedule, self.breakers[name].state, nxt))
        return out


async def _settled(future: asyncio.Future[T]) -> T:
    """``future``'s result, waited for through any cancellations of the caller: a write already
    queued is done whole anyway, and leaving before it lands would leave a run 'running'. The
    callers raise the cancellation again once it has landed."""
    while True:
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done():
                return future.result()
