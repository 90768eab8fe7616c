"""A writer killed with SIGKILL mid-ingest leaves a database that opens, passes
``PRAGMA integrity_check`` and holds only whole batches."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simulator import SimulatorConfig, start
from storage import RunOutcome, Store
from tests.conftest import ROOT
from tests.crash_writer import BATCH
from tests.servekit import AGENCIES, Served, query, serve_config
from tests.simulator_fixtures import DEMO_DAY

pytestmark = pytest.mark.slow


def committed_runs(path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return 0
    try:
        return conn.execute("SELECT count(DISTINCT run_id) FROM observations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def kill_while_writing(path: Path, rng: random.Random) -> None:
    child = subprocess.Popen([sys.executable, str(ROOT / "tests" / "crash_writer.py"), str(path)], cwd=ROOT)
    try:
        start = committed_runs(path)
        deadline = time.monotonic() + 60
        while committed_runs(path) < start + 3:
            assert child.poll() is None, "the writer died on its own"
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.2))  # land somewhere inside a batch
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


async def test_sigkill_mid_ingest_leaves_only_whole_batches(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(20200819)
    for _ in range(3):
        kill_while_writing(path, rng)

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        per_run = conn.execute("SELECT run_id, count(*) FROM observations GROUP BY run_id").fetchall()
        assert len(per_run) >= 9
        assert {n for _, n in per_run} == {BATCH}, "a batch was half written"
        (obs,) = conn.execute("SELECT count(*) FROM observations").fetchone()
        (obs_events,) = conn.execute("SELECT count(*) FROM events WHERE type = 'observation'").fetchone()
        assert obs_events == obs  # every figure has its event, no event without its figure
        seqs = [s for (s,) in conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))
        (payloads,) = conn.execute("SELECT count(*) FROM raw_payloads").fetchone()
        assert payloads == len(per_run)
    finally:
        conn.close()

    store = await Store.open(path)
    try:
        assert await store.audit.dangling_references() == []
        interrupted = await store.runs.mark_interrupted()
        # Each killed writer left at most one run open; it is now marked as interrupted.
        assert len(interrupted) <= 3
        assert all(r.outcome is RunOutcome.INTERRUPTED for r in interrupted)
        assert await store.runs.recent(limit=1000) and all(
            r.outcome is not RunOutcome.RUNNING for r in await store.runs.recent(limit=1000)
        )
        last = await store.events.last_seq()
        events = await store.events.after(last - 5)
        assert [e.seq for e in events] == list(range(last - 4, last + 1))
    finally:
        await store.close()


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc, as the host sees them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def can_unshare_pid() -> str | None:
    """Why this machine cannot run a process as PID 1 of its own PID namespace (None: it can)."""
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a PID namespace here: {probe.stderr.strip()}"
    return None


async def test_serve_as_pid_1_killed_mid_pull_and_restarted_leaves_no_run_running(tmp_path: Path) -> None:
    """In a container the server is PID 1 every time: a pid cannot tell a dead server's runs from
    its successor's. Killed with SIGKILL mid-pull and restarted, every run it left is closed."""
    if reason := can_unshare_pid():
        pytest.skip(reason)
    db = tmp_path / "ops.db"
    pid1 = ["unshare", "--pid", "--fork", "--kill-child"]
    async with await start(SimulatorConfig(port=0, now=lambda: DEMO_DAY)) as sim:
        async with httpx.AsyncClient() as http:
            fault = {"endpoint": "/agencies/*", "kind": "latency", "ms": 300}
            (await http.put(f"{sim.url}/_admin/faults", json=fault)).raise_for_status()
        cfg = tmp_path / "ops.toml"
        cfg.write_text(serve_config(sim.url, db, grace="100ms", page_size=50), encoding="utf-8")

        first = Served(cfg, prefix=pid1)
        try:
            await first.wait_for(
                "the first server to be mid-pull",
                lambda: (
                    len(query(db, "SELECT id FROM runs")) == len(AGENCIES)
                    and len(query(db, "SELECT id FROM runs WHERE outcome = 'running'")) >= 2
                    and len(query(db, "SELECT id FROM ingests")) >= 2
                ),
            )
            assert {pid for (pid,) in query(db, "SELECT DISTINCT pid FROM runs")} == {1}  # it was PID 1
            (server,) = children_of(first.proc.pid)
            os.kill(server, signal.SIGKILL)  # the namespace's init dies: no clean-up of any kind
            await first.stop(signal.SIGKILL)
        finally:
            first.kill()
        left = [r for (r,) in query(db, "SELECT id FROM runs WHERE outcome = 'running'")]
        assert len(left) >= 2

        second = Served(cfg, prefix=pid1)
        try:
            await second.wait_for("the second server to serve", lambda: second.port is not None)
            marks = ",".join("?" * len(left))
            rows = query(db, f"SELECT outcome, ended_at, error FROM runs WHERE id IN ({marks})", left)
            assert all(outcome == "interrupted" and ended for outcome, ended, _ in rows), rows
            assert all("stopped before the run finished" in error for _, _, error in rows)
            (server,) = children_of(second.proc.pid)
            os.kill(server, signal.SIGTERM)
            assert await second.stop(signal.SIGTERM) == 0, second.output
        finally:
            second.kill()
    assert query(db, "SELECT count(*) FROM runs WHERE outcome = 'running'") == [(0,)]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
