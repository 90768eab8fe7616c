"""The import layering of DESIGN.md, checked by import-linter on the real package graph."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("wording", "storage", "collectors", "rules", "feed", "console", "simulator", "cli")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run([exe, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: " in result.stdout and " broken" in result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("storage/sneaky.py", "from feed.protocol import Filter\n", "storage.sneaky -> feed.protocol"),
        ("collectors/sneaky.py", "from rules import reporting\n", "collectors.sneaky -> rules"),
        ("rules/sneaky.py", "from collectors.fetch import fetch\n", "rules.sneaky -> collectors.fetch"),
    ],
    ids=["storage imports the feed", "collectors import the rules", "the rules fetch"],
)
def test_the_check_fails_when_a_package_imports_what_it_must_not(
    module: str, line: str, broken: str, tmp_path: Path
) -> None:
    """The same contracts on a copy of the code with one forbidden import added must fail, naming it."""
    copy = tmp_path / "src"
    for name in PACKAGES:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    (copy / module).write_text(line)
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(copy)}  # the copy shadows the installed packages
    result = subprocess.run([exe, "--no-cache"], cwd=copy, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert broken in result.stdout


def test_the_committed_drawing_of_the_floors_is_the_code_s() -> None:
    """docs/layers.txt, which the README points to, is what docs/layers.py draws from today's imports:
    rules/ on its own floor, nothing importing back up."""
    spec = importlib.util.spec_from_file_location("layers", ROOT / "docs" / "layers.py")
    assert spec is not None and spec.loader is not None
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    drawn = layers.draw()
    assert (ROOT / "docs" / "layers.txt").read_text(encoding="utf-8") == drawn, "run `make layers`"
    assert "  rules       imports collectors, storage\n" in drawn
    assert "Imports back up a floor:\n  none\n" in drawn
    assert "rules/: imported by cli, feed, briefing;" in drawn
