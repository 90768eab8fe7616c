"""CI runs `.ci/run`, which runs the README's test command; the static checks must be part of it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_make_test() -> None:
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in commands


def test_make_test_runs_every_static_check_before_pytest() -> None:
    # `make -n` prints what would run without running it; the stamp keeps set-up out of the listing.
    plan = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "-o", "node_modules/.installed", "-o", "browser", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # ESLint on the wall page's modules, node's test runner on its pure ones (tests/js/).
    wanted = ["ruff check", "ruff format --check", "lint-imports", "mypy", "eslint", "node --test", "pytest"]
    found = [next((i for i, line in enumerate(plan) if w in line), -1) for w in wanted]
    assert -1 not in found, f"make test does not run {[w for w, i in zip(wanted, found, strict=True) if i < 0]}: {plan}"
    assert found == sorted(found), f"the static checks run before pytest: {plan}"


def test_mypy_checks_tests_and_bench() -> None:
    import tomllib

    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert {"tests", "bench"} <= set(settings["files"])


HEAVY = ("browser", "pg", "slow", "snapshot")


def test_the_heavy_tiers_are_registered_and_left_out_of_make_check() -> None:
    import tomllib

    markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert sorted(m.split(":")[0] for m in markers) == sorted(HEAVY)
    fast = re.search(r"^FAST\s*:=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert fast is not None
    assert fast.group(1).strip() == " and ".join(f"not {m}" for m in HEAVY)
    plan = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "-o", "node_modules/.installed", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '-m "not browser and not pg and not slow and not snapshot"' in plan, plan
    assert "node --test tests/js/" in plan and "eslint" in plan, plan


def test_every_test_is_in_the_tier_of_what_it_starts(request: pytest.FixtureRequest) -> None:
    """A test on a PostgreSQL fixture is ``pg``; one in a module that drives Chromium is ``browser``;
    one that starts the demo's scenario or real subprocesses of the server is ``slow``."""
    from tests.conftest import PG_FIXTURES

    wrong = []
    for item in request.session.items:
        marks = {m.name for m in item.iter_markers()}
        imports = re.findall(r"^from (tests\.\w+) import (.+)$", item.path.read_text(), re.M)
        if set(getattr(item, "fixturenames", ())) & PG_FIXTURES and "pg" not in marks:
            wrong.append((item.nodeid, "pg"))
        if any(module == "tests.browser" for module, _ in imports) and "browser" not in marks:
            wrong.append((item.nodeid, "browser"))
        starts = [n for module, names in imports for n in ("demo_service", "Served") if module in (
            "tests.demokit", "tests.servekit") and n in names]  # fmt: skip
        if starts and not marks & {"slow", "browser"}:
            wrong.append((item.nodeid, "slow"))
    assert wrong == []
