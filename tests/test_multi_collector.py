"""Several processes on one PostgreSQL: `serve --role all|feed|collector`, and collector processes
sharing the sources by leases (a collector killed mid-run: its sources are taken over, no figure
lost or doubled)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.servekit import Served


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
