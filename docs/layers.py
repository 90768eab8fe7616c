"""Draws the packages' floors from the real import graph, as text: ``make layers`` writes
docs/layers.txt (tests/test_layering.py checks the committed drawing is the code's).

The floors are the layers contract of ``[tool.importlinter]`` in pyproject.toml; the imports are
grimp's (the graph import-linter itself reads), so the drawing shows what the code does, not what
it is meant to do: an import back up a floor is listed, and `lint-imports` fails on it.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
LAYERS = "Layers: "  # the layers contract's name begins so


def floors_and_roots() -> tuple[list[str], list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [layers] = [c["layers"] for c in config["contracts"] if c["name"].startswith(LAYERS)]
    return layers, config["root_packages"]


def draw() -> str:
    floors, roots = floors_and_roots()
    graph = grimp.build_graph(*roots, cache_dir=None)
    imports: dict[str, set[str]] = {p: set() for p in roots}  # package -> the packages it imports
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] != module.split(".")[0]:
                imports[module.split(".")[0]].add(imported.split(".")[0])
    beside = [p for p in roots if p not in floors]
    order = floors + beside  # the floors top to bottom, then the packages outside them
    width = max(map(len, order))

    def row(package: str) -> str:
        seen = sorted(imports[package], key=order.index)
        return f"  {package:<{width}}  imports {', '.join(seen) if seen else 'none of ours'}"

    upward = sorted(
        f"  {p} -> {q}" for p in floors for q in imports[p] if q in floors and floors.index(q) < floors.index(p)
    )
    lines = [
        "The packages' floors, from the import graph (docs/layers.py; `make layers` writes this file).",
        "Top to bottom; a package may import only the floors below its own.",
        "",
        *(row(p) for p in floors),
        "",
        "Beside the floors:",
        *(row(p) for p in beside),
        "",
        "Imports back up a floor:",
        *(upward or ["  none"]),
    ]
    for package in floors[1:-1]:  # each floor's neighbours: who imports it, and what of the floor below it uses
        below = floors[floors.index(package) + 1]
        users = sorted((p for p in roots if package in imports[p]), key=order.index)
        used = sorted(
            {q for m in graph.modules if m.split(".")[0] == package for q in graph.find_modules_directly_imported_by(m)}
            & {m for m in graph.modules if m.split(".")[0] == below}
        )
        lines += [
            "",
            f"{package}/: imported by {', '.join(users) or 'none of ours'}; of {below}/ it uses "
            + (", ".join(used) or "nothing"),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(draw())
