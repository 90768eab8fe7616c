"""Fan-out: how many delta messages the feed delivers per second to N subscribed clients, how late
changes arrive (from ingest to receipt), and what an idle connection costs the server — beside a
bare ``websockets.broadcast`` server measured in the same run, on the same machine, with the same
client process code.

    python -m bench.fanout [--clients 1000 2000] [--rate 200] [--seconds 20] [--warmup 3]
                           [--engine sqlite|postgresql] [--feeds K]

For each N, two runs, each with its own server process and client process(es)
(``bench/fanout_clients.py``):

* ours: a real ``FeedServer`` (default settings but the port) over a real ``Store`` on a
  temporary SQLite file (WAL), holding one figure of each of 560 series (16 monthly
  national+provincial indicators × the nation and the 34 provinces in force since 2025-07-01).
  Changes are published by ingesting a batch every ``--interval`` (``rate × interval`` records,
  every series in turn, each round one month later, so every record is a new figure).
* bare: ``websockets.asyncio.server.serve`` (compression off, like ours) with the same
  publication schedule into an in-memory list; every tick (the feed's tick, 200 ms by default)
  it encodes one delta frame of what was published (the feed's own ``Delta`` shape and encoder)
  and sends that one frame to every connection with ``websockets.broadcast``.

Clients subscribe to everything (``hello`` with ``"filter": {}``, ``Authorization: Bearer``),
wait for their snapshot, and count the delta frames they receive; one in ``--sample-every``
parses them. Latency is per change: the sampling client's receive time minus the change's
``collected_at``, which the ``Batch`` stamps when it is made, just before ``store.observations.ingest`` (in
the bare server: when the change is appended). Both clocks are this machine's wall clock, and
the field is in every real message, so nothing is added to the payload. It includes the wait for
the next tick (0 to 200 ms by default), in both servers alike. Memory: the server process's RSS
with N idle subscribed clients (2 s after the last snapshot) minus its RSS before they
connected, over N.

``--engine postgresql`` puts ours on PostgreSQL: a throwaway server of the bench's own
(``bench/pgserver.py``: durable settings), a fresh migrated database per run. ``--feeds K`` (K > 1,
PostgreSQL only) adds a third run for each N: a publishing process (the same schedule through
``store.observations.ingest``, serving no client: a collector's part) and K real ``opscentre serve --role feed``
processes on the same database, which learn its events from PostgreSQL (LISTEN/NOTIFY, then a read
by seq); the client processes are spread over them in turn (at least one per feed process). It is
printed beside the one-process run (store and feed in one process) with the ratio of their p99.
Where this tree's ``opscentre serve`` has no ``--role``, that run is skipped and said so (FAIL).
"Rest of the machine" then includes PostgreSQL's own processes.

Targets (the project's acceptance figures): N=1,000 at 200 changes/s, p99 < 500 ms and at least
0.7 of the bare broadcast's delivered messages per second; under 64 KiB per idle connection.
With K feed processes: p99 < 500 ms too, at most twice one process's p99, and no connection
failed or lost. Printed as PASS/FAIL for every N; the exit status is 0 either way.

Also printed, to explain the figures: CPU of the server, of the clients and of the rest of the
(shared) machine during the window; the server's work per tick, event-loop lag and garbage
collector pauses; its RSS after ``gc.collect()`` and ``malloc_trim(0)`` (memory freed but kept
by the allocator, versus memory still referenced).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import math
import os
import platform
import queue
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import websockets

from feed.config import FeedSettings

INDICATORS = ["CPI_YOY", "CPI_MOM", "IIP_YOY", "RETAIL_SALES", "BUDGET_REVENUE", "BUDGET_EXPENDITURE",
              "PUBLIC_INVESTMENT_DISBURSED", "EXPORTS", "IMPORTS", "FDI_REGISTERED", "NEW_ENTERPRISES",
              "ENTERPRISE_EXITS", "SI_PARTICIPANTS", "UI_PARTICIPANTS", "TRAFFIC_ACCIDENTS",
              "LEVEL4_SERVICE_SHARE"]  # fmt: skip
# The 34 provinces and cities in force since 2025-07-01.
PROVINCES = ["01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40",
             "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96"]  # fmt: skip
AREAS = ["VN", *PROVINCES]
SOURCE = "bench"
TOKEN = "bench-fanout-display-token-0123456789"
HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024

# --- what is published -------------------------------------------------------------------------------

Figure = tuple[str, str, str, float]  # indicator, area, period, value


def month(index: int) -> str:
    """Month ``index`` after 2025-07 (the first month of the 34 provinces)."""
    year, m = divmod(2025 * 12 + 6 + index, 12)
    return f"{year}-{m + 1:02d}"


class Figures:
    """Every series in turn; each round one month later than the last, so every figure is new."""

    def __init__(self) -> None:
        self.series = [(ind, area) for area in AREAS for ind in INDICATORS]
        self.taken = 0

    def round(self, index: int) -> list[Figure]:
        return [(ind, area, month(index), _value(ind, area, index)) for ind, area in self.series]

    def take(self, n: int) -> list[Figure]:
        out = []
        for k in range(self.taken, self.taken + n):
            rnd, i = divmod(k, len(self.series))
            ind, area = self.series[i]
            out.append((ind, area, month(rnd + 1), _value(ind, area, rnd + 1)))  # round 0 is the prefill
        self.taken += n
        return out


def _value(indicator: str, area: str, index: int) -> float:
    return round(100 + zlib.crc32(f"{indicator}/{area}".encode()) % 1000 / 10 + index * 0.37, 2)


# --- the server processes -----------------------------------------------------------------------------


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)
    return {
        "p50": values[len(values) // 2],
        "p99": values[min(len(values) - 1, int(len(values) * 0.99))],
        "max": values[-1],
        "n": len(values),
    }


class Publisher:
    """``rate`` figures per second, in a batch every ``interval``, through ``sink``; on schedule."""

    def __init__(self, rate: float, interval: float, sink: Callable[[list[Figure]], Awaitable[None]]) -> None:
        self.rate, self.interval, self.sink = rate, interval, sink
        self.figures = Figures()
        self.published = 0
        self.sink_seconds: list[float] = []
        self.late: list[float] = []  # how late each batch started
        self.seconds = 0.0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            await self._publish(loop, start)
        finally:
            self.seconds = loop.time() - start

    async def _publish(self, loop: asyncio.AbstractEventLoop, start: float) -> None:
        # Intervals vary around the mean (same seeded sequence in both servers), so that the publishing
        # and the tick, both periodic, do not lock into one phase, which would bias the latency by up
        # to an interval either way.
        rng = random.Random(7)
        due = start
        while not self._stop.is_set():
            due += self.interval * rng.uniform(0.5, 1.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - loop.time()))
                return
            now = loop.time()
            self.late.append(now - due)
            n = int(self.rate * (now - start)) - self.published
            if n <= 0:
                continue
            began = time.perf_counter()
            await self.sink(self.figures.take(n))
            self.sink_seconds.append(time.perf_counter() - began)
            self.published += n

    def stop(self) -> None:
        self._stop.set()

    def report(self) -> dict[str, Any]:
        return {
            "changes": self.published,
            "seconds": self.seconds,
            "batches": len(self.sink_seconds),
            "batch_seconds": quantiles(self.sink_seconds),
            "late_seconds": quantiles(self.late),
        }


def release_free_memory() -> None:
    """Diagnosis only: collect garbage and hand glibc malloc's free pages back to the system, so that RSS
    kept by the allocator after a free can be told from memory still referenced."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Watch:
    """Diagnosis while publishing: how late the event loop runs a 5 ms timer (time it spent on other
    work without yielding), and the cyclic garbage collector's pauses."""

    def __init__(self) -> None:
        self.lag: list[float] = []
        self.gc_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._timer())

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()

    async def _timer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.005
            await asyncio.sleep(0.005)
            self.lag.append(loop.time() - due)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses[info["generation"]].append(time.perf_counter() - self._gc_started)

    def report(self) -> dict[str, Any]:
        return {
            "loop_lag_seconds": quantiles(self.lag),
            "gc": {
                str(g): {"count": len(p), "seconds": sum(p), "max": max(p, default=0.0)}
                for g, p in self.gc_pauses.items()
            },
        }


async def control(publisher: Publisher, ticks: list[float], extra: Callable[[], dict[str, Any]]) -> None:
    """The parent's commands on stdin: trim, publish, stop (report), quit."""
    loop = asyncio.get_running_loop()
    task: asyncio.Task[None] | None = None
    watch = Watch()
    joining: dict[str, float] = {}
    while True:
        command = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if command == "trim":
            release_free_memory()
            emit("trimmed")
        elif command == "publish" and task is None:
            joining = quantiles(ticks)  # while the clients were subscribing (nothing published yet)
            ticks.clear()
            watch.start()
            task = asyncio.create_task(publisher.run())
        elif command == "stop":
            publisher.stop()
            watch.stop()
            if task is not None:
                await task
            emit("published", **publisher.report(), **watch.report(), **extra(), tick_seconds_joining=joining)
        elif command in ("quit", ""):
            os._exit(0)  # no closing handshakes with thousands of clients: the bench is over


async def serve_ours(args: argparse.Namespace) -> None:
    from feed.config import UserSettings, hash_token
    from feed.protocol import Role
    from feed.server import FeedServer
    from storage import Batch, ObservationIn, Store

    store = await Store.open(args.db)
    figures = Figures()
    prefill = [ObservationIn(indicator=i, area=a, period=p, value=v) for i, a, p, v in figures.round(0)]
    await store.observations.ingest(Batch(SOURCE, prefill))
    settings = FeedSettings(port=0, tick=timedelta(seconds=args.tick))
    users = [UserSettings(name="bench-wall", role=Role.DISPLAY, token_sha256=hash_token(TOKEN))]
    server = FeedServer(store, settings, users)
    await server.start()

    ticks: list[float] = []
    fan_out = server.hub.fan_out

    async def timed_fan_out() -> None:  # the hub's own work per tick (the writers' sends come after)
        began = time.perf_counter()
        await fan_out()
        ticks.append(time.perf_counter() - began)

    server.hub.fan_out = timed_fan_out  # type: ignore[method-assign]

    async def ingest(batch: list[Figure]) -> None:
        records = [ObservationIn(indicator=i, area=a, period=p, value=v) for i, a, p, v in batch]
        await store.observations.ingest(Batch(SOURCE, records))  # collected_at: now

    def extra() -> dict[str, Any]:
        value = server.metrics.registry.get_sample_value
        return {
            "tick_seconds": quantiles(ticks),
            "sent": value("opscentre_feed_messages_sent_total"),
            "dropped": value("opscentre_feed_messages_dropped_total"),
            "slow_closes": value("opscentre_feed_slow_closes_total"),
            "connections": len(server.hub.clients),
        }

    emit("ready", port=server.port, path="/feed", tick=args.tick)
    await control(Publisher(args.rate, args.interval, ingest), ticks, extra)


async def serve_bare(args: argparse.Namespace) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    from feed.protocol import Change, Delta, Filter, Snapshot, Welcome

    epoch = "bare"
    pending: list[Change] = []
    ids = iter(range(1, 1 << 62))

    def changes(figures: Iterable[Figure]) -> list[Change]:
        now = datetime.now(UTC)
        return [
            Change(
                id=next(ids), indicator=i, area=a, source=SOURCE, period=p, value=v, status="official", revision=1,
                collected_at=now,
            )
            for i, a, p, v in figures
        ]  # fmt: skip

    prefill = changes(Figures().round(0))
    welcome = Welcome(server_version="bare", user="bench-wall", role="display", epoch=epoch, seq=len(prefill))
    snapshot = Snapshot(epoch=epoch, seq=len(prefill), filter=Filter(), observations=prefill, alerts=[], runs=[])
    hello_frames = [welcome.model_dump_json(exclude_none=True), snapshot.model_dump_json(exclude_none=True)]
    connections: set[ServerConnection] = set()

    async def handle(ws: ServerConnection) -> None:
        if ws.request is None or ws.request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return
        await ws.recv()  # the hello
        for frame in hello_frames:
            await ws.send(frame)
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    ticks: list[float] = []
    frames = 0

    async def tick() -> None:
        nonlocal frames
        while True:
            began = time.monotonic()
            if pending:
                frame = Delta(epoch=epoch, seq=pending[-1].id, changes=pending).model_dump_json(exclude_none=True)
                pending.clear()
                broadcast(connections, frame)
                frames += 1
                ticks.append(time.monotonic() - began)
            await asyncio.sleep(max(0.0, args.tick - (time.monotonic() - began)))

    async def publish(batch: list[Figure]) -> None:
        pending.extend(changes(batch))

    def extra() -> dict[str, Any]:
        return {"tick_seconds": quantiles(ticks), "frames": frames, "connections": len(connections)}

    async with serve(handle, "127.0.0.1", 0, compression=None, ping_interval=20, ping_timeout=20) as server:
        ticker = asyncio.create_task(tick())
        port = next(iter(server.sockets)).getsockname()[1]
        emit("ready", port=port, path="/feed", tick=args.tick)
        await control(Publisher(args.rate, args.interval, publish), ticks, extra)
        ticker.cancel()


async def serve_publisher(args: argparse.Namespace) -> None:
    """The writing side of several feed processes: the store on PostgreSQL, ingesting on schedule and
    serving no client (a collector process's part); the feed processes learn its events from the database."""
    from storage import Batch, ObservationIn, Store

    store = await Store.open(args.db)
    prefill = [ObservationIn(indicator=i, area=a, period=p, value=v) for i, a, p, v in Figures().round(0)]
    await store.observations.ingest(Batch(SOURCE, prefill))

    async def ingest(batch: list[Figure]) -> None:
        records = [ObservationIn(indicator=i, area=a, period=p, value=v) for i, a, p, v in batch]
        await store.observations.ingest(Batch(SOURCE, records))  # collected_at: now

    emit("ready", port=0, path="", tick=args.tick)
    await control(Publisher(args.rate, args.interval, ingest), [], dict)


def serve_main(args: argparse.Namespace) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    serve = {"ours": serve_ours, "bare": serve_bare, "publisher": serve_publisher}[args.serve]
    asyncio.run(serve(args))


# --- the parent: runs, measures, reports ---------------------------------------------------------------


class Child:
    """A child process spoken to by lines of text; its stdout parsed as JSON events."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.log = name, log
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(  # from the project's root: children run as ``python -m bench.NAME``
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            bufsize=1,
            cwd=HERE.parent,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"{self.name}: no {event!r} within {timeout:.0f} s{self._tail()}") from None
            if line is None:
                raise RuntimeError(f"{self.name} exited ({self.proc.wait()}) before {event!r}{self._tail()}")
            message = json.loads(line)
            if message.get("event") == event:
                return message

    def _tail(self) -> str:
        self._log_file.flush()
        lines = self.log.read_text(errors="replace").splitlines()[-20:]
        return ("; its stderr ends with:\n" + "\n".join(lines)) if lines else ""

    def cpu_seconds(self) -> float:
        return cpu_seconds_of(self.proc.pid)

    def rss_bytes(self) -> int:
        return rss_bytes_of(self.proc.pid)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send("quit")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


def cpu_seconds_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_bytes_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


FEED_LINE = re.compile(r"^\s*feed\s+(wss?://\S+)", re.M)


def feed_config(url: str, tick: float) -> str:
    """A feed process's configuration: the shared database, a free port, the bench's display user."""
    from feed.config import hash_token

    return f"""[database]
url = "{url}"

[feed]
port = 0
tick = "{round(tick * 1000)}ms"

[[users]]
name = "bench-wall"
role = "display"
token_sha256 = "{hash_token(TOKEN)}"
"""


def has_feed_role() -> bool:
    """Whether this tree's `opscentre serve` has `--role feed` (issue 10: several processes on one database)."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", "--help"],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    return "--role" in done.stdout


class FeedProcess:
    """A real `opscentre serve --role feed` on the shared database; its URL read from what it prints."""

    def __init__(self, name: str, config: Path, log: Path) -> None:
        self.name, self.log = name, log
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--role", "feed", "--config", str(config)],
            cwd=HERE.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUTF8": "1", "COLUMNS": "200"},
        )
        self._url: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        told = False
        for line in self.proc.stdout:
            self._log_file.write(line)
            self._log_file.flush()
            found = FEED_LINE.search(line)
            if found and not told:
                told = True
                self._url.put(found.group(1))
        self._url.put(None)

    def url(self, timeout: float) -> str:
        try:
            url = self._url.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name}: no feed URL within {timeout:.0f} s{self._tail()}") from None
        if url is None:
            raise RuntimeError(f"{self.name} exited ({self.proc.wait()}) before serving{self._tail()}")
        return url

    def _tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()[-20:]
        return ("; its output ends with:\n" + "\n".join(lines)) if lines else ""

    def close(self) -> None:
        self.proc.kill()  # SIGKILL: no closing handshakes with thousands of clients, the bench is over
        self.proc.wait()
        self._log_file.close()


@dataclass
class Run:
    kind: str  # "ours" or "bare"
    clients: int
    connected: int = 0
    connect_seconds: float = 0.0
    connect_failures: dict[str, int] = field(default_factory=dict)
    memory_per_connection: float = 0.0  # bytes
    rss_before: int = 0
    rss_idle: int = 0
    rss_trimmed: int = 0  # the same after gc.collect() and malloc_trim(0) (diagnosis)
    seconds: float = 0.0
    messages: int = 0
    changes: int = 0
    bytes: int = 0
    per_client: list[int] = field(default_factory=list)
    latency_ms: Counter[int] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    server_cpu: float = 0.0  # share of one core during the window
    clients_cpu: float = 0.0
    others_cpu: float = 0.0  # the rest of the machine: other processes (the machine is shared), interrupts
    server: dict[str, Any] = field(default_factory=dict)  # what the server process reported

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def changes_per_second(self) -> float:
        return self.changes / self.seconds if self.seconds else 0.0

    def latency(self, q: float) -> float:
        """The ``q`` quantile of the per-change latency, in ms (nan without samples)."""
        total = sum(self.latency_ms.values())
        if not total:
            return math.nan
        rank, seen = q * (total - 1), 0
        for ms in sorted(self.latency_ms):
            seen += self.latency_ms[ms]
            if seen > rank:
                return float(ms)
        return float(max(self.latency_ms))


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, every process, interrupts) since boot."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # up to steal; guest time is in user already


def client_processes(n: int, per_process: int, at_least: int = 1) -> list[tuple[int, int]]:
    """(first index, count) of each client process."""
    procs = max(at_least, math.ceil(n / per_process))
    sizes = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    return [(sum(sizes[:i]), size) for i, size in enumerate(sizes)]


def run(kind: str, n: int, args: argparse.Namespace, tmp: Path, db: str, feeds: int = 1) -> Run:
    """One run: ``bare``, ``ours`` (one process: the store and the feed), or ``feeds`` (a publishing
    process and ``feeds`` processes of `opscentre serve --role feed` on the same PostgreSQL database,
    the client processes spread over them in turn)."""
    result = Run(kind, n)
    server = Child(
        f"{kind} server",
        [sys.executable, "-m", "bench.fanout", "--serve", "publisher" if kind == "feeds" else kind, "--db", db,
         "--rate", str(args.rate), "--interval", str(args.interval), "--tick", str(args.tick)],
        tmp / f"{kind}-{n}-server.log",
    )  # fmt: skip
    clients: list[Child] = []
    feed_procs: list[FeedProcess] = []
    try:
        ready = server.expect("ready", timeout=60)
        if kind == "feeds":
            config = tmp / f"feeds-{n}.toml"
            config.write_text(feed_config(db, args.tick))
            feed_procs = [
                FeedProcess(f"feed process {i}", config, tmp / f"feeds-{n}-feed-{i}.log") for i in range(feeds)
            ]
            urls = [f.url(timeout=120) for f in feed_procs]
        else:
            urls = [f"ws://127.0.0.1:{ready['port']}{ready['path']}"]
        # Memory and CPU of what serves the clients: the one server, or the publisher and the feed processes.
        serving = [server.proc.pid, *(f.proc.pid for f in feed_procs)]
        measured = [f.proc.pid for f in feed_procs] or [server.proc.pid]  # memory: who holds the connections
        time.sleep(1.0)
        result.rss_before = sum(rss_bytes_of(pid) for pid in measured)
        began = time.monotonic()
        for i, (first, count) in enumerate(client_processes(n, args.clients_per_process, at_least=len(urls))):
            clients.append(
                Child(
                    f"client process {i}",
                    [sys.executable, "-m", "bench.fanout_clients", "--url", urls[i % len(urls)], "--token", TOKEN,
                     "--clients", str(count), "--first-index", str(first), "--sample-every", str(args.sample_every),
                     "--concurrency", str(args.concurrency)],
                    tmp / f"{kind}-{n}-clients-{i}.log",
                )
            )  # fmt: skip
        for c in clients:
            joined = c.expect("subscribed", timeout=120 + n * 0.1)
            result.connected += joined["connected"]
            for reason, count in joined["failed"].items():
                result.connect_failures[reason] = result.connect_failures.get(reason, 0) + count
        result.connect_seconds = time.monotonic() - began
        time.sleep(2.0)  # the snapshots leave the outboxes; the connections are idle
        result.rss_idle = sum(rss_bytes_of(pid) for pid in measured)
        result.memory_per_connection = (result.rss_idle - result.rss_before) / max(1, result.connected)
        if feed_procs:
            result.rss_trimmed = result.rss_idle  # a feed process takes no commands on stdin
        else:
            server.send("trim")
            server.expect("trimmed", timeout=30)
            result.rss_trimmed = server.rss_bytes()

        server.send("publish")
        time.sleep(args.warmup)
        cpu = [sum(cpu_seconds_of(pid) for pid in serving), *(c.cpu_seconds() for c in clients)]
        busy = machine_busy_seconds()
        for c in clients:
            c.send("start")
        time.sleep(args.seconds)
        for c in clients:
            c.send("stop")
        busy = machine_busy_seconds() - busy
        cpu = [
            after - before
            for after, before in zip(
                [sum(cpu_seconds_of(pid) for pid in serving), *(c.cpu_seconds() for c in clients)], cpu, strict=True
            )
        ]
        stats = [c.expect("stats", timeout=60) for c in clients]
        server.send("stop")
        result.server = server.expect("published", timeout=60)
    finally:
        for c in clients:
            c.close()
        for f in feed_procs:
            f.close()
        server.close()
    result.seconds = statistics.mean(s["seconds"] for s in stats)
    result.server_cpu = cpu[0] / result.seconds
    result.clients_cpu = sum(cpu[1:]) / result.seconds
    result.others_cpu = max(0.0, busy - sum(cpu)) / result.seconds
    for s in stats:
        result.messages += s["messages"]
        result.changes += s["changes"]
        result.bytes += s["bytes"]
        result.per_client += s["per_client"]
        result.latency_ms.update({int(k): v for k, v in s["latency_ms"].items()})
        result.closed.update(s["closed"])
    result.per_client.sort()
    return result


# --- the report ---------------------------------------------------------------------------------------


def _ms(q: dict[str, float] | None, *keys: str) -> str:
    if not q:
        return "-"
    return " / ".join(f"{q[k] * 1000:,.1f}" for k in keys)


def _gc(s: dict[str, Any]) -> str:
    collections = s.get("gc") or {}
    return ", ".join(f"{c['count']}× ≤{c['max'] * 1000:,.0f}" for c in collections.values()) or "-"


def _gc_share(s: dict[str, Any]) -> str:
    collections = s.get("gc") or {}
    seconds = s.get("seconds") or 0.0
    return f"{sum(c['seconds'] for c in collections.values()) / seconds:.1%}" if seconds and collections else "-"


def show(n: int, bare: Run, ours: Run, processes: int) -> None:
    """One table per N: the figures of both servers side by side, and ours / bare where it means something."""

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "-"

    def per_client(r: Run) -> str:
        pc = r.per_client
        if not pc:
            return "-"
        return f"{pc[0] / r.seconds:.2f} / {statistics.median(pc) / r.seconds:.2f} / {pc[-1] / r.seconds:.2f}"

    def trimmed(r: Run) -> float:
        return (r.rss_trimmed - r.rss_before) / max(1, r.connected) / 1024

    rows: list[tuple[str, str, str, str]] = [
        ("delivered messages/s (all clients)", f"{bare.messages_per_second:,.0f}", f"{ours.messages_per_second:,.0f}",
         ratio(ours.messages_per_second, bare.messages_per_second)),
        ("delivered changes/s (all clients)", f"{bare.changes_per_second:,.0f}", f"{ours.changes_per_second:,.0f}",
         ratio(ours.changes_per_second, bare.changes_per_second)),
        ("delivered MiB/s", f"{bare.bytes / bare.seconds / MIB:,.1f}", f"{ours.bytes / ours.seconds / MIB:,.1f}", ""),
        ("messages/s per client: min / median / max", per_client(bare), per_client(ours), ""),
        ("latency ingest→receipt p50, ms", f"{bare.latency(0.5):,.0f}", f"{ours.latency(0.5):,.0f}", ""),
        ("latency ingest→receipt p99, ms", f"{bare.latency(0.99):,.0f}", f"{ours.latency(0.99):,.0f}", ""),
        ("latency ingest→receipt max, ms", f"{bare.latency(1.0):,.0f}", f"{ours.latency(1.0):,.0f}", ""),
        ("  changes timed", f"{sum(bare.latency_ms.values()):,}", f"{sum(ours.latency_ms.values()):,}", ""),
        ("server memory per idle connection, KiB", f"{bare.memory_per_connection / 1024:,.1f}",
         f"{ours.memory_per_connection / 1024:,.1f}", ""),
        ("  server RSS before / with the clients, MiB", f"{bare.rss_before / MIB:,.1f} / {bare.rss_idle / MIB:,.1f}",
         f"{ours.rss_before / MIB:,.1f} / {ours.rss_idle / MIB:,.1f}", ""),
        ("  the same after gc.collect()+malloc_trim(0), KiB", f"{trimmed(bare):,.1f}", f"{trimmed(ours):,.1f}", ""),
        ("subscribing every client (snapshots), s", f"{bare.connect_seconds:,.1f}", f"{ours.connect_seconds:,.1f}", ""),
        ("CPU, % of a core: server", f"{bare.server_cpu:.0%}", f"{ours.server_cpu:.0%}", ""),
        ("CPU, % of a core: client processes", f"{bare.clients_cpu:.0%}", f"{ours.clients_cpu:.0%}", ""),
        ("CPU, % of a core: rest of the machine", f"{bare.others_cpu:.0%}", f"{ours.others_cpu:.0%}", ""),
        ("published changes/s", f"{_rate(bare.server)}", f"{_rate(ours.server)}", ""),
        ("publish call p50 / p99, ms", _ms(bare.server.get("batch_seconds"), "p50", "p99"),
         _ms(ours.server.get("batch_seconds"), "p50", "p99"), "(bare: a list append; ours: store.observations.ingest)"),
        ("work per tick p50 / p99 / max, ms", _ms(bare.server.get("tick_seconds"), "p50", "p99", "max"),
         _ms(ours.server.get("tick_seconds"), "p50", "p99", "max"), "(bare: encode + broadcast; ours: Hub.fan_out)"),
        ("  the same while the clients subscribed, ms", _ms(bare.server.get("tick_seconds_joining"), "p50", "p99", "max"),
         _ms(ours.server.get("tick_seconds_joining"), "p50", "p99", "max"), "(nothing published yet)"),
        ("event loop lag p50 / p99 / max, ms", _ms(bare.server.get("loop_lag_seconds"), "p50", "p99", "max"),
         _ms(ours.server.get("loop_lag_seconds"), "p50", "p99", "max"), ""),
        ("GC pauses gen0, gen1, gen2: count ≤ max ms", _gc(bare.server), _gc(ours.server), ""),
        ("  time in GC, % of the publishing time", _gc_share(bare.server), _gc_share(ours.server), ""),
        ("changes conflated / clients closed as slow", "-",
         f"{ours.server.get('dropped') or 0:,.0f} / {ours.server.get('slow_closes') or 0:,.0f}", ""),
        ("connections failed / lost", _lost(bare), _lost(ours), ""),
    ]  # fmt: skip
    print(f"\nN = {n:,} clients ({processes} client process{'es' if processes > 1 else ''})")
    width = max(len(r[0]) for r in rows) + 2
    column = max(len(v) for r in rows for v in r[1:3]) + 3
    print(f"  {'':<{width}}{'bare broadcast':>{column}}{'opscentre feed':>{column}}   ours/bare")
    for label, b, o, extra in rows:
        print(f"  {label:<{width}}{b:>{column}}{o:>{column}}   {extra}".rstrip())


def _rate(server: dict[str, Any]) -> str:
    seconds = server.get("seconds") or 0.0
    return f"{server.get('changes', 0) / seconds:,.0f}" if seconds else "-"


def _lost(r: Run) -> str:
    failed = sum(r.connect_failures.values())
    lost = sum(r.closed.values())
    detail = ", ".join([*r.connect_failures, *(f"close {code}" for code in r.closed)])
    return f"{failed} / {lost}" + (f" ({detail})" if detail else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--rate", type=float, default=200.0, help="changes published per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="publishing before the window opens")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between published batches")
    parser.add_argument(
        "--tick", type=float, default=FeedSettings().tick.total_seconds(), help="the feed's tick (both servers)"
    )
    parser.add_argument("--sample-every", type=int, default=10, help="one client in this many measures latency")
    parser.add_argument("--clients-per-process", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50, help="clients connecting at once (per process)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite", help="the store's engine")
    parser.add_argument(
        "--feeds", type=int, default=1, help="feed processes on one PostgreSQL (above 1: beside one process)"
    )
    parser.add_argument("--serve", choices=["ours", "bare", "publisher"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args)
        return
    if not 1 <= args.feeds <= 16:
        parser.error("--feeds 1 to 16")
    if args.feeds > 1 and args.engine != "postgresql":
        parser.error("--feeds above 1 needs --engine postgresql (feed processes share one PostgreSQL database)")
    if min(args.clients) < 1:
        parser.error("--clients: at least 1 each")

    with contextlib.ExitStack() as stack:
        pg: Any = None
        if args.engine == "postgresql":
            from bench.pgserver import pg_version, throwaway_server

            pg = stack.enter_context(throwaway_server())
            engine = f"PostgreSQL {pg_version(pg)} (a throwaway server of its own, fsync on)"
        else:
            engine = f"SQLite {sqlite3.sqlite_version}"
        feed_role = args.feeds > 1 and has_feed_role()
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
            f" websockets {websockets.__version__}, {engine}"
        )
        print(
            f"load: {args.rate:,.0f} changes/s, a batch every {args.interval * 1000:.0f} ms, over {len(INDICATORS) * len(AREAS)}"
            f" series ({len(INDICATORS)} monthly indicators × VN and {len(PROVINCES)} provinces), each change a new figure;"
            f" tick {args.tick * 1000:.0f} ms"
        )
        print(
            f"window: {args.seconds:.0f} s after {args.warmup:.0f} s of warm-up; latency from 1 client in {args.sample_every};"
            " ratio = ours / bare (same run, same clients)"
        )
        if args.feeds > 1:
            print(
                f"feed processes: {args.feeds} × `opscentre serve --role feed` on the database, beside one process"
                if feed_role
                else f"feed processes: this tree's `opscentre serve` has no --role: the {args.feeds} feed processes are"
                " not measured, one process only"
            )
        _bench(args, pg, feed_role)


def _bench(args: argparse.Namespace, pg: Any, feed_role: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fanout-"))
    results: dict[int, tuple[Run, Run]] = {}
    several: dict[int, Run] = {}
    failed: list[int] = []
    started = time.monotonic()

    def database(kind: str, n: int) -> str:
        return pg.create_database("opscentre_migrated") if pg is not None else str(tmp / f"{kind}-{n}.db")

    def done_with(db: str) -> None:
        if pg is not None:
            pg.drop_database(db)

    try:
        for n in args.clients:
            try:
                bare = run("bare", n, args, tmp, str(tmp / f"bare-{n}.db"))
                db = database("ours", n)
                try:
                    ours = run("ours", n, args, tmp, db)
                finally:
                    done_with(db)
            except RuntimeError as exc:  # a child died or stalled: report it, go on with the next N
                print(f"\nN = {n:,} clients: the run failed: {exc}")
                failed.append(n)
                continue
            results[n] = (ours, bare)
            show(n, bare, ours, len(client_processes(n, args.clients_per_process)))
            sys.stdout.flush()
            if feed_role:
                db = database("feeds", n)
                try:
                    several[n] = run("feeds", n, args, tmp, db, feeds=args.feeds)
                except RuntimeError as exc:
                    print(f"\nN = {n:,} clients on {args.feeds} feed processes: the run failed: {exc}")
                    continue
                finally:
                    done_with(db)
                show_feeds(n, ours, several[n], args.feeds)
                sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("\ntargets (set for N=1,000; the same checks are printed for every N)")
    for n in failed:
        print(f"  FAIL  N={n:,}: the run failed (see above)")
    for n, (ours, bare) in results.items():
        scope = "" if n == 1000 else "   (for information)"
        p99 = ours.latency(0.99)
        ratio = ours.messages_per_second / max(1e-9, bare.messages_per_second)
        print(f"  {_verdict(p99 < 500)}  N={n:,}: p99 ingest-to-receipt {p99:,.0f} ms < 500 ms{scope}")
        print(
            f"  {_verdict(ratio >= 0.7)}  N={n:,}: delivered messages {ratio:.2f} of the bare broadcast's >= 0.70{scope}"
        )
        kib = ours.memory_per_connection / 1024
        print(f"  {_verdict(kib < 64)}  N={n:,}: {kib:,.1f} KiB of server memory per idle connection < 64 KiB")
    if args.feeds > 1:
        # Several feed processes: each learns an event from the database (NOTIFY, then a read by seq) rather
        # than from its own ingest, one hop more than one process, and shares the cores with PostgreSQL
        # and the publisher. The acceptance figure stays the same (p99 < 500 ms); within twice one
        # process's p99 says the hop costs less than a tick or so, not a poll interval.
        k = args.feeds
        for n in args.clients:
            if n not in several:
                why = "no `serve --role feed` in this tree" if not feed_role else "the run failed (see above)"
                print(f"  FAIL  N={n:,} on {k} feed processes: not measured: {why}")
                continue
            one, multi = results[n][0], several[n]
            p99, ratio = multi.latency(0.99), multi.latency(0.99) / max(1.0, one.latency(0.99))
            print(
                f"  {_verdict(p99 < 500)}  N={n:,} on {k} feed processes: p99 ingest-to-receipt {p99:,.0f} ms < 500 ms"
            )
            print(
                f"  {_verdict(ratio <= 2.0)}  N={n:,} on {k} feed processes: p99 {ratio:.2f} of one process's <= 2.00"
            )
            lost = sum(multi.connect_failures.values()) + sum(multi.closed.values())
            print(f"  {_verdict(lost == 0)}  N={n:,} on {k} feed processes: {lost} connections failed or lost, none")
    print(f"\n(whole run: {time.monotonic() - started:.0f} s)")


def show_feeds(n: int, one: Run, multi: Run, feeds: int) -> None:
    """One process (store and feed) beside ``feeds`` feed processes and a publishing process, same database."""
    rows = [
        ("delivered messages/s (all clients)", f"{one.messages_per_second:,.0f}", f"{multi.messages_per_second:,.0f}"),
        ("delivered changes/s (all clients)", f"{one.changes_per_second:,.0f}", f"{multi.changes_per_second:,.0f}"),
        ("latency ingest→receipt p50, ms", f"{one.latency(0.5):,.0f}", f"{multi.latency(0.5):,.0f}"),
        ("latency ingest→receipt p99, ms", f"{one.latency(0.99):,.0f}", f"{multi.latency(0.99):,.0f}"),
        ("latency ingest→receipt max, ms", f"{one.latency(1.0):,.0f}", f"{multi.latency(1.0):,.0f}"),
        ("  changes timed", f"{sum(one.latency_ms.values()):,}", f"{sum(multi.latency_ms.values()):,}"),
        ("memory per idle connection, KiB (feed processes)", f"{one.memory_per_connection / 1024:,.1f}",
         f"{multi.memory_per_connection / 1024:,.1f}"),
        ("subscribing every client (snapshots), s", f"{one.connect_seconds:,.1f}", f"{multi.connect_seconds:,.1f}"),
        ("CPU, % of a core: server process(es)", f"{one.server_cpu:.0%}", f"{multi.server_cpu:.0%}"),
        ("CPU, % of a core: client processes", f"{one.clients_cpu:.0%}", f"{multi.clients_cpu:.0%}"),
        ("CPU, % of a core: rest (PostgreSQL included)", f"{one.others_cpu:.0%}", f"{multi.others_cpu:.0%}"),
        ("published changes/s", _rate(one.server), _rate(multi.server)),
        ("connections failed / lost", _lost(one), _lost(multi)),
    ]  # fmt: skip
    print(f"\nN = {n:,} clients: one process, and {feeds} feed processes (+ 1 publishing) on one PostgreSQL")
    width = max(len(r[0]) for r in rows) + 2
    heads = ("one process", f"{feeds} feed processes")
    column = max(len(v) for v in (*heads, *(v for r in rows for v in r[1:]))) + 3
    print(f"  {'':<{width}}{heads[0]:>{column}}{heads[1]:>{column}}")
    for label, a, b in rows:
        print(f"  {label:<{width}}{a:>{column}}{b:>{column}}")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


if __name__ == "__main__":
    main()
