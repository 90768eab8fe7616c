"""Durations as people type them, one parser for every surface: a configuration's ``timeout = "10s"``,
``opscentre silence add --for 1d12h``, the console's silence dialog (``2h``)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<u>ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
FORMS = "'500ms', '30s', '15m', '2h', '1d' or '1d12h'"


def parse_duration(text: str) -> timedelta:
    """``"500ms"``, ``"30s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1d12h"`` (parts add up); ValueError saying
    the forms otherwise."""
    s = text.strip()
    parts = list(_PART.finditer(s))
    if not parts or "".join(p[0] for p in parts) != re.sub(r"(?<=[a-z])\s+(?=[0-9])", "", s):
        raise ValueError(f"{text!r} is not a duration: write it as {FORMS}")
    return timedelta(seconds=sum(float(p["n"]) * _SECONDS[p["u"]] for p in parts))
