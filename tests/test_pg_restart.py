"""PostgreSQL restarted under a running deployment: a feed process, a collector process and a
writing process (real subprocesses) each reconnect by themselves, nothing acknowledged is lost,
and the feed's client sees every event once, in order, across the restart."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.feedkit import TOKENS, Client
from tests.pgkit import TEMPLATE_DB, PgServer, start_again, stop_server
from tests.simulator_fixtures import Clock, running
from tests.test_multi_collector import Role, pg_rows
from tests.test_multi_feed import config_text, position_of, started

pytestmark = pytest.mark.slow

TIMEOUT_S = 120.0  # generous: two noisy cores, several processes

# Writes one figure at a time, each its own series; a write refused while the server is away is
# tried again, and a seq is printed only once its commit is acknowledged.
WRITER = """
import asyncio, sys
from storage import Batch, ObservationIn, Store
from storage.writes import StoreUnavailable

async def main(url: str, n: int) -> None:
    store = await Store.open(url)
    store.probe_every = 0.2
    try:
        for i in range(n):
            rec = ObservationIn(indicator="CPI_YOY", area="VN", period="2024-01", value=float(i), status="official")
            while True:
                try:
                    done = await store.observations.ingest(Batch(f"writer-{i}", [rec]))
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.2)
            print(done.last_seq, flush=True)
            await asyncio.sleep(0.1)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_every_process_reconnects_after_a_postgresql_restart_and_nothing_acknowledged_is_lost(
    tmp_path: Path, own_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.create_database(TEMPLATE_DB)
    n = 80
    async with running(Clock(), seed=2020) as (sim, _):
        source = f"""
[[sources]]
name = "nso"
kind = "agency-json"
url = "{sim.url}/agencies/NSO/observations"
agency = "NSO"
every = "2s"
"""
        config = tmp_path / "ops.toml"
        config.write_text(config_text(url, source))
        feed, collector = Role(config, "feed"), Role(config, "collector")
        writer: asyncio.subprocess.Process | None = None
        try:
            feed_url = await started(feed)
            headers = {"Authorization": f"Bearer {TOKENS['display']}"}
            async with connect(feed_url, additional_headers=headers, compression=None) as ws:
                c = Client(ws)
                await c.send({"type": "hello", "filter": {}})
                await c.until("snapshot")
                writer = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", WRITER, url, str(n), stdout=subprocess.PIPE
                )
                got: list[dict[str, Any]] = []

                def written(m: dict[str, Any]) -> list[dict[str, Any]]:
                    return [ch for ch in m.get("changes", []) if ch["source"].startswith("writer-")]

                async def take(count: int) -> None:
                    while sum(len(written(m)) for m in got) < count:
                        message = await c.next(timeout=TIMEOUT_S)
                        if message["type"] == "delta":
                            got.append(message)

                await take(10)
                before = pg_rows(url, "SELECT count(*) FROM runs WHERE outcome = 'success'")[0][0]
                stop_server(own_server)  # every session ends; every process sees its connection go
                await asyncio.sleep(2.0)  # the writer's writes are refused meanwhile, and retried
                start_again(own_server, monkeypatch)
                await take(n)  # the feed process's reader and LISTEN came back by themselves
                out, _ = await asyncio.wait_for(writer.communicate(), TIMEOUT_S)
                assert writer.returncode == 0
                acknowledged = [int(s) for s in out.decode().split()]
                assert len(acknowledged) == n

            values = [ch["value"] for m in got for ch in written(m)]
            assert values == [float(i) for i in range(n)]  # every figure once, in order, across the restart
            seqs = [position_of(m) for m in got]
            assert seqs == sorted(set(seqs))  # type: ignore[type-var]
            table = {s for (s,) in pg_rows(url, "SELECT e.seq FROM events e JOIN observations o ON o.id = e.obs_id WHERE left(o.source, 7) = 'writer-'")}  # fmt: skip
            assert set(acknowledged) <= table  # nothing acknowledged is lost

            # The collector process polls on: a good run that began after the restart.
            await collector.wait_for(
                "a good run after the restart",
                lambda: pg_rows(url, "SELECT count(*) FROM runs WHERE outcome = 'success'")[0][0] > before,  # type: ignore[operator]
                timeout=TIMEOUT_S,
            )
            assert feed.proc.poll() is None and collector.proc.poll() is None
        finally:
            if writer is not None and writer.returncode is None:
                writer.kill()
                await writer.wait()
            feed.kill()
            collector.kill()


async def test_serve_role_all_keeps_its_role_across_a_postgresql_restart_and_a_second_is_still_refused(
    tmp_path: Path, own_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --role all` holds its exclusive role by the `__sole__` lease row (collectors/sole_lease.py):
    the restart ends its advisory lock's session, yet a second `all` started right after is refused naming
    the first, and the first renews its lease, takes the lock again and goes on collecting. (Holding only
    the advisory lock, the first lost it to the restart and the second started beside it.)"""
    url = own_server.create_database(TEMPLATE_DB)
    async with running(Clock(), seed=2020) as (sim, _):
        source = f"""
[[sources]]
name = "nso"
kind = "agency-json"
url = "{sim.url}/agencies/NSO/observations"
agency = "NSO"
every = "1s"
"""
        config = tmp_path / "ops.toml"
        config.write_text(config_text(url, source).replace("[collector]\n", '[collector]\nlease = "3s"\n'))
        first = Role(config, "all")
        seconds: list[Role] = []

        def good_runs() -> int:
            return int(pg_rows(url, "SELECT count(*) FROM runs WHERE outcome = 'success' AND pid = %s", (first.proc.pid,))[0][0])  # type: ignore[call-overload]  # fmt: skip

        def sole() -> list[tuple[object, ...]]:
            return pg_rows(
                url, "SELECT owner, holder FROM source_leases WHERE source = '__sole__' AND expires_at > now()"
            )

        async def second_refused() -> None:
            second = Role(config, "all")
            seconds.append(second)
            await second.wait_for("the second to exit", lambda: second.proc.poll() is not None, timeout=TIMEOUT_S)
            said = " ".join(second.output.split())
            assert second.proc.returncode == 2, said
            assert f"already in use by opscentre serve (pid {first.proc.pid} on" in said, said

        try:
            await first.wait_for("a good run", lambda: good_runs() > 0, timeout=TIMEOUT_S)
            held = [row[0] for row in sole()]
            stop_server(own_server)  # every session ends: the advisory lock's too
            await asyncio.sleep(1.0)
            start_again(own_server, monkeypatch)
            await second_refused()  # at once: the first has not taken its advisory lock again yet
            before = good_runs()
            await first.wait_for("a good run after the restart", lambda: good_runs() > before, timeout=TIMEOUT_S)
            assert len(held) == 1 and [row[0] for row in sole()] == held  # the same lease, renewed
            lock_session = "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE %s"
            await first.wait_for(
                "the first to take its advisory lock again",
                lambda: bool(pg_rows(url, lock_session, (f"opsc:{held[0]} %",))),
                timeout=TIMEOUT_S,
            )
            await second_refused()  # by the advisory lock again
            assert "took it" not in first.output and first.proc.poll() is None
            assert await first.stop() == 0
            assert sole() == []  # a clean stop gives the lease back
        finally:
            first.kill()
            for second in seconds:
                second.kill()
