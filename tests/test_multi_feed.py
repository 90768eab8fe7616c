"""Several feed processes on one PostgreSQL (real `opscentre serve --role feed` subprocesses): they
learn events by LISTEN/NOTIFY and read them by seq, so a client resumes on any of them (one epoch for
the deployment); a manual collect sent to a feed process is run by a collector process, and the
caller gets its progress and result."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from collectors.config import SourceSettings
from collectors.queued import QueuedRuns
from feed.config import hash_token
from storage import Store
from tests.feedkit import TOKENS, Client, client, feed_server
from tests.simulator_fixtures import running
from tests.test_multi_collector import Role

pytestmark = pytest.mark.slow

TIMEOUT_S = 120.0  # generous: two noisy cores, several processes

# A writer in a process of its own: each figure its own series (a source of its own), so the feed
# never coalesces two of them and every one must reach the client; prints each commit's seq.
WRITER = """
import asyncio, sys
from storage import Batch, ObservationIn, Store

async def main(url: str, n: int) -> None:
    store = await Store.open(url)
    try:
        for i in range(n):
            rec = ObservationIn(indicator="CPI_YOY", area="VN", period="2024-01", value=float(i), status="official")
            done = await store.observations.ingest(Batch(f"writer-{i}", [rec]))
            print(done.last_seq, flush=True)
            await asyncio.sleep(0.05)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def config_text(url: str, sources: str = "") -> str:
    users = "".join(
        f'\n[[users]]\nname = "{role}-user"\nrole = "{role}"\ntoken_sha256 = "{hash_token(token)}"\n'
        for role, token in TOKENS.items()
    )
    return f"""
[database]
url = "{url}"

[feed]
port = 0

[collector]
shutdown_grace = "500ms"
retries = 0
{sources}{users}"""


async def started(role: Role) -> str:
    await role.wait_for("the feed's port", lambda: role.port is not None, timeout=TIMEOUT_S)
    return f"ws://127.0.0.1:{role.port}/feed"


def position_of(message: dict[str, Any]) -> int | None:
    return message.get("seq") if message["type"] in ("delta", "alert", "run", "heartbeat") else None


async def test_a_client_resumes_on_another_feed_process_without_gap_or_duplicate(tmp_path: Path, pg_url: str) -> None:
    config = tmp_path / "ops.toml"
    config.write_text(config_text(pg_url))
    a, b = Role(config, "feed"), Role(config, "feed")
    writer: asyncio.subprocess.Process | None = None
    n = 60
    try:
        url_a, url_b = await started(a), await started(b)
        headers = {"Authorization": f"Bearer {TOKENS['display']}"}
        got: list[dict[str, Any]] = []  # every message from the event log, on A then on B
        async with connect(url_a, additional_headers=headers, compression=None) as ws:
            on_a = Client(ws)
            await on_a.send({"type": "hello", "filter": {}})
            welcome_a = await on_a.until("welcome")
            await on_a.until("snapshot")
            writer = await asyncio.create_subprocess_exec(
                sys.executable, "-c", WRITER, pg_url, str(n), stdout=subprocess.PIPE
            )
            # Feed A hears the other process's commits (NOTIFY) and sends them: take a few, then kill it.
            while sum(len(m.get("changes", [])) for m in got) < 10:
                message = await on_a.next(timeout=TIMEOUT_S)
                if position_of(message) is not None:
                    got.append(message)
            a.kill()  # SIGKILL
            try:
                while True:  # whatever A had sent before it died
                    message = await on_a.next(timeout=TIMEOUT_S)
                    if position_of(message) is not None:
                        got.append(message)
            except ConnectionClosed:
                pass
        position = (welcome_a["epoch"], got[-1]["seq"])
        out, _ = await asyncio.wait_for(writer.communicate(), TIMEOUT_S)
        assert writer.returncode == 0
        last = int(out.decode().split()[-1])
        assert position[1] < last  # A died before the writer was done: there is something to resume

        async with connect(url_b, additional_headers=headers, compression=None) as ws:
            on_b = Client(ws)
            await on_b.send({"type": "hello", "filter": {}, "resume": {"epoch": position[0], "seq": position[1]}})
            welcome_b = await on_b.until("welcome")
            assert welcome_b["epoch"] == position[0] and welcome_b["resumed"] is True, welcome_b
            while got[-1]["seq"] < last:
                message = await on_b.next(timeout=TIMEOUT_S)
                assert message["type"] != "snapshot"
                if position_of(message) is not None:
                    got.append(message)

        events = [m for m in got if m["type"] != "heartbeat"]
        seqs = [m["seq"] for m in events]
        assert seqs == sorted(set(seqs)), seqs  # never a message twice, never back
        values = [c["value"] for m in events for c in m.get("changes", [])]
        with psycopg.connect(pg_url) as conn:
            table = [
                float(v)
                for (v,) in conn.execute(
                    "SELECT o.value FROM events e JOIN observations o ON o.id = e.obs_id ORDER BY e.seq"
                )
            ]
            (max_seq,) = conn.execute("SELECT max(seq) FROM events").fetchone()  # type: ignore[misc]
        assert table == [float(i) for i in range(n)] and max_seq == last
        assert values == table  # no gap, no duplicate: each figure once, in seq order
    finally:
        if writer is not None and writer.returncode is None:
            writer.kill()
            await writer.wait()
        a.kill()
        b.kill()


async def test_a_manual_collect_sent_to_a_feed_process_is_run_by_the_collector_processes(
    tmp_path: Path, pg_url: str
) -> None:
    """Two collector processes share the two sources by leases: a `collect --all` sent to a feed
    process runs each source in the process that holds its lease; the caller gets the progress and
    the result of both."""
    async with running() as (sim, _):
        sources = "".join(
            f"""
[[sources]]
name = "{a.lower()}"
kind = "agency-json"
url = "{sim.url}/agencies/{a}/observations?page_size=500"
agency = "{a}"
every = "1h"
"""
            for a in ("NSO", "MOF")
        )
        config = tmp_path / "ops.toml"
        config.write_text(config_text(pg_url, sources).replace("[collector]\n", '[collector]\nlease = "3s"\n'))
        feed = Role(config, "feed")
        collectors = [Role(config, "collector"), Role(config, "collector")]
        try:
            url = await started(feed)

            def owners() -> set[str]:
                with psycopg.connect(pg_url) as conn:
                    rows = conn.execute(
                        "SELECT owner FROM source_leases WHERE source IN ('nso', 'mof') AND expires_at > now()"
                    ).fetchall()
                return {r[0] for r in rows} if len(rows) == 2 else set()

            await feed.wait_for("the two sources leased to two processes", lambda: len(owners()) == 2, TIMEOUT_S)
            headers = {"Authorization": f"Bearer {TOKENS['admin']}"}
            async with connect(url, additional_headers=headers, compression=None) as ws:
                c = Client(ws)
                await c.send({"type": "hello", "filter": {"observations": False}})
                await c.until("welcome")
                await c.until("snapshot")
                await c.send(
                    {
                        "type": "command",
                        "id": "c1",
                        "idempotency_key": "multi-feed-1",
                        "command": {"name": "collect", "all": True},
                    }
                )
                messages: list[dict[str, Any]] = []
                while not (messages and messages[-1]["type"] == "result" and messages[-1]["status"] == "done"):
                    message = await c.next(timeout=TIMEOUT_S)
                    assert message["type"] != "error", message
                    messages.append(message)
            results = [m for m in messages if m["type"] == "result"]
            assert results[0]["status"] == "accepted" and results[0]["data"]["sources"] == ["nso", "mof"]
            done = results[-1]["data"]["runs"]
            assert [(r["source"], r["trigger"], r["outcome"]) for r in done] == [
                ("nso", "manual", "success"),
                ("mof", "manual", "success"),
            ]
            # Its progress came back to the caller before the result: each run's own `run` messages.
            for run in done:
                ours = [m for m in messages if m["type"] == "run" and m["run"]["id"] == run["id"]]
                assert [m["event"] for m in ours][-1] == "finished"
                assert messages.index(ours[-1]) < messages.index(results[-1])
            # Run by the collector processes (one source each), not the feed process; requests done.
            with psycopg.connect(pg_url) as conn:
                pids = [
                    conn.execute("SELECT pid FROM runs WHERE id = %s", (r["id"],)).fetchone()[0]  # type: ignore[index]
                    for r in done
                ]
                requests = conn.execute(
                    "SELECT sources, requested_by, claimed_by IS NOT NULL, done_at IS NOT NULL FROM run_requests ORDER BY id"
                ).fetchall()
            assert sorted(pids) == sorted(c.proc.pid for c in collectors)
            assert [(json.loads(r[0]), r[1], r[2], r[3]) for r in requests] == [
                (["nso"], "admin-user", True, True),
                (["mof"], "admin-user", True, True),
            ]
        finally:
            feed.kill()
            for collector in collectors:
                collector.kill()


async def test_a_collect_no_collector_process_takes_is_refused_clearly_and_withdrawn(pg_url: str) -> None:
    store = await Store.open(pg_url)
    runs = QueuedRuns(store, [SourceSettings(name="nso", kind="agency-json", url="http://127.0.0.1:1/x", every="1h")])
    runs.claim_timeout = 0.5  # no collector process runs on this database
    try:
        async with feed_server(pg_url, store=store, runs=runs) as server, client(server, "admin") as c:
            await c.send({"type": "hello", "filter": {"observations": False}})
            await c.until("snapshot")
            await c.send(
                {
                    "type": "command",
                    "id": "c1",
                    "idempotency_key": "no-collector-1",
                    "command": {"name": "collect", "source": "nso"},
                }
            )
            assert (await c.until("result"))["status"] == "accepted"
            error = await c.until("error", timeout=TIMEOUT_S, skip=("heartbeat", "run"))
            assert error["id"] == "c1" and "no collector process took the run" in error["message"], error
        # Withdrawn: a collector process started later does not run it behind the caller's back.
        assert await store.requests.claim("a-later-collector") is None
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute("SELECT claimed_by, done_at IS NOT NULL FROM run_requests").fetchall()
        assert rows == [(None, True)]
    finally:
        await store.close()
