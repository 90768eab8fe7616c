"""`opscentre serve` as a user runs it: a real process, real simulator, SIGTERM mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator import SimulatorConfig, start
from tests.conftest import ROOT, run_cli_process
from tests.servekit import Served

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def config_text(sim_url: str, db: Path, *, grace: str = "500ms", port: int = 0) -> str:
    return f"""
[database]
path = "{db}"

[feed]
port = {port}

[collector]
shutdown_grace = "{grace}"
retries = 0

[[sources]]
name = "nso"
kind = "agency-json"
url = "{sim_url}/agencies/NSO/observations?page_size=200"
every = "1h"
"""


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the server's database, read-only; none while it does not exist yet."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


async def test_sigterm_during_a_run_stops_cleanly_with_no_half_written_batch(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as sim:
        # Every page is slow: the run is in the middle of its pages when SIGTERM comes.
        async with httpx.AsyncClient() as http:
            await http.put(
                f"{sim.url}/_admin/faults", json={"endpoint": "/agencies/NSO/*", "kind": "latency", "ms": 500}
            )
        cfg = tmp_path / "ops.toml"
        # A grace far shorter than a page: the run in flight is interrupted, not finished.
        cfg.write_text(config_text(sim.url, db, grace="100ms"), encoding="utf-8")
        proc = subprocess.Popen(  # noqa: ASYNC220 - the server is the process under test
            [sys.executable, "-m", "cli.main", "serve", "--config", str(cfg)],
            cwd=ROOT,
            env={**os.environ, "PYTHONUTF8": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            for _ in range(600):  # until the scheduled first run has stored a few pages
                if query(db, "SELECT id FROM runs") and len(query(db, "SELECT id FROM ingests")) >= 3:
                    break
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the run never got going")
            proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.to_thread(proc.communicate, timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, output
    assert "stopped cleanly" in output
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        outcomes = conn.execute("SELECT outcome FROM runs").fetchall()
        assert outcomes == [("interrupted",)]
        # Every batch is whole: each ingest's figures are all there, and nothing outside an ingest.
        for first, last, new, revised in conn.execute(
            "SELECT first_obs, last_obs, new, revised FROM ingests WHERE first_obs IS NOT NULL"
        ):
            (n,) = conn.execute("SELECT count(*) FROM observations WHERE id BETWEEN ? AND ?", (first, last)).fetchone()
            assert n == new + revised == last - first + 1
        (total,) = conn.execute("SELECT count(*) FROM observations").fetchone()
        (logged,) = conn.execute("SELECT coalesce(sum(new + revised), 0) FROM ingests").fetchone()
        assert total == logged > 0
        # The cursor is only saved after the last page: the next run starts the pull again.
        assert conn.execute("SELECT count(*) FROM source_state").fetchone() == (0,)
    finally:
        conn.close()


async def test_a_second_server_on_the_same_database_is_refused_naming_the_first(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as sim:
        cfg = tmp_path / "ops.toml"
        cfg.write_text(config_text(sim.url, db), encoding="utf-8")
        first = Served(cfg)
        try:
            await first.wait_for("the first server to serve", lambda: first.port is not None)
            second = await asyncio.to_thread(run_cli_process, "serve", "--config", str(cfg))
            assert second.returncode == 2, second.stdout + second.stderr
            said = " ".join((second.stdout + second.stderr).split())
            assert f"already in use by opscentre serve (pid {first.proc.pid} on {socket.gethostname()}" in said
            assert "Traceback" not in said
            # Collecting in a process of its own is refused too: two collectors would pull each
            # source twice at once. Reading is not: WAL readers never wait for the server.
            local = await asyncio.to_thread(run_cli_process, "collect", "--local", "--all", "--config", str(cfg))
            assert local.returncode == 2, local.stdout + local.stderr
            assert "without --local" in local.stderr and f"pid {first.proc.pid}" in local.stderr
            assert (await asyncio.to_thread(run_cli_process, "verify-audit", "--config", str(cfg))).returncode == 0
            assert (await asyncio.to_thread(run_cli_process, "indicators", "--config", str(cfg))).returncode == 0
            assert await first.stop() == 0
        finally:
            first.kill()
    assert "Traceback" not in first.output
    # The lock went with the first server: a collection in a process of its own may run now.
    local = await asyncio.to_thread(run_cli_process, "collect", "--local", "--all", "--config", str(cfg))
    assert "already in use" not in local.stdout + local.stderr


async def test_serve_with_its_port_taken_says_so_and_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = tmp_path / "ops.toml"
        cfg.write_text(config_text("http://127.0.0.1:9", tmp_path / "ops.db", port=port), encoding="utf-8")
        done = await asyncio.to_thread(run_cli_process, "serve", "--config", str(cfg))
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert f"cannot start the feed on 127.0.0.1:{port}" in " ".join(said.split())
    assert "Traceback" not in said
    # Nothing was left behind holding the database: it can be served at once.
    assert query(tmp_path / "ops.db", "SELECT count(*) FROM runs WHERE outcome = 'running'") == [(0,)]
