"""A writer killed with SIGKILL mid-ingest leaves a database that opens, passes
``PRAGMA integrity_check`` and holds only whole batches."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from storage import RunOutcome, Store
from tests.conftest import ROOT
from tests.crash_writer import BATCH


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
        assert await store.dangling_references() == []
        interrupted = await store.mark_interrupted()
        # Each killed writer left at most one run open; it is now marked as interrupted.
        assert len(interrupted) <= 3
        assert all(r.outcome is RunOutcome.INTERRUPTED for r in interrupted)
        assert await store.runs(limit=1000) and all(
            r.outcome is not RunOutcome.RUNNING for r in await store.runs(limit=1000)
        )
        last = await store.last_seq()
        events = await store.events_after(last - 5)
        assert [e.seq for e in events] == list(range(last - 4, last + 1))
    finally:
        await store.close()
