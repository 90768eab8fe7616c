"""Several processes on one PostgreSQL: `serve --role all|feed|collector`, and collector processes
sharing the sources by leases (a collector killed mid-run: its sources are taken over, no figure
lost or doubled)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psycopg
import pytest

from simulator import Fault
from tests.conftest import ROOT
from tests.servekit import Served
from tests.simulator_fixtures import Clock, running

pytestmark = pytest.mark.slow


def opscentre(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUTF8": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


class Role(Served):
    """`opscentre serve --role ROLE` as a child process (killed with SIGKILL by ``kill``)."""

    def __init__(self, config: Path, role: str) -> None:  # (not Served's: it starts `serve` without a role)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--role", role, "--config", str(config)],
            cwd=ROOT,
            env={**os.environ, "PYTHONUTF8": "1", "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()


def pg_config(url: str, *, sources: str = "", lease: str | None = None) -> str:
    lease_line = f'lease = "{lease}"\n' if lease else ""
    return f"""
[database]
url = "{url}"

[feed]
port = 0

[collector]
shutdown_grace = "500ms"
retries = 0
{lease_line}{sources}"""


@pytest.mark.parametrize("role", ["feed", "collector"])
def test_a_sqlite_store_serves_only_role_all(tmp_path: Path, role: str) -> None:
    db = tmp_path / "ops.db"
    done = opscentre("serve", "--role", role, "--db", str(db))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--role {role} needs a PostgreSQL store" in done.stdout + done.stderr
    assert not db.exists()  # refused before anything was created


def test_an_unknown_role_is_refused_by_the_command_line(tmp_path: Path) -> None:
    done = opscentre("serve", "--role", "everything", "--db", str(tmp_path / "ops.db"))
    assert done.returncode == 2
    assert "invalid choice: 'everything'" in done.stderr
    assert not (tmp_path / "ops.db").exists()


async def test_a_feed_process_and_a_collector_process_on_one_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The feed role serves the feed and takes no collector lock; the collector role answers /healthz
    only; an `all` server beside a collector is refused (it would run the same sources unleased)."""
    config = tmp_path / "ops.toml"
    config.write_text(pg_config(pg_url))
    feed = Role(config, "feed")
    collector = Role(config, "collector")
    try:
        await feed.wait_for("the feed's port", lambda: feed.port is not None)
        await collector.wait_for("the collector's port", lambda: collector.port is not None)
        assert "feed     ws://" in feed.output and "feed     ws://" not in collector.output
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"http://127.0.0.1:{feed.port}/healthz")).status_code == 200
            assert (await http.get(f"http://127.0.0.1:{feed.port}/readyz")).status_code == 200
            answer = await http.get(f"http://127.0.0.1:{collector.port}/healthz")
            assert (answer.status_code, answer.text) == (200, "ok\n")
            assert (await http.get(f"http://127.0.0.1:{collector.port}/display")).status_code == 404
        whole = opscentre("serve", "--config", str(config))
        assert whole.returncode == 2
        said = " ".join(whole.stdout.split())
        assert "already in use by serve --role collector (pid" in said, said
        assert await collector.stop() == 0
        assert await feed.stop() == 0
    finally:
        feed.kill()
        collector.kill()


# --- two collector processes, one killed with SIGKILL mid-run --------------------------------------------

AGENCIES = ("NSO", "MOF", "SBV", "CUS", "MOIT", "MOH")
FIGURES = "SELECT indicator, area, period, source, revision, value FROM observations"


def agency_sources(sim_url: str, page_size: int = 50) -> str:
    """One agency-JSON source per agency, each pulling its history in many pages (a run lasts)."""
    return "".join(
        f"""
[[sources]]
name = "{a.lower()}"
kind = "agency-json"
url = "{sim_url}/agencies/{a}/observations?page_size={page_size}"
agency = "{a}"
every = "1h"
"""
        for a in AGENCIES
    )


def pg_rows(url: str, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(sql, args).fetchall())


def owner_of(url: str, pid: int) -> str | None:
    """A collector process's identity (storage/lock.py), from the name of its collector-lock session."""
    for (name,) in pg_rows(url, "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'opsc:%%'"):
        token, _, rest = str(name).removeprefix("opsc:").partition(" ")
        if rest.split(" ")[0] == str(pid):
            return token
    return None


def leases_of(url: str) -> dict[str, str]:
    """Unexpired source leases: source -> owner (without the presence rows and __rules__)."""
    rows = pg_rows(url, "SELECT source, owner FROM source_leases WHERE expires_at > now()")
    return {str(s): str(o) for s, o in rows if not str(s).startswith("__")}


async def test_a_collector_killed_mid_run_its_sources_are_taken_over_and_no_figure_is_lost_or_doubled(
    tmp_path: Path, pg_url: str
) -> None:
    sources = {a.lower() for a in AGENCIES}
    slow = Fault("latency", endpoint="/agencies/*", ms=400)  # every page waits: a run lasts many seconds
    async with running(Clock(), seed=2020, faults=[slow]) as (sim, _):
        config = tmp_path / "ops.toml"
        config.write_text(pg_config(pg_url, sources=agency_sources(sim.url), lease="3s"))
        a, b = Role(config, "collector"), Role(config, "collector")
        try:
            await a.wait_for("A's identity", lambda: owner_of(pg_url, a.proc.pid) is not None)
            await b.wait_for("B's identity", lambda: owner_of(pg_url, b.proc.pid) is not None)
            owner_a, owner_b = owner_of(pg_url, a.proc.pid), owner_of(pg_url, b.proc.pid)

            # The sources split between the two processes, every one held.
            def split() -> bool:
                held = leases_of(pg_url)
                return set(held) == sources and set(held.values()) == {owner_a, owner_b}

            await a.wait_for("the sources split between the two collectors", split)

            # A is mid-run: a run it began is running and has stored some pages already.
            def a_mid_run() -> bool:
                return bool(
                    pg_rows(
                        pg_url,
                        "SELECT r.id FROM runs r WHERE r.pid = %s AND r.outcome = 'running' "
                        "AND EXISTS (SELECT 1 FROM observations o WHERE o.run_id = r.id)",
                        (a.proc.pid,),
                    )
                )

            await a.wait_for("a run of A's half done", a_mid_run)
            a_sources = {s for s, o in leases_of(pg_url).items() if o == owner_a}
            a.kill()  # SIGKILL: no clean stop, its leases stay until they expire
            killed = pg_rows(
                pg_url, "SELECT id, source FROM runs WHERE pid = %s AND outcome = 'running'", (a.proc.pid,)
            )
            assert killed and a_sources
            sim.faults.clear()

            # Within the lease, B takes A's sources over: the killed runs are marked interrupted and
            # every one of A's sources is collected whole by B.
            def taken_over() -> bool:
                held = leases_of(pg_url)
                done = {
                    str(s)
                    for (s,) in pg_rows(
                        pg_url, "SELECT source FROM runs WHERE pid = %s AND outcome = 'success'", (b.proc.pid,)
                    )
                }
                return all(held.get(s) == owner_b for s in sources) and a_sources <= done

            await b.wait_for("B to take over A's sources and collect them", taken_over)
            await b.wait_for(
                "every source collected whole",
                lambda: (
                    not pg_rows(pg_url, "SELECT id FROM runs WHERE outcome = 'running'")
                    and {str(s) for (s,) in pg_rows(pg_url, "SELECT source FROM runs WHERE outcome = 'success'")}
                    == sources
                ),
            )
            for run_id, _source in killed:
                ((outcome, error),) = pg_rows(pg_url, "SELECT outcome, error FROM runs WHERE id = %s", (run_id,))
                assert outcome == "interrupted", (outcome, error)
            assert await b.stop() == 0
        finally:
            a.kill()
            b.kill()
        both = sorted(pg_rows(pg_url, FIGURES))

        # The same seed and clock, one uninterrupted process (SQLite: a store of its own).
        reference = tmp_path / "ref.toml"
        reference.write_text(
            pg_config(pg_url, sources=agency_sources(sim.url)).replace(
                f'url = "{pg_url}"', f'path = "{tmp_path / "ref.db"}"'
            )
        )
        single = await asyncio.to_thread(opscentre, "collect", "--local", "--all", "--config", str(reference))
        assert single.returncode == 0, single.stdout + single.stderr
    with sqlite3.connect(tmp_path / "ref.db") as conn:
        alone = sorted(conn.execute(FIGURES).fetchall())
    assert len(alone) > 1000
    assert len(both) == len(set(both))  # no figure twice
    assert both == alone  # every figure, every revision, every value
