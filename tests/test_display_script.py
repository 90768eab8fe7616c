"""The wall page's script as a file: no name declared twice in one scope. Two ``function whenText``
in one scope is legal JavaScript, and the later one silently wins: the ticker once read "last good
figures at " with no time, because the second took milliseconds where the first took text."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

DECLARATION = re.compile(
    r"^(?P<indent> *)(?:async\s+)?(?:function\s+(?P<f>\w+)|(?:const|let|var|class)\s+(?P<v>\w+))\b", re.M
)


def test_no_name_is_declared_twice_in_the_same_scope() -> None:
    script = resources.files("feed.static").joinpath("display.js").read_text(encoding="utf-8")
    # One scope per indentation of the module's IIFE body (2 spaces): nested blocks are deeper.
    top = Counter(m["f"] or m["v"] for m in DECLARATION.finditer(script) if len(m["indent"]) == 2)
    assert top, "the script's top-level declarations were found"
    assert [name for name, n in top.items() if n > 1] == []
