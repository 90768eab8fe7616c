"""One sweep of many simulated sources through the whole collection pipeline (fetch, validate,
ingest with provenance and events, run records, alert rules), beside a bare ``httpx`` gather of
the same URLs with the same connection limits, in the same run on the same machine.

The simulated agencies run in a separate process (``python -m simulator``), so neither side
shares its event loop or its CPU time with the server. Each side's CPU is the process time
(``time.process_time``: every thread of this process, the store's writer thread included) spent
from its first request to its last answer (and, for the pipeline, its last run recorded).

The pipeline sweeps twice per round: with each run's own alerts only, and with the ``[rules]``
evaluated after each run as well, as a serving process runs them (rules/after_run.py). The
synthetic sources publish the same figures with different values, so from a few hundred sources
on they disagree and raise ``crosscheck.sources`` alerts: unrealistic data, but the rules' cost
must stay that of what each run touched.

    python -m bench.sweep [--sources 1000] [--records 10] [--repeat 3]
    python -m bench.sweep --profile [--top 10] [--rules]   # one sweep under cProfile, every thread:
                                                           # top functions (--rules: with the [rules])
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules.after_run import Collector
from storage import RunOutcome, RunTrigger, Store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IN_FLIGHT = 32  # the collector's default max_concurrency
CPU_TARGET = 1.2  # collector CPU per 1,000 polls, at most this many times a bare httpx gather's


@dataclass(frozen=True)
class Took:
    wall: float  # seconds
    cpu: float  # process seconds, every thread of this process


@contextmanager
def measured(into: list[Took]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append(Took(time.perf_counter() - wall, time.process_time() - cpu))


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := re.search(r"(http://127\.0\.0\.1:\d+)", line):
            return proc, m[1]
    raise SystemExit("the simulator did not start")


async def bare(urls: list[str], connections: int) -> Took:
    """The ceiling: GET every URL and read the body, at most ``connections`` at once (as the
    pipeline does; an unbounded gather only queues in httpx's pool and is slower)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    slots = asyncio.Semaphore(connections)

    async def get(client: httpx.AsyncClient, url: str) -> httpx.Response:
        async with slots:
            return await client.get(url)

    took: list[Took] = []
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        with measured(took):
            responses = await asyncio.gather(*(get(client, u) for u in urls))
    assert all(r.status_code == 200 and r.content for r in responses)
    return took[0]


async def pipeline(urls: list[str], connections: int, concurrency: int, rules: bool = False) -> tuple[Took, int, int]:
    sources = [
        SourceSettings(name=f"synthetic-{i}", kind="agency-json", url=u, every=timedelta(hours=1))
        for i, u in enumerate(urls)
    ]
    settings = CollectorSettings(max_concurrency=concurrency, max_connections=connections, retries=0)
    took: list[Took] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "sweep.db")
        try:
            async with Collector(store, sources, settings) as collector:
                collector.rules = RulesSettings() if rules else None  # None: the run's own alerts only
                with measured(took):
                    runs = await collector.run_many([s.name for s in sources], RunTrigger.SCHEDULE)
        finally:
            await store.close()
    failed = [r for r in runs if r.outcome is not RunOutcome.SUCCESS]
    if failed:
        raise SystemExit(f"{len(failed)} runs did not succeed, e.g. {failed[0].source}: {failed[0].error}")
    return took[0], sum(r.new for r in runs), len(runs)


class ThreadProfiles:
    """cProfile, timed by each thread's CPU, in the calling thread and in every thread started
    meanwhile (the store's writer, the reader's)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def _in_new_thread(self, *_: Any) -> None:
        sys.setprofile(None)
        profile = cProfile.Profile(time.thread_time)  # CPU time, not time spent waiting
        self.profiles.append(profile)
        profile.enable()

    def __enter__(self) -> ThreadProfiles:
        threading.setprofile(self._in_new_thread)
        self._in_new_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        threading.setprofile(None)
        self.profiles[0].disable()

    def stats(self) -> pstats.Stats:
        out = io.StringIO()
        stats = pstats.Stats(self.profiles[0], stream=out)
        for profile in self.profiles[1:]:
            stats.add(profile)
        return stats


async def profile(urls: list[str], top: int, rules: bool) -> None:
    """One pipeline sweep at the default concurrency under cProfile: the top functions by CPU."""
    with ThreadProfiles() as profiles:
        took, _, runs = await pipeline(urls, DEFAULT_IN_FLIGHT, DEFAULT_IN_FLIGHT, rules)
    print(f"one sweep of {runs} sources under cProfile (every thread): {took.wall:.2f}s wall, {took.cpu:.2f}s CPU")
    stats = profiles.stats()
    for key, title in (("tottime", "own time"), ("cumtime", "with callees")):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(key).print_stats(top)
        table = out.getvalue()
        print(f"\ntop {top} by {key} ({title}):")
        print(table[table.index("   ncalls") :].rstrip())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--records", type=int, default=10, help="records per source payload")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[4, 16, DEFAULT_IN_FLIGHT],
        help="requests in flight, both sides (32 is the collector's default max_concurrency)",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="profile one pipeline sweep instead")
    parser.add_argument("--top", type=int, default=10, help="functions listed by --profile")
    parser.add_argument(
        "--rules", action="store_true",
        help="--profile: the sweep with the [rules] after each run, as a serving process runs them (the table "
        "always measures the pipeline both with and without them)",
    )  # fmt: skip
    args = parser.parse_args()
    proc, base = start_simulator()
    rows = []
    try:
        urls = [f"{base}/synthetic/{i}/observations?records={args.records}" for i in range(args.sources)]
        await bare(urls[:50], 4)  # warm up the simulator's caches
        if args.profile:
            await profile(urls, args.top, args.rules)
            return
        for conc in args.concurrency:
            row = Row(conc)
            for _ in range(args.repeat):
                row.bare.append(await bare(urls, conc))
                took, row.stored, row.runs = await pipeline(urls, conc, conc)
                row.ours.append(took)
                took, _, _ = await pipeline(urls, conc, conc, rules=True)
                row.ruled.append(took)
            rows.append(row)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    report(args, rows)


@dataclass
class Row:
    """One setting's rounds: the bare gather, the pipeline, the pipeline with the [rules]."""

    conc: int
    bare: list[Took] = field(default_factory=list)
    ours: list[Took] = field(default_factory=list)
    ruled: list[Took] = field(default_factory=list)
    stored: int = 0
    runs: int = 0


def report(args: argparse.Namespace, rows: list[Row]) -> None:
    per_1000 = 1000 / args.sources
    wall = lambda took: min(t.wall for t in took)  # noqa: E731
    cpu = lambda took: min(t.cpu for t in took) * per_1000  # noqa: E731
    best_bare = min(wall(r.bare) for r in rows)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.sources} sources x {args.records} records each; best of {args.repeat} rounds per line; the simulated")
    print("agencies run in their own process; both sides open as many connections as requests in flight;")
    print("CPU: this process's time (every thread), per 1,000 polls; after each run: its own alerts (pipeline),")
    print("and the [rules] on what it touched as well, as a serving process runs them (+rules)")
    print(
        f"{'in flight':>9} {'bare httpx':>11} {'pipeline':>10} {'pipeline/bare':>14} {'pipeline/best bare':>19}"
        f" {'bare CPU':>9} {'pipeline CPU':>13} {'CPU ratio':>10} {'+rules CPU':>11} {'CPU ratio':>10}"
    )
    for r in rows:
        bw, ow, bc, oc, rc = wall(r.bare), wall(r.ours), cpu(r.bare), cpu(r.ours), cpu(r.ruled)
        print(
            f"{r.conc:>9} {bw:>10.2f}s {ow:>9.2f}s {ow / bw:>13.2f}x {ow / best_bare:>18.2f}x"
            f" {bc:>8.2f}s {oc:>12.2f}s {oc / bc:>9.2f}x {rc:>10.2f}s {rc / bc:>9.2f}x"
        )
    default = next((r for r in rows if r.conc == DEFAULT_IN_FLIGHT), rows[-1])
    d_bare, d_ours = wall(default.bare), wall(default.ours)
    d_bare_cpu = cpu(default.bare)
    fastest = min(t.wall for r in rows for t in r.ours)
    worst = max(wall(r.ours) for r in rows)
    print(f"each pipeline sweep recorded {rows[-1].runs} runs and stored {rows[-1].stored:,} figures with provenance")
    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    print(
        f"{verdict(d_ours <= 2 * d_bare)} within 2x of the bare fetch at the collector's default "
        f"(in flight {default.conc}): {d_ours / d_bare:.2f}x"
    )
    print(
        f"{verdict(fastest <= 2 * best_bare)} within 2x of the best bare fetch of any setting "
        f"({best_bare:.2f}s): {fastest / best_bare:.2f}x"
    )
    print(f"{verdict(worst < 10)} the 1,000-source sweep under 10 s: slowest {worst:.2f}s")
    for ours, with_rules in ((cpu(default.ours), ""), (cpu(default.ruled), " with the rules")):
        print(
            f"{verdict(ours <= CPU_TARGET * d_bare_cpu)} collector CPU per 1,000 polls{with_rules} at most"
            f" {CPU_TARGET}x a bare httpx gather (in flight {default.conc}): {ours:.2f}s against {d_bare_cpu:.2f}s,"
            f" {ours / d_bare_cpu:.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
