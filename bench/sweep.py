"""One sweep of many simulated sources through the whole collection pipeline (fetch, validate,
ingest with provenance and events, run records, alert rules), beside a bare ``httpx`` gather of
the same URLs with the same connection limits, in the same run on the same machine.

The simulated agencies run in a separate process (``python -m simulator``), so neither side
shares its event loop with the server.

    python -m bench.sweep [--sources 1000] [--records 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from collectors.config import CollectorSettings, SourceSettings
from rules.after_run import Collector
from storage import RunOutcome, RunTrigger, Store

ROOT = Path(__file__).resolve().parent.parent


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


async def bare(urls: list[str], connections: int) -> float:
    """The ceiling: GET every URL and read the body, at most ``connections`` at once (as the
    pipeline does; an unbounded gather only queues in httpx's pool and is slower)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    slots = asyncio.Semaphore(connections)

    async def get(client: httpx.AsyncClient, url: str) -> httpx.Response:
        async with slots:
            return await client.get(url)

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()
        responses = await asyncio.gather(*(get(client, u) for u in urls))
        elapsed = time.perf_counter() - start
    assert all(r.status_code == 200 and r.content for r in responses)
    return elapsed


async def pipeline(urls: list[str], connections: int, concurrency: int) -> tuple[float, int, int]:
    sources = [
        SourceSettings(name=f"synthetic-{i}", kind="agency-json", url=u, every=timedelta(hours=1))
        for i, u in enumerate(urls)
    ]
    settings = CollectorSettings(max_concurrency=concurrency, max_connections=connections, retries=0)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "sweep.db")
        try:
            async with Collector(store, sources, settings) as collector:
                start = time.perf_counter()
                runs = await collector.run_many([s.name for s in sources], RunTrigger.SCHEDULE)
                elapsed = time.perf_counter() - start
        finally:
            await store.close()
    failed = [r for r in runs if r.outcome is not RunOutcome.SUCCESS]
    if failed:
        raise SystemExit(f"{len(failed)} runs did not succeed, e.g. {failed[0].source}: {failed[0].error}")
    return elapsed, sum(r.new for r in runs), len(runs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--records", type=int, default=10, help="records per source payload")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[4, 16, 32],
        help="requests in flight, both sides (32 is the collector's default max_concurrency)",
    )  # fmt: skip
    args = parser.parse_args()
    proc, base = start_simulator()
    rows = []
    try:
        urls = [f"{base}/synthetic/{i}/observations?records={args.records}" for i in range(args.sources)]
        await bare(urls[:50], 4)  # warm up the simulator's caches
        for conc in args.concurrency:
            bare_times, ours_times = [], []
            for _ in range(args.repeat):
                bare_times.append(await bare(urls, conc))
                elapsed, stored, runs = await pipeline(urls, conc, conc)
                ours_times.append(elapsed)
            rows.append((conc, min(bare_times), min(ours_times), stored, runs))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    best_bare = min(r[1] for r in rows)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.sources} sources x {args.records} records each; best of {args.repeat} rounds per line; the simulated")
    print("agencies run in their own process; both sides open as many connections as requests in flight")
    print(f"{'in flight':>9} {'bare httpx':>11} {'pipeline':>10} {'pipeline/bare':>14} {'pipeline/best bare':>19}")
    for conc, b, o, _stored, _runs in rows:
        print(f"{conc:>9} {b:>10.2f}s {o:>9.2f}s {o / b:>13.2f}x {o / best_bare:>18.2f}x")
    default = next((r for r in rows if r[0] == 32), rows[-1])
    print(f"each pipeline sweep recorded {rows[-1][4]} runs and stored {rows[-1][3]:,} figures with provenance")
    print(
        f"target: within 2x of the bare fetch at the collector's default (in flight {default[0]}): "
        f"{default[2] / default[1]:.2f}x {'PASS' if default[2] <= 2 * default[1] else 'FAIL'}"
    )
    print(
        f"        against the best bare fetch of any setting ({best_bare:.2f}s): {min(r[2] for r in rows) / best_bare:.2f}x "
        f"{'PASS' if min(r[2] for r in rows) <= 2 * best_bare else 'FAIL'}"
    )
    worst = max(r[2] for r in rows)
    print(f"target: the 1,000-source sweep under 10 s: slowest {worst:.2f}s {'PASS' if worst < 10 else 'FAIL'}")


if __name__ == "__main__":
    asyncio.run(main())
