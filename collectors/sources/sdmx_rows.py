"""SDMX observations into our records, by the source's mapping (docs/agency-json.md, Mapping).

Each row's indicator and area codes (or the mapping's constants), kept by its ``filters``; the
time period into our period text; ``OBS_VALUE`` into a float; the status attribute into our
status. A row that cannot become a record is rejected with every reason at once.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import ValidationError

from collectors.config import SdmxMapping, StatusMapping
from collectors.sources.base import PayloadError, describe
from collectors.sources.sdmx_tables import OBS_STATUS, OBS_VALUE, TIME_PERIOD, Table
from storage.models import ObservationIn, ObservationStatus, Rejection

if TYPE_CHECKING:
    import pandas as pd

REPORTING_YEAR_START_DAY = "REPORTING_YEAR_START_DAY"

_OURS = {
    StatusMapping.OFFICIAL: ObservationStatus.OFFICIAL,
    StatusMapping.PROVISIONAL: ObservationStatus.PROVISIONAL,
    StatusMapping.ESTIMATED: ObservationStatus.ESTIMATED,
}

STATUS_NAMES = {
    "B": "break in series",
    "D": "definition differs",
    "F": "forecast",
    "G": "experimental",
    "I": "imputed",
    "K": "included in another category",
    "L": "missing: exists but not collected",
    "M": "missing: not applicable",
    "N": "not significant",
    "O": "missing",
    "Q": "missing: suppressed",
    "S": "strike",
    "U": "low reliability",
    "V": "unvalidated",
    "W": "includes another category",
}

READ_PERIODS = "YYYY, YYYY-A1, YYYY-Qn, YYYY-MM, YYYY-Mnn, YYYY-MM-DD or YYYY-Dnnn"


class RowReader:
    """The source's mapping, applied to the rows of a message's tables."""

    def __init__(self, mapping: SdmxMapping) -> None:
        self.mapping = mapping
        self._statuses = mapping.status_table()
        self._filters = {k: frozenset(v) for k, v in mapping.filters.items()}

    def check_columns(self, tables: Sequence[Table], raw: pd.DataFrame | None) -> None:
        """Every component the mapping needs is in the message (the CSV header, each data set with rows)."""
        m = self.mapping
        required = m.required()
        dims = (m.indicator_dimension, m.area_dimension, m.time_dimension)

        def hint(missing: list[str]) -> str:
            if not set(missing) & set(dims):
                return ""
            return (
                f" (the source's mapping names the dimensions: indicator_dimension = {dims[0]!r}, "
                f"area_dimension = {dims[1]!r}, time_dimension = {dims[2]!r}; or give a constant "
                "'indicator' or 'area' for a data flow without that dimension)"
            )

        if raw is not None:  # the CSV header says it even when there are no rows
            have = {str(c).split(": ")[0] for c in raw.columns}
            missing = [c for c in required if c not in have]
            if missing:
                raise PayloadError(
                    f"the SDMX-CSV message has no {', '.join(missing)} column; it has {sorted(have)}{hint(missing)}"
                )
        for table in tables:
            missing = [c for c in required if not table.has(c)]
            if missing and len(table.frame) and not table.deleting:
                raise PayloadError(
                    f"the SDMX data set {table.structure} has no {', '.join(missing)}; "
                    f"its components are {sorted(map(str, table.frame.columns))}{hint(missing)}"
                )

    def convert(
        self, table: Table, records: list[ObservationIn], positions: list[int], rejected: list[Rejection]
    ) -> None:
        """The table's rows as records (and their positions) where they can be, else rejections."""
        m = self.mapping
        ind_dim, area_dim, time_dim = m.indicator_dimension, m.area_dimension, m.time_dimension
        indicators, areas = m.indicators, m.areas
        n = len(table.positions)
        kept = [True] * n
        for component, codes in self._filters.items():  # rows outside the filters are not ours: skipped, not rejected
            kept = [k and v in codes for k, v in zip(kept, table.column(component), strict=True)]
        columns = zip(
            table.positions,
            [m.indicator] * n if m.indicator else table.column(ind_dim),
            [m.area] * n if m.area else table.column(area_dim),
            table.column(time_dim),
            table.column(OBS_VALUE),
            table.column(m.status_attribute),
            table.column(REPORTING_YEAR_START_DAY),
            kept,
            strict=True,
        )
        for j, (pos, ind, area, when, text, code, year_start, keep) in enumerate(columns):
            if not keep:
                continue
            if table.deleting:
                reason = "the message deletes this observation (action Delete); deletions are not applied"
                rejected.append(Rejection(index=pos, record=table.record(j), reason=reason))
                continue
            reasons: list[str] = []
            if not ind:
                reasons.append(f"{ind_dim} is missing")
            if not area:
                reasons.append(f"{area_dim} is missing")
            period, why, reporting = read_period(when, time_dim)
            if why:
                reasons.append(why)
            elif reporting and year_start not in ("", "--01-01"):
                reasons.append(f"{time_dim} {when!r} counts from a reporting year starting {year_start}, not 1 January")
            value, why = read_value(text)
            if why:
                reasons.append(why)
            status = self.status(code)
            if status is None:
                reasons.append(status_reason(m.status_attribute, code, self._statuses))
            elif not reasons:
                try:
                    records.append(
                        ObservationIn(
                            indicator=m.indicator or indicators.get(ind, ind),
                            area=m.area or areas.get(area, area),
                            period=period,
                            value=value,
                            status=status,
                        )
                    )
                except ValidationError as exc:
                    reasons.append(describe(exc))
                else:
                    positions.append(pos)
                    continue
            rejected.append(Rejection(index=pos, record=table.record(j), reason="; ".join(reasons)))

    def status(self, code: str) -> ObservationStatus | None:
        """Our status for a status or flag code (any case; absent: a normal, official figure); None: refused."""
        if not code:
            return ObservationStatus.OFFICIAL
        ours = self._statuses.get(code.upper(), self.mapping.unknown_status)
        return _OURS.get(ours)


# --- components ------------------------------------------------------------------------------------------------------------------------------------------------------------------

_YEAR_AND = re.compile(r"([0-9]{4})(?:-(.+))?")
_FORMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[0-9]{2}"), "month"),
    (re.compile(r"[0-9]{2}-[0-9]{2}"), "day"),
    (re.compile(r"A1"), "annual"),
    (re.compile(r"Q[1-4]"), "quarter"),
    (re.compile(r"M[0-9]{2}"), "reporting month"),
    (re.compile(r"D[0-9]{3}"), "reporting day"),
    (re.compile(r"S[12]"), "semester"),
    (re.compile(r"T[1-3]"), "trimester"),
    (re.compile(r"W[0-9]{2}"), "week"),
]
_KEPT = "we keep daily, monthly, quarterly and yearly periods only"


@lru_cache(maxsize=8192)
def read_period(text: str, name: str = TIME_PERIOD) -> tuple[str, str | None, bool]:
    """Our period for an SDMX TIME_PERIOD, or why there is none; and whether it is a reporting period.

    Ours is checked again by ObservationIn (a month 13 or 30 February is refused there).
    """
    if not text:
        return "", f"{name} is missing", False
    if "/" in text:
        return "", f"{name} {text!r} is a time range: {_KEPT}", False
    m = _YEAR_AND.fullmatch(text)
    if m is None:
        return "", f"{name} {text!r} is not an SDMX period we read ({READ_PERIODS})", False
    year, rest = m[1], m[2]
    if rest is None:
        return year, None, False
    form = next((name for pattern, name in _FORMS if pattern.fullmatch(rest)), None)
    if form in ("month", "day", "quarter"):
        return f"{year}-{rest}", None, form == "quarter"
    if form == "annual":
        return year, None, True
    if form == "reporting month":
        return f"{year}-{rest[1:]}", None, True
    if form == "reporting day":
        n, y = int(rest[1:]), int(year)
        if not 1 <= n <= (366 if calendar.isleap(y) else 365):
            return "", f"{name} {text!r}: {year} has no day {n}", True
        return (date(y, 1, 1) + timedelta(days=n - 1)).isoformat(), None, True
    if form is not None:  # semester, trimester, week
        return "", f"{name} {text!r} is a {form}: {_KEPT}", False
    if "T" in rest:
        return "", f"{name} {text!r} is a date-time, not a reporting period ({READ_PERIODS})", False
    return "", f"{name} {text!r} is not an SDMX period we read ({READ_PERIODS})", False


def read_value(text: str) -> tuple[float, str | None]:
    if not text or text.lower() == "nan":
        return math.nan, "OBS_VALUE is missing"
    try:
        value = float(text)
    except ValueError:
        return math.nan, f"OBS_VALUE {text!r} is not a number"
    if math.isnan(value):
        return value, "OBS_VALUE is missing"
    return value, None


def status_reason(attribute: str, code: str, table: dict[str, StatusMapping]) -> str:
    name = STATUS_NAMES.get(code.upper()) if attribute == OBS_STATUS else None
    named = f"{code!r} ({name})" if name else repr(code)
    taken = ", ".join(sorted(c for c, ours in table.items() if ours is not StatusMapping.REJECT))
    return (
        f"{attribute} {named} is not kept: we take {taken} (in any case; the source's mapping.statuses "
        "can map more codes)"
    )
