"""The figures a data query selects, read through the store's repository (``store.observations.figures``)
and turned into SDMX rows: one per figure (its latest revision as known at ``asOf``), or with
``includeHistory`` one per revision, each with its revision number and when the centre stored it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from feed.sdmx.query import DataQuery
from feed.sdmx.structure import FREQ_CODES, STATUS_CODES
from storage import Store
from storage.clock import to_text
from storage.models import Indicator, Observation
from wording.periods import Period


@dataclass(frozen=True, slots=True)
class Row:
    """One SDMX observation: the series key, the period, the value and the attributes."""

    freq: str
    indicator: str
    area: str
    source: str
    period: str
    value: float
    status: str  # OBS_STATUS: A, P, E
    unit: str
    revision: int
    collected_at: datetime
    digest: str | None

    def series_key(self) -> tuple[str, str, str, str]:
        return (self.freq, self.indicator, self.area, self.source)

    def component(self, name: str) -> str:
        return {
            "FREQ": self.freq,
            "INDICATOR": self.indicator,
            "AREA": self.area,
            "SOURCE": self.source,
            "OBS_STATUS": self.status,
        }[name]

    def attributes(self) -> dict[str, str]:
        """The observation's attributes as SDMX text."""
        return {
            "OBS_STATUS": self.status,
            "REVISION": str(self.revision),
            "COLLECTED_AT": to_text(self.collected_at).replace("+00:00", "Z"),
            **({"PAYLOAD_SHA256": self.digest} if self.digest else {}),
        }


def _row(obs: Observation, indicator: Indicator) -> Row:
    return Row(
        FREQ_CODES[indicator.frequency],
        obs.indicator,
        obs.area,
        obs.source,
        obs.period,
        obs.value,
        STATUS_CODES[obs.status],
        indicator.unit,
        obs.revision,
        obs.collected_at,
        obs.payload_digest,
    )


def _wanted(q: DataQuery, row: Row) -> bool:
    if q.keys and not any(all(row.component(d) in codes for d, codes in key.items()) for key in q.keys):
        return False
    for name, alternatives in q.components.items():
        if not any(all(c.holds(row.component(name)) for c in conds) for conds in alternatives):
            return False
    if q.periods:
        period = Period.parse(row.period)
        if not any(all(c.holds(period) for c in conds) for conds in q.periods):
            return False
    return q.updated_after is None or row.collected_at > q.updated_after


def _narrowed(q: DataQuery, dimension: str) -> frozenset[str]:
    """The codes of ``dimension`` every key allows (empty: some key allows any): read only those."""
    sets = [key.get(dimension) for key in q.keys] or [None]
    if any(s is None for s in sets):
        return frozenset()
    return frozenset().union(*(s for s in sets if s is not None))


async def select(store: Store, q: DataQuery) -> list[Row]:
    """The rows of the query, by series key, period and revision."""
    catalogue = store.reference.catalogue.indicators
    observations = await store.observations.figures(
        indicators=_narrowed(q, "INDICATOR"),
        areas=_narrowed(q, "AREA"),
        sources=_narrowed(q, "SOURCE"),
        as_of=q.as_of,
        every_revision=q.include_history,
    )
    rows = [_row(o, catalogue[o.indicator]) for o in observations if o.indicator in catalogue]
    rows = [r for r in rows if _wanted(q, r)]
    rows.sort(key=lambda r: (r.series_key(), Period.parse(r.period), r.revision))
    if q.last_n is not None:
        kept: list[Row] = []
        for _, series in groupby(rows, key=Row.series_key):
            figures = list(series)
            periods = sorted({Period.parse(r.period) for r in figures})[-q.last_n :]
            kept += [r for r in figures if Period.parse(r.period) in periods]
        rows = kept
    return rows
