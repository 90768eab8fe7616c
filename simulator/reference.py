"""The national catalogue as the simulator sees it: indicators, agencies and administrative units.

Read as data from the CSV files shipped in ``storage.reference`` (the simulator never imports the
storage code, only its package data) and ``simulator.data``. Everything here is derived once and
kept in a :class:`Reference`.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

NATION = "VN"


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    code: str
    unit: str
    frequency: str  # D, M, Q, Y or live
    category: str
    owner: str
    level: str  # national, provincial, national+provincial
    kind: str  # flow, stock, rate, level, counter, derived
    formula: str | None
    magnitude: float | None

    @property
    def national(self) -> bool:
        return self.level in ("national", "national+provincial")

    @property
    def provincial(self) -> bool:
        return self.level in ("provincial", "national+provincial")

    @property
    def live(self) -> bool:
        return self.frequency == "live"

    @property
    def additive(self) -> bool:
        """Provinces add up to the nation (flows and stocks); rates and levels do not."""
        return self.kind in ("flow", "stock")


@dataclass(frozen=True, slots=True)
class UnitRow:
    code: str
    name_vi: str
    valid_from: date | None
    valid_to: date | None
    successor_code: str | None

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True, slots=True)
class AgencyRow:
    code: str
    name_en: str
    valid_to: date | None
    successor_code: str | None


@dataclass
class Reference:
    indicators: list[IndicatorRow]
    agencies: dict[str, AgencyRow]
    units: list[UnitRow]
    cutoff: date  # last day reported by the former units (2025-06-30)
    former: list[str] = field(default_factory=list)  # codes in force on the cutoff day (63)
    current: list[str] = field(default_factory=list)  # codes in force the day after (34)
    merged_into: dict[str, str] = field(default_factory=dict)  # former code -> current code
    names: dict[str, str] = field(default_factory=dict)  # current name of each code

    def units_for(self, end: date) -> list[str]:
        """The codes that report a period ending on ``end``."""
        return self.former if end <= self.cutoff else self.current

    def formers_of(self, code: str) -> list[str]:
        return [f for f in self.former if self.merged_into[f] == code]

    def owners_served_by(self, agency: str) -> set[str]:
        """``agency`` and every agency whose chain of successors leads to it."""
        served = {agency}
        for code in self.agencies:
            seen = set()
            cur: str | None = code
            while cur is not None and cur not in seen:
                if cur == agency:
                    served.add(code)
                    break
                seen.add(cur)
                row = self.agencies.get(cur)
                cur = row.successor_code if row else None
        return served

    def agency_indicators(self, agency: str) -> list[IndicatorRow]:
        owners = self.owners_served_by(agency)
        return [i for i in self.indicators if i.owner in owners and not i.live]


def _rows(package: str, name: str) -> Iterator[dict[str, str]]:
    text = _data_dir(package).joinpath(name).read_text("utf-8")
    yield from csv.DictReader(text.splitlines())


def _data_dir(package: str) -> Path:
    """The folder of a data package, found without running any package's ``__init__``.

    ``resources.files("storage.reference")`` would import ``storage`` (and with it the store's
    code and aiosqlite); the simulator only reads that package's CSV files, so it finds the
    top-level package's folder by its import spec, which executes nothing.
    """
    top, *rest = package.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the reference data package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *rest)


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@cache
def load() -> Reference:
    indicators = []
    for r in _rows("storage.reference", "indicators.csv"):
        kind, _, formula = r["kind"].partition(":")
        indicators.append(
            IndicatorRow(
                code=r["code"],
                unit=r["unit"],
                frequency=r["frequency"],
                category=r["category"],
                owner=r["owner"],
                level=r["level"],
                kind=kind,
                formula=formula or None,
                magnitude=float(r["magnitude_2019"]) if r["magnitude_2019"] else None,
            )
        )
    agencies = {
        r["code"]: AgencyRow(r["code"], r["name_en"], _date(r["valid_to"]), r["successor_code"] or None)
        for r in _rows("storage.reference", "agencies.csv")
    }
    units = [
        UnitRow(r["code"], r["name_vi"], _date(r["valid_from"]), _date(r["valid_to"]), r["successor_code"] or None)
        for r in _rows("storage.reference", "admin_units.csv")
    ]
    # The merger: the last day any unit ended on is the cutoff; the units in force that day report
    # the history, the units in force the day after report from then on.
    cutoff = max(u.valid_to for u in units if u.valid_to is not None)
    after = cutoff + timedelta(days=1)
    former = sorted({u.code for u in units if u.in_force(cutoff)})
    current = sorted({u.code for u in units if u.in_force(after) and u.valid_to is None})
    merged_into = {}
    for code in former:
        cur = code
        on = cutoff
        for _ in range(len(units)):  # follow successors until a unit still in force after the cutoff
            version = next(u for u in units if u.code == cur and u.in_force(on))
            if version.valid_to is None:
                break
            assert version.successor_code is not None, f"unit {cur} ends without a successor"
            on = version.valid_to + timedelta(days=1)
            cur = version.successor_code
        merged_into[code] = cur
    names = {}
    for u in sorted(units, key=lambda u: u.valid_from or date.min):
        names[u.code] = u.name_vi
    return Reference(indicators, agencies, units, cutoff, former, current, merged_into, names)
