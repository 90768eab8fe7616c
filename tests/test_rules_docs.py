"""docs/rules.md is the one page that lists the rules (docs/protocol.md points to it): it names
every rule the code can fire, and no other."""

from __future__ import annotations

import ast
import importlib
import re

from tests.conftest import ROOT

# The store's own entry point, and the rules' verdict on a subject, which every rule calls with its
# code: not rules of their own.
API = {ROOT / "storage" / "repos" / "alerts.py", ROOT / "rules" / "verdicts.py"}


def rule_arg(func: ast.expr) -> int | None:
    """Where a call passes the rule: ``store.alerts.fire(rule, ...)``, ``alerting.fire(conn, rule, ...)``,
    ``rules.verdicts.settle(store, rule, ...)``; None: not such a call."""
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name == "settle":
        return 1
    if name != "fire":
        return None
    return (
        0
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "alerts"
        else 1
    )


def fired_rules() -> dict[str, str]:
    """Each rule code the packages pass to the store to fire, found by reading every such call: the
    code is a constant of the calling module (or the first of a tuple of them, passed starred)."""
    found: dict[str, str] = {}
    for package in ("collectors", "rules", "storage", "feed", "cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in API:
                continue
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                at = rule_arg(node.func)
                if at is None:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                args = node.args
                starred = next((i for i, a in enumerate(args[: at + 1]) if isinstance(a, ast.Starred)), None)
                arg = args[starred] if starred is not None else args[at]
                expr = arg.value if isinstance(arg, ast.Starred) else arg
                value = eval(compile(ast.Expression(expr), where, "eval"), vars(module))  # our own source
                rule = value[at - starred] if starred is not None else value
                assert isinstance(rule, str), f"{where}: a rule code the test cannot read; make it a module constant"
                found[rule] = where
    return found


def documented_rules() -> set[str]:
    """The rule codes of docs/rules.md's headings under "The rules"."""
    doc = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    section = doc.split("\n## The rules\n", 1)[1].split("\n## ", 1)[0]
    return {code for heading in re.findall(r"^### (.*)$", section, re.M) for code in re.findall(r"`([^`]+)`", heading)}


def test_the_rules_page_lists_every_rule_the_code_can_fire_and_no_other() -> None:
    fired = fired_rules()
    assert len(fired) >= 14, fired  # the finder finds them: it is not vacuous
    assert documented_rules() == set(fired), {
        "fired, not on docs/rules.md": {r: w for r, w in fired.items() if r not in documented_rules()},
        "on docs/rules.md, never fired": documented_rules() - set(fired),
    }
