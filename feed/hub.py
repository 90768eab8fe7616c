"""The hub: reads the event log once per tick and fans it out to every subscribed client.

Per tick: new events are read from the store, turned into messages once per distinct filter,
encoded once, and appended to the outbox of every client on that filter. Clients that joined or
resumed between ticks (their position is past the tick's start) get messages built for just the
events they lack. Snapshots and resumes happen under the same lock as ticks, so a client's
position is exact: no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from websockets.asyncio.server import ServerConnection, broadcast

from feed.builder import Built, Catalogue, Matcher, SeriesKey, build, replay
from feed.client import Client, encode
from feed.metrics import Metrics
from feed.protocol import AlertInfo, Change, Filter, Heartbeat, RunInfo, Snapshot
from storage import AlertState, Event, EventType, Severity, SnapshotFilter, Store
from storage.clock import utcnow

log = logging.getLogger(__name__)

READ_PAGE = 5000
PAST_CONCURRENCY = 2  # time-travel reads at once, each on a database connection of its own
SNAPSHOT_ALERTS = 200  # the newest open alerts of its filter a live snapshot holds


@dataclass
class SharedRead:
    """A snapshot being read, and how many clients wait for it."""

    task: asyncio.Task[tuple[int, str]] | None = None
    waiters: int = 0
    started: bool = False  # reading: let it finish (a read cancelled midway can leave its transaction open)


class Hub:
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        tick: float = 0.2,
        heartbeat: float = 15.0,
        snapshot_concurrency: int = 2,
        resume_max_events: int = 100_000,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.tick = tick
        self.heartbeat = heartbeat
        self.clients: set[Client] = set()
        self.position = 0  # every event up to here has been fanned out
        self.newest: dict[SeriesKey, str] = {}  # each series' newest period
        self.catalogue = Catalogue({}, {})
        self.lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._advanced = asyncio.Event()  # set (and replaced) whenever clients' positions move on
        self._tasks: list[asyncio.Task[None]] = []
        self._matchers: dict[tuple[object, ...], Matcher] = {}
        self._snapshots: dict[tuple[tuple[object, ...], int], str] = {}  # the last few, encoded
        self._reading: dict[tuple[object, ...], SharedRead] = {}  # snapshots being read, by filter
        self._slots = asyncio.Semaphore(snapshot_concurrency)
        self._past_slots = asyncio.Semaphore(PAST_CONCURRENCY)  # snapshots of the past being read
        self.resume_max_events = resume_max_events

    @property
    def epoch(self) -> str:
        return self.store.epoch

    async def start(self) -> None:
        await self.reload_catalogue()
        self.newest = await self.store.observations.newest_periods()
        self.position = await self.store.events.last_seq()
        self.metrics.seq.set(self.position)
        self.store.add_listener(self._on_commit)
        self._tasks = [
            asyncio.create_task(self._ticks(), name="feed-ticks"),
            asyncio.create_task(self._beats(), name="feed-heartbeats"),
        ]

    async def stop(self) -> None:
        self.store.remove_listener(self._on_commit)
        for shared in list(self._reading.values()):
            if shared.task is not None and not shared.started:
                shared.task.cancel()  # still waiting for its turn: nobody will read it now
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def reload_catalogue(self) -> None:
        indicators = {i.code: i for i in await self.store.reference.indicators()}
        lineage = {
            a.code: await self.store.reference.agency_lineage(a.code) for a in await self.store.reference.agencies()
        }
        today = utcnow().date()
        areas: dict[str, list[str]] = {}
        for area in await self.store.reference.areas_in_force(today, include_nation=True):
            merged = {p.code for p in await self.store.reference.predecessors(area.code, today)} - {area.code}
            areas[area.code] = [area.code, *sorted(merged)]
        self.catalogue = Catalogue(indicators, lineage, areas)
        self._matchers.clear()

    def matcher(self, flt: Filter) -> Matcher:
        key = flt.key()
        if key not in self._matchers:
            self._matchers[key] = Matcher.of(flt, self.catalogue)
        return self._matchers[key]

    def _on_commit(self, seq: int) -> None:
        self._wake.set()

    # --- ticks ------------------------------------------------------------------------------------------

    async def _ticks(self) -> None:
        while True:
            try:
                # Wake on a commit. On SQLite another process (a CLI command) may write the file
                # unheard, so wake once a second too; on PostgreSQL the store hears every process's
                # commits (LISTEN/NOTIFY, and a catch-up after reconnecting): no polling there.
                poll = None if self.store.hears_other_processes else 1.0
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that
                # meets a completed wait (a commit as the server stops), and this loop went on for ever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(poll):
                        await self._wake.wait()
                self._wake.clear()
                started = time.monotonic()
                await self.fan_out()
                await asyncio.sleep(max(0.0, self.tick - (time.monotonic() - started)))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed tick failed; retrying")
                await asyncio.sleep(1.0)

    async def fan_out(self) -> None:
        """One tick: everything committed since the last one, to everyone."""
        async with self.lock:
            while True:
                events = await self.store.events.after(self.position, limit=READ_PAGE)
                if not events:
                    return
                self._deliver(events)
                if len(events) < READ_PAGE:
                    return

    def _deliver(self, events: list[Event]) -> None:
        start, end = self.position, events[-1].seq
        self._learn(events)
        groups: dict[tuple[object, ...], list[Client]] = {}
        for client in self.clients:
            if client.subscribed and not client.closing:
                assert client.filter is not None
                groups.setdefault(client.filter.key(), []).append(client)
        for members in groups.values():
            matcher = self.matcher(members[0].filter)  # type: ignore[arg-type]
            shared: tuple[list[Built], list[str]] | None = None
            direct: list[ServerConnection] = []
            for client in members:
                if client.position >= end:
                    continue
                if client.position <= start:
                    if shared is None:
                        built = build(events, matcher, self.epoch, self.newest, end)
                        shared = (built, [encode(b.message) for b in built])
                    if client.can_take_direct():
                        direct.append(client.connection)
                    else:
                        client.push_built(shared[0], shared[1], self.epoch)
                else:  # joined between ticks: only what it lacks
                    lacking = [e for e in events if e.seq > client.position]
                    client.push_built(build(lacking, matcher, self.epoch, self.newest, end), None, self.epoch)
                client.position = end
            if direct and shared is not None:
                # Caught-up clients, written in one go as a bare broadcast would: no task wake-ups.
                for text in shared[1]:
                    broadcast(direct, text)
                self.metrics.sent.inc(len(direct) * len(shared[1]))
        for client in self.clients:
            if not client.subscribed:
                client.position = max(client.position, end)
        self.position = end
        self.metrics.seq.set(end)
        self._moved_on()

    def _moved_on(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    async def delivered(self, client: Client, seq: int) -> None:
        """Return once every event up to ``seq`` is in ``client``'s outbox (or the client is gone)."""
        while client.position < seq and not client.closing:
            advanced = self._advanced
            self._wake.set()  # the tick may be asleep: the events are committed already
            await advanced.wait()

    def _learn(self, events: Iterable[Event]) -> None:
        """Keep each series' newest period, and the collector metrics, from the events themselves."""
        for ev in events:
            p = ev.payload
            if ev.type is EventType.OBSERVATION:
                key = (p["indicator"], p["area"], p["source"])
                if p["period"] >= self.newest.get(key, ""):
                    self.newest[key] = p["period"]
            elif ev.type is EventType.RUN_FINISHED:
                self.metrics.run_finished(RunInfo.model_validate(p))

    # --- joining ------------------------------------------------------------------------------------------
    #
    # A storm of clients subscribing at once must not hold up the live clients, nor keep the server
    # busy for clients that have already left: snapshots of one filter are read once and shared
    # (clients asking meanwhile join the read in flight), at most ``snapshot_concurrency`` reads
    # run at once (each holds the database reader and the event loop while it encodes), a client
    # that leaves while it waits is dropped at once, and a read nobody waits for any more is
    # cancelled.

    async def subscribe(self, client: Client, flt: Filter) -> None:
        """Send a snapshot for ``flt``; deltas follow from exactly its seq."""
        client.filter = client.matcher = client.past_seq = None  # the previous subscription, if any, ends here
        client.joining = True
        self.metrics.snapshots_pending.inc()
        try:
            matcher = self.matcher(flt)
            snapshot = await self._snapshot(client, flt, matcher)
            if snapshot is None or client.gone:
                self.metrics.snapshots_abandoned.inc()
                return
            seq, text = snapshot
            async with self.lock:
                client.filter, client.matcher = flt, matcher
                client.push_frame(text, seq)
                # What the hub fanned out since the snapshot's seq, as one catch-up (like a tick's).
                client.position = await self._catch_up(client, matcher, seq, upto=self.position)
        finally:
            client.joining = False
            self.metrics.snapshots_pending.dec()
            self._moved_on()

    async def _snapshot(self, client: Client, flt: Filter, matcher: Matcher) -> tuple[int, str] | None:
        """The encoded snapshot for ``flt`` (None if the client left before it was ready)."""
        key = flt.key()
        last = await self.store.events.last_seq()
        if (cached := self._snapshots.get((key, last))) is not None:
            return last, cached
        shared = self._reading.get(key)
        if shared is None:
            shared = self._reading[key] = SharedRead()
            shared.task = asyncio.create_task(self._read_snapshot(flt, matcher, shared), name="feed-snapshot")
            shared.task.add_done_callback(functools.partial(self._forget_done, key, shared))
        assert shared.task is not None
        shared.waiters += 1
        try:
            return await _unless_gone(client, asyncio.shield(shared.task))
        finally:
            shared.waiters -= 1
            if shared.waiters == 0 and not shared.started:
                shared.task.cancel()  # everyone who asked for it left before its turn came
                self._forget(key, shared)

    def _forget_done(self, key: tuple[object, ...], read: SharedRead, _: object) -> None:
        self._forget(key, read)

    def _forget(self, key: tuple[object, ...], read: SharedRead) -> None:
        if self._reading.get(key) is read:
            del self._reading[key]

    async def _read_snapshot(self, flt: Filter, matcher: Matcher, shared: SharedRead) -> tuple[int, str]:
        async with self._slots:
            shared.started = True
            self.metrics.snapshot_reads.inc()
            snap = await self.store.snapshots.current(_snapshot_filter(flt, self.catalogue))
            alerts = await routed_alerts(self.store, matcher, limit=SNAPSHOT_ALERTS)
            runs = await self.store.runs.recent(limit=50)
            message = Snapshot(
                epoch=self.epoch,
                seq=snap.seq,
                filter=flt,
                # Our own rows, already validated on the way in: constructed, not validated again.
                observations=[Change.model_construct(**o.__dict__) for o in snap.observations]
                if flt.observations
                else [],
                alerts=[AlertInfo.model_validate(d) for d in alerts],
                runs=[RunInfo.model_validate(r.model_dump()) for r in runs],
            )
            text = encode(message)
        self._snapshots[(flt.key(), snap.seq)] = text
        while len(self._snapshots) > 8:
            self._snapshots.pop(next(iter(self._snapshots)))
        return snap.seq, text

    async def subscribe_past(self, client: Client, flt: Filter, as_of: datetime) -> None:
        """Send a snapshot of the centre as known at ``as_of``; no live messages follow (the client
        is not subscribed) until it subscribes live again.

        The past is read on a connection of its own (``store.snapshots.as_of``), outside the hub's
        lock, at most ``past_concurrency`` at once: live ticks and other clients go on meanwhile."""
        client.filter = client.matcher = None  # the previous subscription, if any, ends here
        client.joining = True
        try:
            async with self._past_slots:
                if client.gone:
                    return
                past = await _unless_gone(
                    client, self.store.snapshots.as_of(as_of, _snapshot_filter(flt, self.catalogue))
                )
            if past is None or client.gone:
                return
            matcher = self.matcher(flt)
            message = Snapshot(
                epoch=past.epoch,
                seq=past.seq,
                filter=flt,
                as_of=past.as_of,
                observations=[Change.model_construct(**o.__dict__) for o in past.observations]
                if flt.observations
                else [],
                alerts=[AlertInfo.model_validate(d) for a in past.alerts if matcher.alert(d := a.model_dump())],
                runs=[RunInfo.model_validate(r.model_dump()) for r in past.runs],
            )
            client.push_frame(encode(message))
            client.past_seq = past.seq
        finally:
            client.joining = False
            self._moved_on()

    async def can_resume(self, epoch: str, seq: int) -> bool:
        """Whether every event after ``seq`` is still in the log, and few enough to replay."""
        if epoch != self.epoch:
            return False
        last = await self.store.events.last_seq()
        first = await self.store.events.first_seq()
        return seq <= last and (first == 0 or seq >= first - 1) and last - seq <= self.resume_max_events

    async def resume(self, client: Client, flt: Filter, seq: int) -> None:
        """Replay every event the client missed after ``seq``, one message per event in seq order
        (nothing merged), then keep it live."""
        client.filter = client.matcher = client.past_seq = None
        client.joining = True
        self.metrics.snapshots_pending.inc()
        try:
            matcher = self.matcher(flt)
            newest: dict[SeriesKey, str] = {}
            position = seq
            # Outside the lock, so that other clients' ticks go on, at the pace the client reads
            # (its outbox stays under half its limit); the lock covers only what came meanwhile.
            while not client.gone and await self.store.events.last_seq() > position:
                async with self._slots:
                    if client.gone:  # left while waiting for its turn: read nothing for it
                        break
                    events = await self.store.events.after(position, limit=READ_PAGE)
                if not events:
                    break
                await self._push_exact(client, events, matcher, newest, pace=True)
                position = events[-1].seq
            if client.gone:
                self.metrics.snapshots_abandoned.inc()
                return
            async with self.lock:
                while events := await self.store.events.after(position, limit=READ_PAGE):
                    await self._push_exact(client, events, matcher, newest, pace=False)
                    position = events[-1].seq
                client.filter, client.matcher = flt, matcher
                client.position = position
        finally:
            client.joining = False
            self.metrics.snapshots_pending.dec()
            self._moved_on()

    async def _push_exact(
        self, client: Client, events: list[Event], matcher: Matcher, newest: dict[SeriesKey, str], *, pace: bool
    ) -> None:
        half = client.max_queue_bytes // 2
        for built in replay(events, matcher, self.epoch, newest):
            if pace and client.queued_bytes >= half:
                await client.drained(half)
            client.push_frame(encode(built.message), built.seq)

    async def _catch_up(self, client: Client, matcher: Matcher, position: int, upto: int) -> int:
        """Push to ``client`` the events after ``position`` up to ``upto``, coalesced as a tick
        would; returns the position reached."""
        while position < upto:
            events = [e for e in await self.store.events.after(position, limit=READ_PAGE) if e.seq <= upto]
            if not events:
                break
            client.push_built(build(events, matcher, self.epoch, self.newest, events[-1].seq), None, self.epoch)
            position = events[-1].seq
        return position

    def add(self, client: Client) -> None:
        client.position = self.position  # nothing before now is owed to it (a subscription sets its own)
        self.clients.add(client)
        self.metrics.connections.labels(client.role.value).inc()

    def remove(self, client: Client) -> None:
        if client in self.clients:
            self.clients.discard(client)
            self.metrics.connections.labels(client.role.value).dec()

    # --- heartbeats -------------------------------------------------------------------------------------

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            now = utcnow()
            idle: dict[int, list[ServerConnection]] = {}
            for client in list(self.clients):
                if client.can_take_direct():
                    seq = client.position if client.past_seq is None else client.past_seq
                    idle.setdefault(seq, []).append(client.connection)
            for position, connections in idle.items():
                broadcast(connections, encode(Heartbeat(epoch=self.epoch, seq=position, time=now)))
                self.metrics.sent.inc(len(connections))


T = TypeVar("T")


async def _unless_gone(client: Client, work: Awaitable[T]) -> T | None:
    """``work``'s result, or None as soon as the client's connection closes."""
    waiting = asyncio.ensure_future(work)
    closed = asyncio.ensure_future(client.connection.wait_closed())
    try:
        await asyncio.wait({waiting, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
        if not waiting.done():
            waiting.cancel()
    if waiting.done() and not waiting.cancelled():
        return waiting.result()
    return None


async def routed_alerts(
    store: Store,
    matcher: Matcher,
    *,
    limit: int,
    open_only: bool = True,
    states: Iterable[AlertState] = (),
    severities: Iterable[Severity] = (),
) -> list[dict[str, Any]]:
    """The newest ``limit`` alerts that ``matcher`` lets through (as dumps), read page by page:
    a province's few alerts may lie behind many of the country's."""
    out: list[dict[str, Any]] = []
    before = None
    size = limit if matcher.every_alert else READ_PAGE
    while len(out) < limit:
        page = await store.alerts.listed(
            open_only=open_only, limit=size, states=states, severities=severities, before=before
        )
        out += [d for a in page if matcher.alert(d := a.model_dump())]
        if len(page) < size:
            break
        before = page[-1].id
    return out[:limit]


def _snapshot_filter(flt: Filter, catalogue: Catalogue) -> SnapshotFilter:
    return SnapshotFilter(
        indicators=frozenset(flt.indicators),
        areas=catalogue.areas_of(flt),
        categories=frozenset(flt.categories),
        agencies=frozenset(flt.agencies),
    )
