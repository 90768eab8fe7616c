"""Processes on one PostgreSQL learn of each other's commits by LISTEN/NOTIFY (storage/pg/notify.py):
a Store's listeners hear every commit of another process's writer, with the seq it ended at, and
after PostgreSQL restarts the LISTEN connection comes back by itself and catches up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from storage import Batch, ObservationIn, Store
from tests.pgkit import TEMPLATE_DB, PgServer, start_again, stop_server

pytestmark = pytest.mark.pg  # the whole module is about the PostgreSQL engine

TIMEOUT_S = 60.0  # generous: two noisy cores

# A writer in a process of its own: each batch one commit; prints the seq each commit ended at.
WRITER = """
import asyncio, sys
from storage import Batch, ObservationIn, Store

async def main(url: str, n: int) -> None:
    store = await Store.open(url)
    try:
        for i in range(n):
            rec = ObservationIn(indicator="CPI_YOY", area="VN", period=f"2024-{i + 1:02d}", value=float(i), status="official")
            done = await store.observations.ingest(Batch("gso", [rec]))
            print(done.last_seq, flush=True)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def rec(period: str, value: float) -> ObservationIn:
    return ObservationIn(indicator="CPI_YOY", area="VN", period=period, value=value, status="official")


async def wait_for(check: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_store_hears_each_commit_of_another_process_with_its_seq(pg_url: str) -> None:
    store = await Store.open(pg_url)
    heard: list[int] = []
    store.add_listener(heard.append)
    try:
        assert store._listen is not None
        await asyncio.wait_for(store._listen.connected.wait(), TIMEOUT_S)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, pg_url, "5", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
        assert proc.returncode == 0, err.decode()
        committed = [int(line) for line in out.decode().split()]
        assert len(committed) == 5 and committed == sorted(set(committed))
        await wait_for(lambda: set(committed) <= set(heard), f"the seqs {committed} (heard {heard})")
        # Heard by seq, never more than is committed: the events up to each are readable.
        assert max(heard) == committed[-1] == await store.events.last_seq()
        assert [e.seq for e in await store.events.after(0)][-1] == committed[-1]
    finally:
        await store.close()


async def test_a_rolled_back_write_is_never_heard_of(pg_url: str) -> None:
    store, other = await Store.open(pg_url), await Store.open(pg_url)
    heard: list[int] = []
    store.add_listener(heard.append)
    try:
        assert store._listen is not None
        await asyncio.wait_for(store._listen.connected.wait(), TIMEOUT_S)
        before = await store.events.last_seq()

        def fails(conn: Any) -> None:
            conn.execute("INSERT INTO events (type, at, payload) VALUES ('alert', now(), '{}')")
            raise RuntimeError("the operation fails after appending an event")

        with pytest.raises(RuntimeError):
            await other.state.writer.run(fails)
        done = await other.observations.ingest(Batch("gso", [rec("2024-01", 1.0)]))
        await wait_for(lambda: done.last_seq in heard, "the next commit")
        # The rolled-back event's seq was reused by the commit after it: nothing else was heard.
        assert [s for s in heard if s > before] == [done.last_seq]
    finally:
        await other.close()
        await store.close()


async def test_after_a_postgresql_restart_the_listener_reconnects_and_catches_up(
    own_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.create_database(TEMPLATE_DB)
    store = await Store.open(url)
    heard: list[int] = []
    store.add_listener(heard.append)
    listen = store._listen
    assert listen is not None
    # Hold the LISTEN connection's comeback until another process has written: what it commits
    # meanwhile is not heard by notification (nobody listens), only by the catch-up.
    gate = asyncio.Event()
    connect = listen._connect

    async def held() -> Any:
        await gate.wait()
        return await connect()

    try:
        await asyncio.wait_for(listen.connected.wait(), TIMEOUT_S)
        stop_server(own_server)
        await wait_for(lambda: not listen.connected.is_set(), "the LISTEN connection to drop")
        monkeypatch.setattr(listen, "_connect", held)
        start_again(own_server, monkeypatch)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, url, "1", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
        assert proc.returncode == 0, err.decode()
        written = int(out.decode().split()[0])
        assert written not in heard
        gate.set()
        await wait_for(lambda: written in heard, f"the catch-up seq {written} (heard {heard})")
        assert listen.connects == 2 and listen.connected.is_set()
        # And it listens again: the next commit is heard as it happens.
        other = await Store.open(url)
        try:
            done = await other.observations.ingest(Batch("gso", [rec("2024-06", 6.0)]))
        finally:
            await other.close()
        await wait_for(lambda: done.last_seq in heard, "the next commit after the restart")
    finally:
        gate.set()
        await store.close()


async def test_processes_opening_a_new_database_at_once_share_one_epoch(pg_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(pg_url) for _ in range(8)))
    try:
        assert len({s.epoch for s in stores}) == 1
        again = await Store.open(pg_url)
        assert again.epoch == stores[0].epoch
        await again.close()
    finally:
        for s in stores:
            await s.close()


async def test_a_feed_on_postgresql_reads_events_only_when_told_of_a_commit(tmp_path: Any, pg_url: str) -> None:
    """No polling of the events table in a loop: an idle feed process on PostgreSQL reads no events;
    another process's commit reaches its client through the notification alone."""
    from tests.feedkit import client, feed_server

    async with feed_server(pg_url) as server:
        async with client(server, "operator", hello={"filter": {}}) as c:
            await c.until("snapshot")
            store = server.store
            reads = 0
            real = store.events.after

            async def counted(seq: int, limit: int = 1000) -> Any:
                nonlocal reads
                reads += 1
                return await real(seq, limit)

            store.events.after = counted  # type: ignore[method-assign]
            await asyncio.sleep(1.5)  # idle: a polling hub (once a second, as on SQLite) would have read by now
            assert reads == 0
            proc = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", WRITER, pg_url, "1"],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
            assert proc.returncode == 0, proc.stderr
            delta = await c.until("delta", timeout=TIMEOUT_S)
            assert delta["seq"] == int(proc.stdout.split()[-1])
            assert reads >= 1
