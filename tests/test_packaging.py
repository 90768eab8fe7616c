"""The wheel a deployment installs holds the whole product: every module and every data file of the
eight packages (a package missing from the build's list installs without error and fails at run time)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("wording", "storage", "collectors", "rules", "feed", "console", "simulator", "cli")
DATA = ("*.sql", "*.csv", "*.toml", "*.js", "*.css", "*.html")


def _product_files() -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {f for f in tracked if f.endswith(".py") or any(Path(f).match(p) for p in DATA)}


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    uv = ROOT / ".tools" / "bin" / "uv"
    if not uv.exists():
        pytest.skip("uv is installed by make setup")
    # Built from a copy of the working tree: a build in place leaves build/ behind, whose stale copies
    # a later build would pack.
    tree = tmp_path / "tree"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (tree / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tree / f)
    built = subprocess.run(
        [str(uv), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), "--quiet", str(tree)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("opscentre-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_product_files() - inside)
    assert not missing, f"{len(missing)} files not in the wheel, e.g. {missing[:5]}"
    assert "console/views/overview.py" in inside
