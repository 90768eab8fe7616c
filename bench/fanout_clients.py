"""The client side of ``bench/fanout.py``: many feed clients in one process, cheap enough to keep up.

    python -m bench.fanout_clients --url ws://127.0.0.1:PORT/feed --token TOKEN --clients N [--sample-every 10]

Each client connects with ``Authorization: Bearer TOKEN`` (no compression, no client pings),
says hello subscribed to everything, and waits for its snapshot; at most ``--concurrency``
clients are in that phase at once, so the server's accept queue is never flooded. Then every
client counts the delta frames it receives (bytes, never decoded); one client in
``--sample-every`` also parses each delta and records, for every change in it, the time from the
change's ``collected_at`` (set by the store at ingest) to the moment the frame was received here.

Driven by its parent through stdin/stdout, one JSON object per line:
    out {"event": "subscribed", ...}   once every client has its snapshot (or failed)
    in  start                           reset the counters: the measured window begins
    in  stop                            out {"event": "stats", ...}: the window's figures
    in  quit                            exit at once (the server is torn down separately)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

DELTA = b'{"type":"delta"'
SNAPSHOT = b'{"type":"snapshot"'
CHANGE = b'"collected_at"'  # once per change (or revision) in a delta


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Stats:
    """What the clients saw in the measured window."""

    measuring: bool = False
    started: float = 0.0
    messages: int = 0
    changes: int = 0
    bytes: int = 0
    per_client: list[int] = field(default_factory=list)  # delta frames per client
    latency_ms: Counter[int] = field(default_factory=Counter)  # ingest-to-receipt, per change, 1 ms buckets
    closed: Counter[str] = field(default_factory=Counter)  # close codes of connections lost at any time

    def reset(self) -> None:
        self.measuring, self.started = True, time.monotonic()
        self.messages = self.changes = self.bytes = 0
        self.per_client = [0] * len(self.per_client)
        self.latency_ms.clear()


async def subscribe(url: str, token: str, name: str) -> ClientConnection:
    ws = await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        ping_interval=None,  # a wall screen's browser does not ping; the server does
        proxy=None,
        open_timeout=60,
        max_size=16 * 1024 * 1024,  # the snapshot of every series is large
    )
    await ws.send(json.dumps({"type": "hello", "filter": {}, "client": name}))
    while not (await ws.recv(decode=False)).startswith(SNAPSHOT):
        pass  # the welcome comes first
    return ws


async def receive(ws: ClientConnection, index: int, sample: bool, stats: Stats) -> None:
    """Count delta frames; in a sample client, also each change's age on arrival."""
    latency = stats.latency_ms
    try:
        while True:
            data = await ws.recv(decode=False)
            received = time.time()
            if not stats.measuring or not isinstance(data, bytes) or not data.startswith(DELTA):
                continue
            stats.messages += 1
            stats.bytes += len(data)
            stats.per_client[index] += 1
            stats.changes += data.count(CHANGE)
            if sample:
                for change in json.loads(data)["changes"]:
                    at = datetime.fromisoformat(change["collected_at"]).timestamp()
                    latency[int((received - at) * 1000)] += 1
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else "no close frame"
        stats.closed[str(code)] += 1


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> None:
    stats = Stats(per_client=[0] * args.clients)
    gate = asyncio.Semaphore(args.concurrency)
    connections: list[ClientConnection] = []
    receivers: list[asyncio.Task[None]] = []
    failures: Counter[str] = Counter()

    async def join(local: int) -> None:
        index = args.first_index + local
        async with gate:
            try:
                ws = await subscribe(args.url, args.token, f"bench-{index}")
            except Exception as exc:
                failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                return
        connections.append(ws)
        sample = index % args.sample_every == 0
        receivers.append(asyncio.create_task(receive(ws, local, sample, stats)))

    began = time.monotonic()
    await asyncio.gather(*(join(i) for i in range(args.clients)))
    emit(
        "subscribed",
        connected=len(connections),
        failed=dict(failures),
        seconds=round(time.monotonic() - began, 2),
    )
    loop = asyncio.get_running_loop()
    cpu_at_start = 0.0
    while True:
        command = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if command == "start":
            stats.reset()
            cpu_at_start = cpu_seconds()
        elif command == "stop":
            stats.measuring = False
            elapsed = time.monotonic() - stats.started
            emit(
                "stats",
                seconds=elapsed,
                cpu_seconds=cpu_seconds() - cpu_at_start,
                messages=stats.messages,
                changes=stats.changes,
                bytes=stats.bytes,
                per_client=sorted(stats.per_client[: len(connections)]),
                latency_ms={str(k): v for k, v in stats.latency_ms.items()},
                closed=dict(stats.closed),
                connected=len(connections),
            )
        elif command in ("quit", ""):  # "" is the end of stdin: the parent has gone
            os._exit(0)  # no closing handshakes: the server process is torn down anyway


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--first-index", type=int, default=0, help="index of the first client (for sampling)")
    parser.add_argument("--sample-every", type=int, default=10, help="one client in this many measures latency")
    parser.add_argument("--concurrency", type=int, default=50, help="clients connecting at once")
    args = parser.parse_args()
    raise_open_files()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
