"""CI runs `.ci/run`, which runs the README's test command; the static checks must be part of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_make_test() -> None:
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in commands


def test_make_test_runs_every_static_check_before_pytest() -> None:
    # `make -n` prints what would run without running it; the stamp keeps set-up out of the listing.
    plan = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "-o", "browser", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    wanted = ["ruff check", "ruff format --check", "lint-imports", "mypy", "pytest"]
    found = [next((i for i, line in enumerate(plan) if w in line), -1) for w in wanted]
    assert -1 not in found, f"make test does not run {[w for w, i in zip(wanted, found, strict=True) if i < 0]}: {plan}"
    assert found == sorted(found), f"the static checks run before pytest: {plan}"


def test_mypy_checks_tests_and_bench() -> None:
    import tomllib

    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert {"tests", "bench"} <= set(settings["files"])
