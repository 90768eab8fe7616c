"""What `opscentre serve` tells the person who started it: the first pull's progress, and the
packages' INFO lines (connections, runs) on its log, from a real server process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from feed.config import hash_token
from simulator import SimulatorConfig, start
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
TOKEN = "display-token-0123456789"


def config_text(sim_url: str, db: Path) -> str:
    sources = "".join(
        f"""
[[sources]]
name = "syn-{n}"
kind = "agency-json"
url = "{sim_url}/synthetic/{n}/observations?records=40"
every = "1h"
"""
        for n in (1, 2, 3)
    )
    return f"""
[database]
path = "{db}"

[feed]
port = 0

[[users]]
name = "wall"
role = "display"
token_sha256 = "{hash_token(TOKEN)}"
{sources}"""


class Server:
    """`opscentre serve` in a child process; its output (stdout and stderr) read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def line_matching(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        for line in self.lines:
            if m := re.search(pattern, line):
                return m
        async with asyncio.timeout(timeout):
            while True:
                assert self.proc.stdout is not None
                raw = await self.proc.stdout.readline()
                assert raw, f"serve ended before printing {pattern!r}:\n" + "\n".join(self.lines)
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                if m := re.search(pattern, line):
                    return m

    async def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(self.proc.communicate(), 60)
        self.lines += rest.decode().splitlines()
        return "\n".join(self.lines)


async def test_serve_shows_the_first_pull_and_its_info_lines(tmp_path: Path) -> None:
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as sim:
        cfg = tmp_path / "ops.toml"
        cfg.write_text(config_text(sim.url, tmp_path / "ops.db"), encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "serve", "--config", str(cfg),
            cwd=ROOT, env={**os.environ, "PYTHONUTF8": "1", "COLUMNS": "200"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        server = Server(proc)
        try:
            url = (await server.line_matching(r"feed\s+(wss?://\S+)")).group(1)
            # The first pull: a progress line to start with, and one when every source has run once.
            await server.line_matching(r"first pull: 0 of 3 sources done")
            done = await server.line_matching(r"first pull done: 3 of 3 sources.* ([\d,]+) figures stored")
            assert int(done.group(1).replace(",", "")) == 120
            # A wall screen connects: the feed's INFO line reaches serve's log.
            async with connect(url) as ws:
                await ws.send(json.dumps({"type": "hello", "token": TOKEN}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "welcome"
            await server.line_matching(r"client \S+ connected as wall \(display\)")
            await server.line_matching(r"client \S+ \(wall\) disconnected")
            output = await server.stop()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, output
    # Each run's result is an INFO line of the collectors too.
    assert re.search(r"INFO opscentre: ✓ run #\d+ syn-1: success", output), output
    assert "[green]" not in output and "green✓" not in output  # the console's markup is not in the log
    assert TOKEN not in output
