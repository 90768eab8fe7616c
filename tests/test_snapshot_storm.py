"""Snapshot storms: hundreds of real WebSocket clients subscribing at once over loopback (wall
screens after a network blip). Each must get welcome then its snapshot with nothing in between,
the clients already live must keep getting their deltas, and the server must not go on working
for clients that have left."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from feed.server import FeedServer
from storage import Batch, ObservationIn
from tests.feedkit import TOKENS, client, feed_server

AREAS = ["01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38"]
INDICATORS = ["CPI_YOY", "CPI_MOM", "IIP_YOY", "RETAIL_SALES", "BUDGET_REVENUE", "EXPORTS", "IMPORTS"]
SOURCES = [f"src-{n:02d}" for n in range(12)]  # 7 × 16 × 12 = 1,344 series: snapshots worth sharing
STORM = 600


async def fill(server: FeedServer, sources: int = len(SOURCES)) -> None:
    for source in SOURCES[:sources]:
        rows = [
            ObservationIn(indicator=i, area=a, period="2026-10", value=1.5, status="official")
            for i, a in itertools.product(INDICATORS, AREAS)
        ]
        await server.store.observations.ingest(Batch(source, rows, payload=None))


async def open_client(server: FeedServer, flt: dict[str, Any]) -> ClientConnection:
    ws = await connect(
        server.url,
        additional_headers={"Authorization": f"Bearer {TOKENS['display']}"},
        compression=None,
        max_size=None,
        open_timeout=60,
    )
    await ws.send(json.dumps({"type": "hello", "filter": flt}))
    return ws


def kind(frame: str | bytes) -> str:
    """The message's type, without parsing a whole snapshot (``type`` is encoded first)."""
    head = frame[:40] if isinstance(frame, str) else frame[:40].decode()
    assert head.startswith('{"type":"'), head
    return head[9:].split('"', 1)[0]


async def first_two(ws: ClientConnection) -> list[str]:
    return [kind(await asyncio.wait_for(ws.recv(), 120)) for _ in range(2)]


def metric(server: FeedServer, name: str) -> float:
    value = server.metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


async def test_a_storm_of_subscribers_keeps_order_and_live_clients_keep_their_deltas(tmp_path: Path) -> None:
    # Heartbeats every 100 ms: any client left waiting for its snapshot would be sent one.
    async with feed_server(tmp_path / "ops.db", heartbeat=0.1) as server:
        await fill(server, sources=2)
        live_filter = {"filter": {"indicators": ["GDP_GROWTH"]}}
        async with client(server, "display", hello=live_filter, close_timeout=1) as live:
            await live.until("snapshot")
            filters = [{}, {"areas": AREAS[:8]}, {"areas": AREAS[8:]}, {"indicators": INDICATORS[:3]}]
            connecting = [asyncio.create_task(open_client(server, filters[n % len(filters)])) for n in range(STORM)]
            storm = asyncio.create_task(_all(connecting))

            # Meanwhile: figures for the live client, one round at a time; each must reach it.
            rounds_during_storm = 0
            for round_ in range(40):
                period = f"{2000 + round_}-Q1"
                await server.store.observations.ingest(Batch("nso", [ObservationIn(indicator="GDP_GROWTH", area="VN", period=period, value=round_, status="official")]))  # fmt: skip
                delta = await live.until("delta", timeout=60)
                assert [c["period"] for c in delta["changes"]] == [period]
                if not storm.done():
                    rounds_during_storm += 1
                elif round_ >= 3:
                    break
            orders = await storm
            assert len(orders) == STORM
            wrong = [o for o in orders if o != ["welcome", "snapshot"]]
            assert not wrong, f"{len(wrong)} clients got something before their snapshot, e.g. {wrong[:3]}"
            # The live client was served while the storm went on (ticks were not queued behind it).
            assert rounds_during_storm >= 1
            # Snapshots were shared: a few reads per distinct filter, not one per client.
            assert metric(server, "opscentre_feed_snapshot_reads_total") <= len(filters) * 10


async def _all(connecting: list[asyncio.Task[ClientConnection]]) -> list[list[str]]:
    sockets = await asyncio.gather(*connecting)
    try:
        return list(await asyncio.gather(*(first_two(ws) for ws in sockets)))
    finally:
        for ws in sockets:  # without waiting for each close handshake: they stopped reading
            ws.transport.abort()


async def test_work_for_clients_that_left_is_dropped(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db", snapshot_concurrency=1) as server:
        await fill(server)
        rng = random.Random(7)
        # Every client a filter of its own (no sharing), each leaving right after its hello.
        filters = [{"areas": sorted(rng.sample(AREAS, 8)), "severities": ["critical"]} for _ in range(300)]
        sockets = await asyncio.gather(*(open_client(server, flt) for flt in filters))
        await asyncio.gather(*(ws.close() for ws in sockets))

        # The server soon has nothing left to do for them, and did not read most of their snapshots.
        for _ in range(600):
            if metric(server, "opscentre_feed_snapshots_pending") == 0 and not server.hub.clients:
                break
            await asyncio.sleep(0.05)
        assert metric(server, "opscentre_feed_snapshots_pending") == 0 and not server.hub.clients
        abandoned = metric(server, "opscentre_feed_snapshots_abandoned_total")
        reads = metric(server, "opscentre_feed_snapshot_reads_total")
        assert abandoned > 0 and reads < len(filters), (abandoned, reads)

        # And it still serves whoever comes next.
        async with client(server, "display", hello={"filter": {}}) as c:
            assert len((await c.until("snapshot"))["observations"]) == len(INDICATORS) * len(AREAS) * len(SOURCES)
