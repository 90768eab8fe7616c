"""What the codes stand for, as people read them: indicators with their units and usual decimals,
areas, agencies, and the agency each source speaks for. Built by the store (from its reference
tables) or by a feed client (from the ``catalogue`` answer); codes not known are shown as codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from wording.dates import period_start
from wording.numbers import Lang
from wording.units import decimals_of, unit_label


@dataclass(frozen=True, slots=True)
class IndicatorWords:
    name_vi: str
    name_en: str
    unit: str  # as the catalogue has it (Vietnamese)
    decimals: int

    @classmethod
    def of(cls, code: str, name_vi: str, name_en: str, unit: str) -> IndicatorWords:
        return cls(name_vi, name_en, unit, decimals_of(code, unit))


@dataclass(frozen=True, slots=True)
class AreaName:
    """One version of a unit: a code can name two (82 was Tiền Giang until 2025-06-30, Đồng Tháp since)."""

    name: str  # Vietnamese, as in law (place names are not translated)
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive; None: still in force


@dataclass(frozen=True, slots=True)
class Names:
    indicators: Mapping[str, IndicatorWords] = field(default_factory=dict)
    areas: Mapping[str, Sequence[AreaName]] = field(default_factory=dict)
    agencies: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # (vi, en)
    source_agencies: Mapping[str, str] = field(default_factory=dict)  # source -> the agency it speaks for

    def indicator(self, code: str, lang: Lang) -> str:
        words = self.indicators.get(code)
        if words is None:
            return code
        return words.name_en if lang == "en" and words.name_en else words.name_vi

    def unit(self, code: str | None, lang: Lang) -> str:
        words = self.indicators.get(code) if code else None
        return unit_label(words.unit, lang) if words is not None else ""

    def decimals(self, code: str | None, default: int = 2) -> int:
        words = self.indicators.get(code) if code else None
        return words.decimals if words is not None else default

    def area(self, code: str, period: str | None = None) -> str:
        """The unit's name when ``period`` began (its latest name without one)."""
        versions = self.areas.get(code)
        if not versions:
            return code
        on = period_start(period) if period else None
        if on is not None:
            for v in versions:
                if (v.valid_from is None or v.valid_from <= on) and (v.valid_to is None or on <= v.valid_to):
                    return v.name
        return max(versions, key=lambda v: (v.valid_to is None, v.valid_from or date.min)).name

    def agency(self, code: str, lang: Lang) -> str:
        names = self.agencies.get(code)
        if names is None:
            return code
        return names[1] if lang == "en" and names[1] else names[0]

    def source_agency(self, source: str, agency: str | None = None) -> str | None:
        return agency or self.source_agencies.get(source)
