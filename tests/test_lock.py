"""Every Python dependency is locked (uv.lock, with hashes) and the lock agrees with pyproject.toml.

``make`` installs exactly the lock (``uv sync --frozen``); a dependency added to pyproject.toml without
``make lock`` must fail here, not on a user's machine next month. uv is the project's own, bootstrapped
by make into .tools from requirements-uv.txt (itself pinned with hashes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKED_FILES = ("pyproject.toml", "uv.lock", "README.md")  # what `uv lock` reads (README: the readme field)


def uv_binary() -> str:
    """The project's uv (.tools/bin/uv, which make installs), else $OPSCENTRE_UV or one on PATH."""
    for candidate in (os.environ.get("OPSCENTRE_UV"), str(ROOT / ".tools" / "bin" / "uv"), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    why = "no uv found (make setup installs it into .tools)"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def uv(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [uv_binary(), *args],
        cwd=cwd,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def project_copy(tmp_path: Path) -> Path:
    for name in LOCKED_FILES:
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def add_dependency(project: Path, requirement: str) -> None:
    text = (project / "pyproject.toml").read_text()
    changed = text.replace("dependencies = [\n", f'dependencies = [\n    "{requirement}",\n', 1)
    assert changed != text
    (project / "pyproject.toml").write_text(changed)


def test_the_committed_lock_agrees_with_pyproject() -> None:
    done = uv("lock", "--check", "--offline", cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_a_dependency_added_without_refreshing_the_lock_fails_and_the_lock_is_left_alone(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    before = (project / "uv.lock").read_bytes()
    # rich is in the lock already (textual needs it): only the stale requirement can make this fail.
    add_dependency(project, "rich>=13")
    done = uv("lock", "--check", "--offline", cwd=project)
    assert done.returncode != 0
    assert "needs to be updated" in done.stderr, done.stderr
    assert (project / "uv.lock").read_bytes() == before


def test_a_new_package_not_in_the_lock_fails_by_name(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    add_dependency(project, "rich-click>=1.8")
    done = uv("lock", "--check", "--offline", cwd=project)
    assert done.returncode != 0
    assert "rich-click" in done.stderr, done.stderr


def test_every_package_in_the_lock_is_pinned_with_hashes() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = [p for p in lock["package"] if p["name"] != "opscentre"]
    assert len(packages) > 50
    unhashed = [
        p["name"]
        for p in packages
        if not all(
            re.fullmatch(r"sha256:[0-9a-f]{64}", w["hash"]) for w in [*p.get("wheels", []), p.get("sdist", {})] if w
        )
    ]
    assert unhashed == []
    assert all(p.get("wheels") or p.get("sdist") for p in packages)


def test_uv_itself_is_pinned_with_hashes() -> None:
    lines = (ROOT / "requirements-uv.txt").read_text()
    assert re.search(r"^uv==\d+\.\d+\.\d+ \\$", lines, re.MULTILINE), lines[:200]
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", lines)) >= 2


def test_this_environment_is_exactly_the_lock() -> None:
    venv = ROOT / ".venv"
    if Path(sys.prefix).resolve() != venv.resolve():
        pytest.skip(f"the tests run outside the project's .venv ({sys.prefix})")
    done = uv("sync", "--frozen", "--all-extras", "--check", "--offline", cwd=ROOT, UV_PROJECT_ENVIRONMENT=str(venv))
    assert done.returncode == 0, done.stderr
