"""The standalone simulator (``python -m simulator``, wired as ``opscentre simulate``) in a child process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUTF8": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _url(proc: subprocess.Popen[str]) -> tuple[str, list[str]]:
    """Read the start banner up to the line that says how to stop."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C" in line:
            break
    match = re.search(r"listening on (http://\S+)", "".join(lines))
    assert match, "".join(lines) + (proc.stderr.read() if proc.stderr else "")
    return match.group(1), lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_main_serves_until_a_signal_and_exits_cleanly(sig: signal.Signals, tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text('[[faults]]\nendpoint = "/portal/*"\nkind = "http_error"\nstatus = 500\n')
    proc = _spawn("--port", "0", "--seed", "7", "--faults", str(faults))
    try:
        url, banner = _url(proc)
        text = "".join(banner)
        assert "/agencies/{AGENCY}/observations" in text and "/portal/counters" in text and "/_admin/faults" in text
        assert httpx.get(f"{url}/healthz").text == "ok"
        assert httpx.get(f"{url}/agencies/GSO/observations").json()["format"] == "opscentre.agency-observations/1"
        assert httpx.get(f"{url}/portal/counters").status_code == 500
        assert httpx.get(f"{url}/_admin/faults").json()["faults"][0]["endpoint"] == "/portal/*"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz")


def test_main_rejects_a_bad_faults_file(tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text('[[faults]]\nendpoint = "/x"\nkind = "meteor"\n')
    proc = _spawn("--port", "0", "--faults", str(faults))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "meteor" in err and "faults[0]" in err


def test_main_reports_a_port_in_use() -> None:
    first = _spawn("--port", "0")
    try:
        url, _ = _url(first)
        port = url.rsplit(":", 1)[1]
        second = _spawn("--port", port)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1 and "cannot listen" in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
