"""`opscentre serve` as a child process for the crash, shutdown and disk-full tests: its
configuration, its output read as it comes, its port, and read-only looks at its database."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

AGENCIES = ("NSO", "MOF", "SBV", "CUS", "MOIT", "MOH")


def serve_config(
    sim_url: str,
    db: Path,
    *,
    grace: str = "500ms",
    agencies: Sequence[str] = AGENCIES,
    page_size: int = 200,
    every: str = "1h",
) -> str:
    """A configuration with one agency-JSON source per agency, each pulling its history in pages."""
    sources = "".join(
        f"""
[[sources]]
name = "{a.lower()}"
kind = "agency-json"
url = "{sim_url}/agencies/{a}/observations?page_size={page_size}"
agency = "{a}"
every = "{every}"
"""
        for a in agencies
    )
    return f"""
[database]
path = "{db}"

[feed]
port = 0

[collector]
shutdown_grace = "{grace}"
retries = 0
{sources}"""


def query(db: Path, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows from the server's database, read-only; none while it does not exist yet."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return []
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


class Served:
    """A running `opscentre serve` (optionally under a wrapper such as `unshare`)."""

    def __init__(self, config: Path, *, prefix: Sequence[str] = ()) -> None:
        self._spawn([*prefix, sys.executable, "-m", "cli.main", "serve", "--config", str(config)])

    def _spawn(self, argv: Sequence[str]) -> None:
        """Start ``argv``, its output read as it comes (a subclass may start another program so)."""
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, "PYTHONUTF8": "1", "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def port(self) -> int | None:
        for line in list(self.lines):
            if m := re.search(r"health\s+https?://[^:]+:(\d+)/healthz", line):
                return int(m[1])
        return None

    async def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 120) -> None:
        """Poll ``check`` until it holds; fail naming ``what`` (with the server's output) if it never does."""
        for _ in range(int(timeout / 0.05)):
            if check():
                return
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                raise AssertionError(f"the server exited ({self.proc.returncode}) before {what}:\n{self.output}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output}")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` and wait for the process to end; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not stop within {timeout}s of signal {sig}:\n{self.output}") from None
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
