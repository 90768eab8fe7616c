"""Chaos on one PostgreSQL: the whole deployment as real processes (two `serve --role feed`, two
`serve --role collector`, the simulator with a fixed seed and clock) and screens reading the feed
over WebSocket, resuming by their last seq after a disconnect. In turn: a collector process is killed
(SIGKILL) mid-run, a feed process is killed under its screens (they resume on the other), PostgreSQL
is restarted (the same data directory on the same port), and every process gets SIGTERM.

Afterwards every figure stored equals one clean collection of the same simulator, none is stored
twice, every screen's stream has no gap and no duplicate, no run is left running, and the audit
chain verifies. Every wait is for an event (a row, a message, a line), bounded, and names what it
waited for when it fails."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from feed.config import hash_token
from storage import Event, EventType, Store
from tests.feedkit import TOKENS, Client, check_server_message
from tests.pgkit import TEMPLATE_DB, PgServer, start_again, stop_server
from tests.servekit import Served
from tests.simulator_fixtures import DEMO_DAY
from tests.test_multi_collector import FIGURES, Role, leases_of, opscentre, owner_of, pg_rows

pytestmark = [pytest.mark.slow, pytest.mark.pg]

TIMEOUT_S = 90.0  # any one wait; generous: two noisy cores shared with other test runs
SEED = 2020
AGENCIES = ("NSO", "MOF", "CUS", "MOIT")  # about 2,500 figures
PAGE_SIZE = 10  # many pages: a pull lasts, so there is a run to interrupt at each step
LATENCY_MS = 150  # every page waits this long until the chaos is over

# The simulator as a process of its own, on a fixed clock (the demo day), so that a second
# collection sees exactly the same figures; it says where it listens, and stops on SIGTERM.
SIMULATOR = """
import asyncio, signal, sys
from datetime import datetime
from simulator import SimulatorConfig, start

async def main(seed: int, now: datetime) -> None:
    sim = await start(SimulatorConfig(port=0, seed=seed, now=lambda: now))
    print("simulator listening on", sim.url, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await sim.stop()

asyncio.run(main(int(sys.argv[1]), datetime.fromisoformat(sys.argv[2])))
"""


class SimulatorProcess(Served):
    """`python -c SIMULATOR` as a child process, its output read as it comes."""

    def __init__(self, seed: int) -> None:  # (not Served's: it starts no `serve`)
        self._spawn([sys.executable, "-c", SIMULATOR, str(seed), DEMO_DAY.isoformat()])

    @property
    def url(self) -> str | None:
        found = re.search(r"simulator listening on (http://\S+)", self.output)
        return found[1] if found else None


def deployment_config(url: str, sim_url: str) -> str:
    """One configuration for every process: the database, the feed, the collectors and their sources."""
    sources = "".join(
        f"""
[[sources]]
name = "{a.lower()}"
kind = "agency-json"
url = "{sim_url}/agencies/{a}/observations?page_size={PAGE_SIZE}"
agency = "{a}"
every = "1h"
"""
        for a in AGENCIES
    )
    users = "".join(
        f'\n[[users]]\nname = "{role}-user"\nrole = "{role}"\ntoken_sha256 = "{hash_token(token)}"\n'
        for role, token in TOKENS.items()
    )
    return f"""
[database]
url = "{url}"

[feed]
port = 0
heartbeat = "1s"

[collector]
shutdown_grace = "500ms"
retries = 0
lease = "3s"
{sources}{users}"""


# --- waiting --------------------------------------------------------------------------------------


class Deployment:
    """The processes running (by name) and a bounded wait on the database or on the screens."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.procs: dict[str, Served] = {}

    def rows(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return pg_rows(self.url, sql, args)

    def output(self) -> str:
        return "\n".join(f"--- {name}:\n{''.join(p.lines[-40:])}" for name, p in self.procs.items())

    async def until(self, what: str, check: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
        """Poll ``check`` (a database away counts as not yet) until it holds; fail naming ``what``,
        and at once if a process that should be running has exited."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                if check():
                    return
            except psycopg.OperationalError:
                pass
            for name, p in self.procs.items():
                if p.proc.poll() is not None:
                    raise AssertionError(
                        f"{name} exited ({p.proc.returncode}) while waiting for {what}\n{self.output()}"
                    )
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{self.output()}")
            await asyncio.sleep(0.1)

    def start(self, name: str, proc: Served) -> Served:
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> Served:
        """SIGKILL: no clean stop of any kind."""
        proc = self.procs.pop(name)
        proc.kill()
        assert proc.proc.returncode == -signal.SIGKILL
        return proc

    async def terminate(self, name: str) -> str:
        """SIGTERM, and a clean stop (exit 0) within the timeout; its output."""
        proc = self.procs.pop(name)
        code = await proc.stop(signal.SIGTERM, timeout=TIMEOUT_S)
        assert code == 0, f"{name} exited {code} on SIGTERM:\n{proc.output}"
        assert "stopped cleanly" in proc.output, proc.output
        return proc.output

    def kill_all(self) -> None:
        for proc in self.procs.values():
            proc.kill()


async def feed_url(role: Served) -> str:
    await role.wait_for("the feed's port", lambda: role.port is not None, timeout=TIMEOUT_S)
    return f"ws://127.0.0.1:{role.port}/feed"


# --- a screen: reads the whole stream, resumes on the other feed process when its own drops ----------

POSITIONED = ("snapshot", "delta", "alert", "run", "heartbeat")


@dataclass
class Connection:
    url: str
    resumed_from: int | None  # the seq sent in hello.resume (None: the first connection)
    welcome: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # after the welcome, as received


class Screen:
    """A display client subscribed to everything; after any disconnect it tries the next feed
    process and resumes from the last (epoch, seq) it received (docs/protocol.md)."""

    def __init__(self, name: str, urls: list[str]) -> None:
        self.name = name
        self.urls = urls  # its own feed first, then the others (a process restarted may be put back)
        self.connections: list[Connection] = []
        self.epoch: str | None = None
        self.position: int | None = None
        self.stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"screen-{self.name}")

    async def stop(self) -> None:
        self.stopping = True
        if self._task is not None:
            await asyncio.wait_for(self._task, TIMEOUT_S)

    @property
    def connected_to(self) -> str | None:
        return self.connections[-1].url if self.connections else None

    async def _run(self) -> None:
        attempt = 0
        while not self.stopping:
            url = self.urls[attempt % len(self.urls)]
            try:
                await self._session(url)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass  # the feed process is gone or going: the next one
            attempt += 1
            if not self.stopping:
                await asyncio.sleep(0.2)

    async def _session(self, url: str) -> None:
        headers = {"Authorization": f"Bearer {TOKENS['display']}"}
        async with connect(url, additional_headers=headers, compression=None, open_timeout=5, max_size=None) as ws:
            conn = Connection(url, self.position)
            self.connections.append(conn)
            hello: dict[str, Any] = {"type": "hello", "filter": {}, "client": self.name}
            if self.position is not None:
                hello["resume"] = {"epoch": self.epoch, "seq": self.position}
            await ws.send(json.dumps(hello))
            async for raw in ws:
                message = json.loads(raw)
                check_server_message(raw, message)
                if message["type"] == "welcome":
                    conn.welcome = message
                    self.epoch = self.epoch or message["epoch"]
                    continue
                conn.messages.append(message)
                if message["type"] in POSITIONED:
                    self.position = message["seq"]
                if self.stopping:
                    return


# --- the checks -------------------------------------------------------------------------------------

SeriesKey = tuple[str, str, str]  # indicator, area, source


def newer(change: dict[str, Any], held: dict[str, Any] | None) -> bool:
    """A change replaces what a client holds unless its (period, revision) is older (docs/protocol.md)."""
    return held is None or (change["period"], change["revision"]) >= (held["period"], held["revision"])


def series(change: dict[str, Any]) -> SeriesKey:
    return change["indicator"], change["area"], change["source"]


def lossless(event: Event) -> tuple[int, str, object] | None:
    """What a run or alert event is sent as, one message each: (seq, type, what it names)."""
    if event.type is EventType.ALERT:
        return event.seq, "alert", event.payload["id"]
    if event.type in (EventType.RUN_STARTED, EventType.RUN_FINISHED):
        return event.seq, "run", (event.payload["id"], "started" if event.type is EventType.RUN_STARTED else "finished")
    return None


def sent_as(message: dict[str, Any]) -> tuple[int, str, object] | None:
    if message["type"] == "alert":
        return message["seq"], "alert", message["alert"]["id"]
    if message["type"] == "run":
        return message["seq"], "run", (message["run"]["id"], message["event"])
    return None


def replayed(events: list[Event]) -> list[int]:
    """The seqs a resume replays for ``events`` (filter: everything): one message per event, but a
    back-filled older period (its first revision) of a series already replayed (docs/protocol.md)."""
    newest: dict[SeriesKey, str] = {}
    out = []
    for e in events:
        if e.type is EventType.OBSERVATION:
            key, period = series(e.payload), e.payload["period"]
            if key in newest and period < newest[key] and e.payload["revision"] == 1:
                continue
            newest[key] = max(period, newest.get(key, period))
        out.append(e.seq)
    return out


def check_stream(screen: Screen, events: list[Event], figures: dict[int, tuple[Any, ...]]) -> int:
    """One screen's whole stream, across its connections, against the event log; its last seq."""
    name = screen.name
    first, *later = screen.connections
    assert first.welcome is not None and first.resumed_from is None
    assert first.messages and first.messages[0]["type"] == "snapshot", (name, first.messages[:1])
    start = first.messages[0]["seq"]
    state: dict[SeriesKey, dict[str, Any]] = {}
    for change in first.messages[0]["observations"]:
        state[series(change)] = change
    for conn in later:  # each reconnection resumed where the stream stopped, on the same epoch
        assert conn.welcome is not None, (name, conn.url)
        assert conn.welcome["epoch"] == first.welcome["epoch"], (name, conn.welcome)
        assert conn.welcome["resumed"] is True, (name, conn.resumed_from, conn.welcome)
        assert conn.resumed_from is not None, name
        assert all(m["type"] != "snapshot" for m in conn.messages), name
        # The replay: every event it missed, one message each, in seq order, up to the welcome's seq.
        missed = [e for e in events if conn.resumed_from < e.seq <= conn.welcome["seq"]]
        got = [m["seq"] for m in conn.messages if m["type"] != "heartbeat" and m["seq"] <= conn.welcome["seq"]]
        assert got == replayed(missed), (name, conn.resumed_from, conn.welcome["seq"])

    stream = [m for conn in screen.connections for m in conn.messages[1 if conn is first else 0 :]]
    sent = [m for m in stream if m["type"] in ("delta", "alert", "run")]
    seqs = [m["seq"] for m in sent]
    assert all(a < b for a, b in zip([start, *seqs], seqs, strict=False)), f"{name}: a seq twice or back"
    beats = [m["seq"] for m in stream if m["type"] in POSITIONED]
    assert beats == sorted(beats), f"{name}: its position went back"
    end = beats[-1] if beats else start

    # Runs and alerts are never merged: every one after the snapshot, once, each at its event's seq.
    expected = [x for e in events if start < e.seq <= end and (x := lossless(e)) is not None]
    received = [x for m in sent if (x := sent_as(m)) is not None]
    assert received == expected, f"{name}: a run or alert missing"
    # Figures merge per series: each one sent is a stored figure at or before the message's seq, and
    # what the screen holds in the end is the newest of every series as of its last seq.
    newest: dict[SeriesKey, dict[str, Any]] = {}
    for e in events:
        if e.type is EventType.OBSERVATION and e.seq <= end and newer(e.payload, newest.get(series(e.payload))):
            newest[series(e.payload)] = e.payload
    at: dict[int, int] = {}  # each figure's (first) event
    for e in events:
        if e.type is EventType.OBSERVATION:
            at.setdefault(e.payload["id"], e.seq)
    for m in sent:
        for change in m.get("changes", []) + m.get("revisions", []):
            stored = figures.get(change["id"])
            assert stored == (*series(change), change["period"], change["revision"], change["value"]), (name, change)
            assert at[change["id"]] <= m["seq"], (name, change, m["seq"])
        for change in m.get("changes", []):
            if newer(change, state.get(series(change))):
                state[series(change)] = change
    assert {k: c["id"] for k, c in state.items()} == {k: c["id"] for k, c in newest.items()}, (
        f"{name}: a figure missing"
    )
    return end


async def read_events(url: str) -> list[Event]:
    store = await Store.open(url)
    try:
        events: list[Event] = []
        while page := await store.events.after(events[-1].seq if events else 0, limit=5000):
            events += page
        report = await store.audit.verify()
        assert report.ok and report.entries >= 1, report  # the manual collect is in it
        assert await store.audit.dangling_references() == []
    finally:
        await store.close()
    return events


# --- the test -------------------------------------------------------------------------------------


async def test_a_deployment_survives_killed_processes_and_a_postgresql_restart(
    tmp_path: Path, own_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.create_database(TEMPLATE_DB)
    sources = {a.lower() for a in AGENCIES}
    at = Deployment(url)
    screens: list[Screen] = []
    sim = SimulatorProcess(SEED)
    try:
        await sim.wait_for("the simulator's address", lambda: sim.url is not None, timeout=TIMEOUT_S)
        sim_url = sim.url
        assert sim_url is not None
        async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
            fault = {"endpoint": "/agencies/*", "kind": "latency", "ms": LATENCY_MS}
            (await http.put("/_admin/faults", json=fault)).raise_for_status()
        config = tmp_path / "ops.toml"
        config.write_text(deployment_config(url, sim_url))

        # Two feed processes, a screen on each before anything is collected (two on the first).
        f1, f2 = at.start("feed 1", Role(config, "feed")), at.start("feed 2", Role(config, "feed"))
        url1, url2 = await feed_url(f1), await feed_url(f2)
        screens = [Screen("s1", [url1, url2]), Screen("s2", [url1, url2]), Screen("s3", [url2, url1])]
        for s in screens:
            s.start()
        await at.until("every screen's snapshot", lambda: all(s.position is not None for s in screens))

        # --- 1. two collector processes share the sources; one is killed (SIGKILL) mid-run -----------
        a, b = at.start("collector A", Role(config, "collector")), at.start("collector B", Role(config, "collector"))
        await at.until(
            "the collectors' identities", lambda: None not in (owner_of(url, a.proc.pid), owner_of(url, b.proc.pid))
        )
        owner_a, owner_b = owner_of(url, a.proc.pid), owner_of(url, b.proc.pid)
        await at.until(
            "the sources split between the two collectors",
            lambda: set(leases_of(url)) == sources and set(leases_of(url).values()) == {owner_a, owner_b},
        )
        a_mid_run = (
            "SELECT r.id FROM runs r WHERE r.pid = %s AND r.outcome = 'running' "
            "AND EXISTS (SELECT 1 FROM observations o WHERE o.run_id = r.id)"
        )
        await at.until("a run of A's half done", lambda: bool(at.rows(a_mid_run, (a.proc.pid,))))
        at.kill("collector A")
        killed = at.rows("SELECT id FROM runs WHERE pid = %s AND outcome = 'running'", (a.proc.pid,))
        assert killed
        (killed_at,) = at.rows("SELECT max(seq) FROM events")[0]
        await at.until(
            "B to take A's sources over",
            lambda: set(leases_of(url).values()) == {owner_b} and set(leases_of(url)) == sources,
        )
        a2 = at.start("collector A again", Role(config, "collector"))  # as a supervisor would
        # Started before the restart below (a `serve` that cannot reach its database as it starts exits 2).
        await at.until("collector A again to have started", lambda: "Ctrl+C stops cleanly" in a2.output)

        # --- 2. the first feed process is killed under its screens: they resume on the second ---------
        on_1 = [s for s in screens if s.connected_to == url1]
        assert len(on_1) == 2
        await at.until(
            "the first feed's screens to see B's takeover", lambda: all(s.position > killed_at for s in on_1)
        )
        at.kill("feed 1")
        await at.until(
            "the first feed's screens to resume on the second",
            lambda: all(
                len(s.connections) == 2 and s.connected_to == url2 and s.connections[-1].welcome is not None
                for s in on_1
            ),
        )
        f1 = at.start("feed 1 again", Role(config, "feed"))
        url1_again = await feed_url(f1)

        # --- 3. PostgreSQL restarted while runs are in flight ---------------------------------------
        in_flight = (
            "SELECT r.id FROM runs r WHERE r.outcome = 'running' "
            "AND EXISTS (SELECT 1 FROM observations o WHERE o.run_id = r.id)"
        )
        await at.until("a run in flight", lambda: bool(at.rows(in_flight)))
        (before_restart,) = at.rows("SELECT max(seq) FROM events")[0]
        stop_server(own_server)
        start_again(own_server, monkeypatch)
        # Every process is back: the runs cut short are recorded ended, and the screens hear of them.
        await at.until(
            "the runs in flight at the restart to be recorded ended",
            lambda: not at.rows(in_flight) and at.rows("SELECT max(seq) FROM events")[0][0] > before_restart,
        )
        async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
            (await http.delete("/_admin/faults")).raise_for_status()

        # An operator collects everything again through the restarted feed process: what the chaos
        # cut short is pulled whole (each pull resumes from the last cursor stored with a last page).
        async with connect(
            url1_again, additional_headers={"Authorization": f"Bearer {TOKENS['admin']}"}, compression=None
        ) as ws:
            admin = Client(ws)
            await admin.send({"type": "hello", "filter": {"observations": False}})
            await admin.until("snapshot", timeout=TIMEOUT_S)
            command = {"name": "collect", "all": True}
            await admin.send(
                {"type": "command", "id": "c1", "idempotency_key": "chaos-collect-all", "command": command}
            )
            done = await admin.collect_until(
                lambda m: m["type"] == "error" or (m["type"] == "result" and m["status"] == "done"), timeout=TIMEOUT_S
            )
        assert done[-1]["type"] == "result", f"{done[-1]}\n{at.output()}"
        assert {(r["source"], r["outcome"]) for r in done[-1]["data"]["runs"]} == {(s, "success") for s in sources}

        # --- 4. SIGTERM each process: the collectors, then (the screens caught up) the feeds ------------
        # Once the database is back, each process resolves its own "cannot be written" alert (its recovery
        # task, a few seconds on): the deployment has recovered when none is open; that is an event too.
        await at.until(
            "every storage.write_failed alert resolved",
            lambda: (
                at.rows("SELECT count(*) FROM alerts WHERE rule = 'storage.write_failed' AND state <> 'resolved'")
                == [(0,)]
            ),
        )
        for name in ("collector B", "collector A again"):
            await at.terminate(name)
        (last,) = at.rows("SELECT max(seq) FROM events")[0]
        await at.until(f"every screen at seq {last}", lambda: all(s.position == last for s in screens))
        for s in screens:
            s.stopping = True
        for name in ("feed 2", "feed 1 again"):
            await at.terminate(name)
        for s in screens:
            await s.stop()

        # One clean collection of the same simulator (same seed, same clock) into a database of its own.
        clean_url = own_server.create_database(TEMPLATE_DB)
        clean = tmp_path / "clean.toml"
        clean.write_text(deployment_config(clean_url, sim_url))
        single = await asyncio.to_thread(opscentre, "collect", "--local", "--all", "--config", str(clean))
        assert single.returncode == 0, single.stdout + single.stderr
    finally:
        for s in screens:
            s.stopping = True
            if s._task is not None:
                s._task.cancel()
        at.kill_all()
        sim.kill()

    # Nothing left running; the runs A was killed in are interrupted.
    assert at.rows("SELECT id, source FROM runs WHERE outcome = 'running'") == []
    for (run_id,) in killed:
        assert at.rows("SELECT outcome FROM runs WHERE id = %s", (run_id,)) == [("interrupted",)]
    # No figure stored twice: no key and revision twice, no revision that repeats the one before it.
    assert (
        at.rows(
            "SELECT indicator, area, period, source, revision FROM observations "
            "GROUP BY indicator, area, period, source, revision HAVING count(*) > 1"
        )
        == []
    )
    assert (
        at.rows(
            "SELECT indicator, area, period, source, revision FROM ("
            " SELECT *, lag(value) OVER w AS value_before, lag(status) OVER w AS status_before FROM observations"
            " WINDOW w AS (PARTITION BY indicator, area, period, source ORDER BY revision)) o "
            "WHERE value = value_before AND status = status_before"
        )
        == []
    )
    # Every figure, every revision, every value, as the clean collection stored them.
    alone = sorted(pg_rows(clean_url, FIGURES))
    assert len(alone) > 2000
    assert sorted(at.rows(FIGURES)) == alone

    # Every screen's stream: no gap, no duplicate, and the newest figure of every series in the end.
    events = await read_events(url)
    figures = {
        r[0]: tuple(r[1:])
        for r in at.rows("SELECT id, indicator, area, source, period, revision, value FROM observations")
    }
    for s in screens:
        assert check_stream(s, events, figures) == last, s.name
    later = [(e.seq, e.type.value, e.payload) for e in events if e.seq > last]
    assert not later, f"events written after every collector stopped: {later}"

    # Each figure is in the event log once: a screen is sent it once (last: the other checks hold
    # whether it does or not). Its ingest must not append events for another process's figures,
    # committed meanwhile (PostgreSQL, READ COMMITTED), as its own.
    twice = at.rows("SELECT obs_id, count(*) FROM events WHERE obs_id IS NOT NULL GROUP BY obs_id HAVING count(*) > 1")
    assert not twice, f"{len(twice)} figures have two or more events in the log, e.g. {sorted(twice)[:5]}"
