"""Manual runs asked of a process that runs no collectors (``serve --role feed``), served by the
collector processes on the same database.

- ``QueuedRuns`` is the feed's RunService (feed/queries.py) in a feed-only process: it queues a
  request (``run_requests``, storage/repos/requests.py; on PostgreSQL also NOTIFY
  ``opscentre_requests``) and waits for the ``run.finished`` events of the sources asked for, by
  the user who asked, appended after the request: those are the runs it returns. The caller sees
  the progress as any run's: each ``run.finished`` event reaches every client through the feed.
- ``serve_requests`` runs in each collector process: it claims requests one at a time (``FOR
  UPDATE SKIP LOCKED`` on PostgreSQL: no request is taken twice), runs their sources through its
  collector and marks them done. It wakes on ``opscentre_requests`` (also sent when a process takes
  a source over); SQLite has no notifications, so there it looks every few seconds.
- A claim lasts as long as its claimer lives (an unexpired lease row): a request claimed by a process
  that died before its run began is claimed again by the process that takes its source over. The
  caller is answered within a limit either way: if nobody takes it within ``claim_timeout`` of the
  claimer's lease expiring, it is withdrawn and the caller told which process took it and died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from collectors.breaker import BreakerState
from collectors.config import SourceSettings
from collectors.pipeline import Collector, SourceState, select_sources
from storage import CollectionRun, RunTrigger, Store
from storage.lock import PROCESS_ID
from storage.models import EventType
from storage.repos.leases import LeaseNotHeld
from storage.repos.requests import RunRequest

log = logging.getLogger(__name__)

CLAIM_TIMEOUT_S = 60.0  # a request no collector process has claimed by then is withdrawn, with a clear error
LOOK_EVERY_S = 1.0  # between looks at the event log and the request, besides every commit heard
SQLITE_POLL_S = 2.0  # SQLite only (no notifications): between looks for a request to claim
PG_POLL_S = 30.0  # PostgreSQL: a safety net only (a request is heard at once)
READ_PAGE = 1000


class NoCollector(RuntimeError):
    """No collector process took a manual run in time."""


class QueuedRuns:
    """The feed's RunService (feed/queries.py) for a process without collectors."""

    def __init__(self, store: Store, sources: Iterable[SourceSettings]) -> None:
        self.store = store
        self.sources = {s.name: s for s in sources}
        self.claim_timeout = CLAIM_TIMEOUT_S

    def select(self, *, source: str | None = None, agency: str | None = None, everything: bool = False) -> list[str]:
        """Names of the enabled sources asked for (the configuration's, as a collector would choose)."""
        return select_sources(self.sources, source=source, agency=agency, everything=everything)

    def source_states(self) -> list[SourceState]:
        """From the configuration: this process runs no source, so it knows no circuit or next run
        (each collector process has its own); the circuit is told as closed."""
        out = []
        for name, s in sorted(self.sources.items()):
            schedule = s.cron if s.cron is not None else f"every {s.every.total_seconds():g}s" if s.every else ""
            out.append(SourceState(name, s.kind.value, s.agency, s.enabled, schedule, BreakerState.CLOSED, None))
        return out

    async def run_many(
        self, names: Iterable[str], trigger: RunTrigger = RunTrigger.MANUAL, requested_by: str | None = None
    ) -> list[CollectionRun]:
        """Queue the runs and return them once each has finished (in the order asked).

        One request per source: among several collector processes each source is run by the one
        holding its lease (collectors/scheduler.py), so the sources of one command may be run by
        different processes."""
        names = list(dict.fromkeys(names))
        position = await self.store.events.last_seq()  # the runs asked for finish after this
        requests = {n: (await self.store.requests.add([n], requested_by, trigger)).id for n in names}
        found: dict[str, CollectionRun] = {}
        orphaned: dict[tuple[int, str], float] = {}  # (request, its claimer, gone) -> when first seen gone
        wake = asyncio.Event()

        def heard(seq: int) -> None:
            wake.set()

        self.store.add_listener(heard)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.claim_timeout
        try:
            while True:
                # The requests' state before the events: a request marked done has its run's
                # run.finished committed before, so it is among the events read next.
                states = {n: await self.store.requests.get(requests[n]) for n in names if n not in found}
                while events := await self.store.events.after(position, limit=READ_PAGE):
                    position = events[-1].seq
                    for e in events:
                        if e.type != EventType.RUN_FINISHED:
                            continue
                        run = CollectionRun.model_validate(e.payload)
                        if run.source in states and run.requested_by == requested_by and run.trigger == trigger:
                            found.setdefault(run.source, run)
                    if len(events) < READ_PAGE:
                        break
                if len(found) == len(names):
                    return [found[n] for n in names]
                for name, state in states.items():
                    if name in found or state is None:
                        continue
                    if state.done_at is not None:
                        raise NoCollector(
                            f"the collector process {state.claimed_by} took the run of {name} but did not run it"
                        )
                    if state.claimed_by is None and loop.time() > give_up:
                        if await self.store.requests.withdraw(state.id):
                            raise NoCollector(
                                f"no collector process took the run of {name} within {self.claim_timeout:g}s "
                                f"(request #{state.id}): is any `opscentre serve --role collector` running it?"
                            )
                    await self._claimer_gone(name, state, orphaned)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(LOOK_EVERY_S):  # not wait_for, which can swallow a cancellation
                        await wake.wait()
                wake.clear()
        finally:
            self.store.remove_listener(heard)
            for name in names:  # given up (an error, the caller gone): whatever nobody took is withdrawn
                if name not in found:
                    with contextlib.suppress(Exception):
                        await self.store.requests.withdraw(requests[name])

    async def _claimer_gone(self, name: str, state: RunRequest, orphaned: dict[tuple[int, str], float]) -> None:
        """A request claimed by a process that is gone (no unexpired lease: it died before its run
        began) is for another to claim again; if none does within ``claim_timeout`` of its claimer's
        lease expiring, it is withdrawn and the caller told (NoCollector)."""
        if state.claimed_by is None or state.done_at is not None or await self.store.leases.live(state.claimed_by):
            return
        now = asyncio.get_running_loop().time()
        since = orphaned.setdefault((state.id, state.claimed_by), now)
        if now - since > self.claim_timeout and await self.store.requests.withdraw(state.id, state.claimed_by):
            raise NoCollector(
                f"the collector process {state.claimed_by} took the run of {name} (request #{state.id}) and stopped "
                f"before running it (its lease expired), and no other collector process took it over within "
                f"{self.claim_timeout:g}s: withdrawn, not run"
            )


async def serve_requests(store: Store, collector: Collector) -> None:
    """In a collector process, until cancelled: claim each queued request, run it, mark it done.

    Cancel it before the collector's shutdown and await it after (cli/runtime.py)."""
    wake = asyncio.Event()

    def heard(payload: str | None) -> None:
        wake.set()

    notified = store.add_request_listener(heard)
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            wake.clear()
            try:
                while (request := await store.requests.claim(PROCESS_ID, runnable(collector))) is not None:
                    task = asyncio.create_task(_serve(store, collector, request), name=f"run-request-{request.id}")
                    running.add(task)
                    task.add_done_callback(running.discard)
            except Exception:  # the database cannot be written now: look again later
                log.exception("cannot claim manual run requests")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PG_POLL_S if notified else SQLITE_POLL_S):  # not wait_for (idem)
                    await wake.wait()
    finally:
        store.remove_request_listener(heard)
        # Runs already begun are the collector's to end (its shutdown gives them their grace period):
        # cancelled, this stops claiming and waits for them, so that each request is marked done.
        if running:
            await asyncio.wait(running)


def runnable(collector: Collector) -> frozenset[str]:
    """The sources this process may run now: all it knows, or, among several collector processes,
    those whose leases it holds."""
    return frozenset(n for n in collector.sources if collector.holds is None or collector.holds(n))


async def _serve(store: Store, collector: Collector, request: RunRequest) -> None:
    names = [n for n in request.sources if n in collector.sources]
    if len(names) < len(request.sources):
        log.warning(
            "request #%d names sources this process does not know: %s",
            request.id,
            ", ".join(sorted(set(request.sources) - set(names))),
        )
    try:
        await collector.run_many(names, request.trigger, request.requested_by)
    except LeaseNotHeld:  # the lease moved on between the claim and the run: for its holder to take
        with contextlib.suppress(Exception):
            await store.requests.release(request.id)
        return
    except Exception:
        log.exception("request #%d failed", request.id)
    with contextlib.suppress(Exception):  # a run's record is what counts; done_at is bookkeeping
        await store.requests.finish(request.id)
