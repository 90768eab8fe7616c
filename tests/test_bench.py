"""The benchmarks run, small: a real subprocess of each, its targets printed as PASS/FAIL lines.

Only that they run and report is checked here; what the figures are is for the benchmark on a
quiet machine (`make bench`), never a test on shared, noisy cores.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_rules_bench_runs_small_and_prints_its_targets() -> None:
    done = subprocess.run(
        [sys.executable, "bench/rules.py", "--indicators", "6", "--years", "1", "--timer-passes", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^(PASS|FAIL) rules add less than 50 % to ingest: [\d.]+%$", out, re.M), out
    assert re.search(r"^(PASS|FAIL) a timer pass over the whole catalogue under 1 s: [\d.]+ s$", out, re.M), out
    # Each batch beside its ingest time, and the timer pass found the two provinces' late reports.
    assert re.search(r"^bench-00 +[\d,]+ +[\d.]+ +[\d.]+ +[\d.]+%$", out, re.M), out
    assert "report.late 2" in out, out


def test_rules_bench_refuses_bad_sizes() -> None:
    done = subprocess.run(
        [sys.executable, "bench/rules.py", "--years", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--years 1 to 10" in done.stderr
