"""`opscentre demo --console` as a person runs it: in a real terminal (a pty), the demo in the
background, the console in front and connected to the demo's feed, the demo's output in the log
file and not on the screen; `q` quits the console and stops the demo cleanly."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# The built-in configuration's demo users (cli/default.toml): the console connects as the operator.
CONFIG = """
[database]
path = "{db}"

[feed]
port = 0

[[users]]
name = "operator"
role = "operator"
token_sha256 = "9437e87fae95c03d3778f2575bb18ce30e647e51d86a8c37963364e1fc4f374e"
"""


class Terminal:
    """A child process on a pseudo-terminal of ``columns``×``rows``; everything it draws is kept."""

    def __init__(self, argv: list[str], env: dict[str, str], columns: int = 100, rows: int = 30) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            self.output += chunk

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        os.close(self.master)


def wait_for(what: str, check: object, term: Terminal, timeout: float = 90) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if term.proc.poll() is not None:
            raise AssertionError(f"the demo exited ({term.proc.returncode}) before {what}:\n{term.text[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{term.text[-2000:]}")
        time.sleep(0.1)


def operators_connected(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    m = re.search(r'^opscentre_feed_connections\{role="operator"\} (\S+)$', metrics, re.M)
    return float(m[1]) if m else 0.0


def test_demo_with_the_console_in_front(tmp_path: Path) -> None:
    config = tmp_path / "demo.toml"
    config.write_text(CONFIG.format(db=tmp_path / "demo.db"), encoding="utf-8")
    log = tmp_path / "demo.log"
    env = {**os.environ, "TERM": "xterm-256color", "OPSCENTRE_TOKEN": "demo-operator", "PYTHONUTF8": "1"}
    argv = [sys.executable, "-m", "cli.main", "demo", "--console", "--config", str(config), "--sim-port", "0"]
    term = Terminal([*argv, "--log", str(log)], env)
    try:
        port_in_log: list[int] = []

        def feed_started() -> bool:
            m = re.search(r"live feed\s+ws://[^:]+:(\d+)/feed", log.read_text("utf-8") if log.exists() else "")
            if m:
                port_in_log.append(int(m[1]))
            return bool(m)

        wait_for("the demo's feed (its line in the log)", feed_started, term)
        port = port_in_log[0]
        wait_for("the console connected to the demo's feed", lambda: operators_connected(port) == 1.0, term)
        wait_for("the console's screen", lambda: "Tổng quan" in term.text, term)
        # The demo's own lines went to the log, not under the console.
        assert "opscentre demo" in log.read_text("utf-8")
        assert "simulated agencies" not in term.text

        term.type(b"q")
        code = term.proc.wait(timeout=60)
        term._reader.join(timeout=5)
        assert code == 0, term.text[-2000:]
        assert "opscentre demo stopped cleanly" in term.text
        text = log.read_text("utf-8")
        assert "stopped cleanly in" in text and "Traceback" not in text, text
    finally:
        term.close()
