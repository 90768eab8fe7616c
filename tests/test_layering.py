"""The import layering of DESIGN.md, checked by import-linter on the real package graph."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run([exe, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: " in result.stdout and " broken" in result.stdout
    assert "0 broken" in result.stdout


def test_the_check_fails_when_storage_imports_a_package_above_it(tmp_path: Path) -> None:
    """The same contracts on a copy of the code in which storage imports the feed must fail."""
    copy = tmp_path / "src"
    for name in ("wording", "storage", "collectors", "feed", "console", "simulator", "cli"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    bad = copy / "storage" / "sneaky.py"
    bad.write_text("from feed.protocol import Filter\n")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(copy)}  # the copy shadows the installed packages
    result = subprocess.run([exe, "--no-cache"], cwd=copy, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "storage.sneaky -> feed.protocol" in result.stdout
