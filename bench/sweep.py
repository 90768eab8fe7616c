"""One sweep of many simulated sources through the whole collection pipeline (fetch, validate,
ingest with provenance and events, run records, alert rules), beside a bare ``httpx`` gather of
the same URLs with the same connection limits, in the same run on the same machine.

The simulated agencies run in a separate process (``python -m simulator``), so neither side
shares its event loop with the server.

    python bench/sweep.py [--sources 1000] [--records 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from collectors.config import CollectorSettings, SourceSettings
from collectors.pipeline import Collector
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
    parser.add_argument("--connections", type=int, default=64, help="HTTP connections, both sides")
    parser.add_argument("--concurrency", type=int, default=64, help="runs fetching at once in the pipeline")
    args = parser.parse_args()
    proc, base = start_simulator()
    try:
        urls = [f"{base}/synthetic/{i}/observations?records={args.records}" for i in range(args.sources)]
        await bare(urls[:50], args.connections)  # warm up the simulator's caches
        bare_times, ours_times = [], []
        stored = runs = 0
        for _ in range(args.repeat):
            bare_times.append(await bare(urls, args.connections))
            elapsed, stored, runs = await pipeline(urls, args.connections, args.concurrency)
            ours_times.append(elapsed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    b, o = min(bare_times), min(ours_times)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.sources} sources x {args.records} records; {args.connections} connections; best of {args.repeat}")
    print(f"bare httpx gather            {b:7.2f} s   ({args.sources / b:,.0f} requests/s)   (ceiling)")
    print(
        f"pipeline sweep               {o:7.2f} s   ({args.sources / o:,.0f} sources/s)   "
        f"{runs} runs recorded, {stored:,} figures stored with provenance"
    )
    ratio = o / b
    median = statistics.median(x / y for x, y in zip(ours_times, bare_times, strict=True))
    print(f"pipeline / bare              {ratio:7.2f} x   (median of rounds {median:.2f} x)")
    print(f"target: within 2x of bare    {'PASS' if ratio <= 2 else 'FAIL'}")
    print(f"target: sweep under 10 s     {'PASS' if o < 10 else 'FAIL'}")


if __name__ == "__main__":
    asyncio.run(main())
