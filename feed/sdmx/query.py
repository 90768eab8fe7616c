"""An open-data request, parsed strictly: the path after the SDMX REST API 2.0, and only the query
parameters this service knows. Anything else is refused (400) before it is used, so no token, or
anything else, can ride in a URL unnoticed: the feed's other paths take no query string at all."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from feed.sdmx.structure import AGENCY, DIMENSIONS, FLOW, KINDS, SERIES_DIMENSIONS, TIME, VERSION
from wording.periods import Period, PeriodError

PREFIX = "/sdmx/v2/"
DATA_PARAMETERS = frozenset({"asOf", "updatedAfter", "includeHistory", "dimensionAtObservation", "lastNObservations"})
STRUCTURE_PARAMETERS = frozenset({"references", "detail"})
# Parameters of the REST API (2.0 and before) this service does not do: named when refused.
SPEC_PARAMETERS = frozenset(
    "firstNObservations attributes measures offset limit sort reportingYearStartDay startPeriod endPeriod "
    "detail references format".split()
)
REFERENCES = {"none": False, "children": True, "descendants": True, "all": True}
_COMPONENT = re.compile(r"c\[([A-Z_]+)\]")
_OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge")


class BadRequest(ValueError):
    """400: the request cannot be understood; the message says what is wrong."""


class NotFound(LookupError):
    """404: no such structure or flow."""


@dataclass(frozen=True)
class Condition:
    operator: str
    value: str

    def holds(self, actual: str) -> bool:
        if self.operator == "eq":
            return actual == self.value
        if self.operator == "ne":
            return actual != self.value
        return {"lt": actual < self.value, "le": actual <= self.value, "gt": actual > self.value}.get(
            self.operator, actual >= self.value
        )


@dataclass(frozen=True)
class PeriodCondition:
    """``c[TIME_PERIOD]=ge:2025-01+le:2025-12``: by the periods' time spans, as SDMX says."""

    operator: str
    period: Period

    def holds(self, actual: Period) -> bool:
        a_start, a_end, b_start, b_end = actual.start, actual.end_date, self.period.start, self.period.end_date
        return {
            "eq": a_start == b_start and a_end == b_end,
            "ne": not (a_start == b_start and a_end == b_end),
            "ge": a_start >= b_start,
            "gt": a_start.date() > b_end,
            "le": a_end <= b_end,
            "lt": a_end < b_start.date(),
        }[self.operator]


# One component's filter: OR of ANDs (``,`` separates alternatives, ``+`` joins conditions).
Filter = list[list[Condition]]
PeriodFilter = list[list[PeriodCondition]]


@dataclass
class DataQuery:
    keys: list[dict[str, frozenset[str]]]  # each key: dimension -> allowed codes (absent: any)
    components: dict[str, Filter] = field(default_factory=dict)
    periods: PeriodFilter = field(default_factory=list)
    as_of: datetime | None = None
    updated_after: datetime | None = None
    include_history: bool = False
    dimension_at_observation: str = TIME
    last_n: int | None = None


@dataclass
class StructureQuery:
    kinds: tuple[str, ...]
    id: str  # "*": every one
    references: bool


def split_path(path: str) -> list[str]:
    return [unquote(p) for p in path[len(PREFIX) :].strip("/").split("/")] if path.startswith(PREFIX) else []


def _check_maintainable(agency: str, version: str) -> None:
    if agency not in ("*", AGENCY):
        raise NotFound(f"unknown agency {agency!r}: this service maintains {AGENCY} only")
    if version not in ("*", "+", "~", "latest", VERSION):
        raise NotFound(f"unknown version {version!r}: the structures are at {VERSION}")


def _parameters(query: str, known: frozenset[str]) -> dict[str, str]:
    """The parameters, each known and given once. ``+`` stays a plus (the REST API's AND), not a
    space; an unknown name is not echoed (it could be a token someone put in a URL)."""
    out: dict[str, str] = {}
    for n, pair in enumerate(query.split("&") if query else [], start=1):
        raw, _, value = pair.partition("=")
        name, value = unquote(raw), unquote(value)
        if name not in known and not (known is DATA_PARAMETERS and _COMPONENT.fullmatch(name)):
            which = f"{name!r} is not supported" if name in SPEC_PARAMETERS else f"parameter {n} is unknown"
            extra = ", c[COMPONENT]" if known is DATA_PARAMETERS else ""
            raise BadRequest(
                f"{which}: this path takes {', '.join(sorted(known))}{extra}; "
                "tokens never go in URLs: send them in the Authorization header"
            )
        if name in out:
            raise BadRequest(f"parameter {name!r} given twice")
        out[name] = value
    if len(out) > 40:
        raise BadRequest("too many parameters")
    return out


def structure_query(parts: list[str], query: str) -> StructureQuery:
    """``structure/{type}[/{agency}[/{id}[/{version}]]]``."""
    params = _parameters(query, STRUCTURE_PARAMETERS)
    kind, agency, id_, version, *rest = [*parts[1:], "*", "*", "*", "*"][:4] + parts[5:]
    if rest:
        raise NotFound("a structure path is structure/{type}/{agency}/{id}/{version}")
    if kind not in (*KINDS, "*", "structure"):
        raise NotFound(f"unknown structure type {kind!r}: this service has {', '.join(KINDS)}")
    _check_maintainable(agency, version)
    references = params.get("references", "none")
    if references not in REFERENCES:
        raise BadRequest(f"references={references!r} is not supported: one of {', '.join(REFERENCES)}")
    if params.get("detail", "full") != "full":
        raise BadRequest("detail: only 'full' is supported")
    kinds = KINDS if kind in ("*", "structure") else (kind,)
    return StructureQuery(kinds, id_, REFERENCES[references])


def _instant(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not an ISO 8601 time such as 2026-11-30T00:00:00Z") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name}: {text!r} has no time zone; add Z or an offset")
    return value.astimezone(UTC)


def _key(text: str) -> list[dict[str, frozenset[str]]]:
    keys: list[dict[str, frozenset[str]]] = []
    for one in text.split(","):
        if one in ("", "*", "all"):
            keys.append({})
            continue
        values = one.split(".")
        if len(values) > len(SERIES_DIMENSIONS):
            raise BadRequest(
                f"key {one!r} has {len(values)} parts; the key is {'.'.join(SERIES_DIMENSIONS)} ({len(SERIES_DIMENSIONS)})"
            )
        key: dict[str, frozenset[str]] = {}
        for dim, value in zip(SERIES_DIMENSIONS, values, strict=False):
            if value not in ("", "*"):
                codes = value.split("+")
                if not all(codes):
                    raise BadRequest(f"key {one!r}: an empty code for {dim}")
                key[dim] = frozenset(codes)
        keys.append(key)
    return keys


def _conditions(name: str, text: str) -> list[list[tuple[str, str]]]:
    alternatives = []
    for alt in text.split(","):
        conds = []
        for part in alt.split("+"):
            operator, _, value = part.partition(":") if ":" in part else ("eq", "", part)
            if operator not in _OPERATORS or not value:
                raise BadRequest(
                    f"c[{name}]: {part!r} is not [operator:]value with an operator of {', '.join(_OPERATORS)}"
                )
            conds.append((operator, value))
        alternatives.append(conds)
    return alternatives


def data_query(parts: list[str], query: str) -> DataQuery:
    """``data/dataflow/{agency}/{flow}/{version}/{key}`` and its parameters."""
    params = _parameters(query, DATA_PARAMETERS)
    context, agency, flow, version, key, *rest = [*parts[1:], "*", "*", "*", "*", "*"][:5] + parts[6:]
    if rest:
        raise NotFound("a data path is data/dataflow/{agency}/{flow}/{version}/{key}")
    if context not in ("dataflow", "*"):
        raise NotFound(f"data context {context!r}: this service answers by dataflow")
    if flow not in ("*", FLOW):
        raise NotFound(f"unknown dataflow {flow!r}: this service publishes {FLOW} (see /sdmx/v2/structure/dataflow)")
    _check_maintainable(agency, version)
    q = DataQuery(keys=_key(key))
    for name, value in params.items():
        if m := _COMPONENT.fullmatch(name):
            component = m[1]
            if component not in DIMENSIONS and component != "OBS_STATUS":
                raise BadRequest(f"c[{component}]: filters apply to {', '.join(DIMENSIONS)} and OBS_STATUS")
            alternatives = _conditions(component, value)
            if component == TIME:
                try:
                    q.periods = [[PeriodCondition(op, Period.parse(v)) for op, v in alt] for alt in alternatives]
                except PeriodError as exc:
                    raise BadRequest(f"c[{TIME}]: {exc}") from None
            else:
                q.components[component] = [[Condition(op, v) for op, v in alt] for alt in alternatives]
        elif name in ("asOf", "updatedAfter"):
            setattr(q, "as_of" if name == "asOf" else "updated_after", _instant(name, value))
        elif name == "includeHistory":
            if value not in ("true", "false"):
                raise BadRequest(f"includeHistory must be true or false, not {value[:20]!r}")
            q.include_history = value == "true"
        elif name == "dimensionAtObservation":
            if value not in (TIME, "AllDimensions"):
                raise BadRequest(f"dimensionAtObservation: {TIME} or AllDimensions, not {value[:40]!r}")
            q.dimension_at_observation = value
        else:  # lastNObservations
            if not value.isdigit() or int(value) < 1:
                raise BadRequest(f"lastNObservations must be a positive integer, not {value[:20]!r}")
            q.last_n = int(value)
    if q.as_of is not None and q.updated_after is not None and q.updated_after > q.as_of:
        raise BadRequest("updatedAfter is later than asOf")
    return q
