"""The wall page's script as files: ES modules under feed/static/, each served from the server's
fixed table, none too long, the pure ones free of the browser, and ESLint refusing a name declared
twice in one scope.

The check this file held before (no name declared twice at the top of display.js, found by
indentation) is ESLint's now (``no-redeclare``, ``no-shadow``; eslint.config.js, run by ``make
lint``): two ``function whenText`` in one scope once made the ticker read "last good figures at "
with no time, because the later one silently won. At a module's top level the browser itself
refuses such a module (a redeclaration there is a SyntaxError); inside a function it is still legal
JavaScript, which is what the ESLint check below holds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from feed.server import DISPLAY_MODULES, STATIC

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "feed" / "static"
MODULES = sorted(p.name for p in STATIC_DIR.glob("*.js"))
# Imported by node's test runner (tests/js/) as well as by the page: nothing of the browser in them.
PURE = ("words.js", "format.js", "periods.js", "settings.js")
IMPORT = re.compile(r"^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'", re.M | re.S)
MAX_LINES = 500
BROWSER = re.compile(r"\b(?:window|document)\s*\.|\b(?:localStorage|WebSocket|requestAnimationFrame)\b")


def test_every_module_is_served_from_the_fixed_table_as_javascript() -> None:
    served = {name: (path, kind) for path, (name, kind) in STATIC.items() if name.endswith(".js")}
    assert sorted(served) == MODULES == sorted(f"{m}.js" for m in DISPLAY_MODULES)
    for name, (path, kind) in served.items():
        assert path == f"/display/{name}" and kind == "text/javascript; charset=utf-8"
    page = (STATIC_DIR / "display.html").read_text(encoding="utf-8")
    assert '<script type="module" src="/display/main.js"></script>' in page
    # Every import names a sibling module the server serves (a relative URL: /display/NAME.js).
    for name in MODULES:
        for target in IMPORT.findall((STATIC_DIR / name).read_text(encoding="utf-8")):
            assert target.startswith("./") and target[2:] in served, (name, target)


def test_every_file_of_the_page_is_served_and_none_is_over_500_lines() -> None:
    files = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file() and p.name != "__init__.py")
    assert sorted(name for name, _ in STATIC.values()) == files
    lengths = {name: len((STATIC_DIR / name).read_text(encoding="utf-8").splitlines()) for name in files}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_the_pure_modules_import_only_pure_modules_and_touch_no_browser() -> None:
    for name in PURE:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)  # comments may name the page
        assert not BROWSER.search(code), name
        assert all(target[2:] in PURE for target in IMPORT.findall(text)), name


def eslint() -> str:
    path = ROOT / "node_modules" / ".bin" / "eslint"
    if path.is_file() and shutil.which("node"):
        return str(path)
    why = "ESLint is not installed (make setup installs it from package-lock.json)"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


DOUBLED = """
export function refreshAge(ms) {
  function whenText(text) { return `at ${text}`; }
  function whenText(at) { return String(at); }
  return whenText(ms);
}
"""


def test_eslint_refuses_a_name_declared_twice_in_one_scope() -> None:
    run = subprocess.run(
        [eslint(), "--stdin", "--stdin-filename", "feed/static/render.js"],
        cwd=ROOT,
        input=DOUBLED,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "'whenText' is already defined" in run.stdout and "no-redeclare" in run.stdout


def test_each_module_imports_only_those_below_it_in_the_docs_map() -> None:
    """docs/display.md lists the modules top-down; an import upwards would be a cycle or a stale map."""
    doc = (ROOT / "docs" / "display.md").read_text(encoding="utf-8")
    order = re.findall(r"^\| `(\w+\.js)` \|", doc, re.M)
    assert sorted(order) == MODULES
    for i, name in enumerate(order):
        imports = {t[2:] for t in IMPORT.findall((STATIC_DIR / name).read_text(encoding="utf-8"))}
        assert imports <= set(order[i + 1 :]), (name, imports - set(order[i + 1 :]))
