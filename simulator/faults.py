"""Fault injection (docs/agency-json.md, section 4): what can go wrong, and which requests it hits.

A fault applies to the requests whose path matches its ``endpoint`` (an ``fnmatch`` pattern), for
``count`` requests or until cleared. There is one fault per pattern; setting a pattern again
replaces its fault. When several patterns match, the most recently set one applies. The admin
paths (``/_admin/...``) are never faulted, so a fault can always be cleared.

``revise`` acts on each request it applies to: before answering, it gives a new value to
``fraction`` of the figures that endpoint has published, stamped with the current instant; the
answer itself then carries them if its ``updated_after`` is earlier. ``Simulator.revise`` does
the same at once, without a request.
"""

from __future__ import annotations

import fnmatch
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

MIB = 1024 * 1024

# kind -> {parameter: (type, default)}
KINDS: dict[str, dict[str, tuple[type, float | int | None]]] = {
    "latency": {"ms": (int, 1000)},
    "timeout": {},
    "http_error": {"status": (int, 503)},
    "malformed": {},
    "schema": {},
    "oversized": {"bytes": (int, 64 * MIB)},
    "refused": {},
    "duplicate": {},
    "revise": {"fraction": (float, 0.05)},
}
COMMON = ("endpoint", "kind", "count")
PARAMS = ("ms", "status", "bytes", "fraction")


class FaultError(ValueError):
    """A fault description that cannot be used; the message says why."""


@dataclass(frozen=True)
class Fault:
    kind: str
    endpoint: str = "*"
    count: int | None = None  # requests left; None: until cleared
    ms: int | None = None
    status: int | None = None
    bytes: int | None = None
    fraction: float | None = None

    def __post_init__(self) -> None:
        for name, (typ, default) in KINDS.get(self.kind, {}).items():  # fill in the kind's defaults
            if getattr(self, name) is None:
                object.__setattr__(self, name, typ(default) if default is not None else None)
        _check(self)

    @classmethod
    def from_dict(cls, data: object) -> Fault:
        """Validate a fault given as JSON or TOML; defaults are filled in."""
        if not isinstance(data, Mapping):
            raise FaultError(f"a fault must be an object with 'endpoint' and 'kind', not {type(data).__name__}")
        unknown = sorted(set(data) - set(COMMON) - set(PARAMS))
        if unknown:
            raise FaultError(
                f"unknown key(s) {', '.join(map(repr, unknown))}; a fault has {', '.join(COMMON + PARAMS)}"
            )
        kind = data.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            raise FaultError(f"'kind' must be one of {', '.join(KINDS)}; got {kind!r}")
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise FaultError("'endpoint' is required: a path or fnmatch pattern such as '/agencies/GSO/*'")
        allowed = KINDS[kind]
        values: dict[str, Any] = {}
        for name in PARAMS:
            if name not in data or data[name] is None:
                if name in allowed:
                    values[name] = allowed[name][1]
                continue
            if name not in allowed:
                takes = ", ".join(allowed) or "no parameters"
                raise FaultError(f"'{name}' does not apply to kind '{kind}' (it takes {takes})")
            values[name] = _number(name, data[name], allowed[name][0])
        count = data.get("count")
        if count is not None:
            count = int(_number("count", count, int))
        return cls(kind=kind, endpoint=endpoint.strip(), count=count, **values)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "count"}

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.endpoint)


def _number(name: str, value: object, typ: type) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"'{name}' must be a number, not {type(value).__name__} {value!r}")
    if typ is int:
        if isinstance(value, float) and not value.is_integer():
            raise FaultError(f"'{name}' must be a whole number, got {value!r}")
        return int(value)
    if not math.isfinite(value):
        raise FaultError(f"'{name}' must be finite, got {value!r}")
    return float(value)


def _check(f: Fault) -> None:
    if f.kind not in KINDS:
        raise FaultError(f"'kind' must be one of {', '.join(KINDS)}; got {f.kind!r}")
    if f.count is not None and f.count < 1:
        raise FaultError(f"'count' must be at least 1 (or absent: until cleared), got {f.count}")
    if f.ms is not None and not 0 <= f.ms <= 600_000:
        raise FaultError(f"'ms' must be between 0 and 600000, got {f.ms}")
    if f.status is not None and not 400 <= f.status <= 599:
        raise FaultError(f"'status' must be an HTTP error status (400 to 599), got {f.status}")
    if f.bytes is not None and not 0 <= f.bytes <= 16 * 1024 * MIB:
        raise FaultError(f"'bytes' must be between 0 and 16 GiB, got {f.bytes}")
    if f.fraction is not None and not 0 < f.fraction <= 1:
        raise FaultError(f"'fraction' must be more than 0 and at most 1, got {f.fraction}")


class FaultTable:
    """The active faults, one per endpoint pattern."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._faults: dict[str, Fault] = {}
        for f in faults:
            self.set(f.endpoint, f)

    def set(self, endpoint: str, fault: Fault) -> Fault:
        """Apply ``fault`` to requests matching ``endpoint``; replaces that pattern's fault."""
        fault = replace(fault, endpoint=endpoint)
        self._faults.pop(endpoint, None)
        self._faults[endpoint] = fault
        return fault

    def clear(self, pattern: str | None = None) -> int:
        """Remove all faults, or the one set for ``pattern``; returns how many were removed."""
        if pattern is None:
            n = len(self._faults)
            self._faults.clear()
            return n
        return 1 if self._faults.pop(pattern, None) is not None else 0

    def list(self) -> list[Fault]:
        """The active faults, with the requests they have left in ``count``."""
        return list(self._faults.values())

    def take(self, path: str) -> Fault | None:
        """The fault for a request to ``path``, counting the request against it."""
        if path.startswith("/_admin/"):
            return None
        for pattern, fault in reversed(self._faults.items()):
            if fault.matches(path):
                if fault.count is not None:
                    if fault.count <= 1:
                        del self._faults[pattern]
                    else:
                        self._faults[pattern] = replace(fault, count=fault.count - 1)
                return fault
        return None


def load_faults(path: str | Path) -> list[Fault]:
    """The ``[[faults]]`` tables of a TOML file; FaultError names the file and the table."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise FaultError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FaultError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"faults"})
    if unknown:
        raise FaultError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected [[faults]] tables")
    tables = data.get("faults", [])
    if not isinstance(tables, list):
        raise FaultError(f"{path}: 'faults' must be a list of tables ([[faults]])")
    out = []
    for k, table in enumerate(tables):
        try:
            out.append(Fault.from_dict(table))
        except FaultError as exc:
            raise FaultError(f"{path}: faults[{k}]: {exc}") from None
    return out
