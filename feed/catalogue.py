"""The catalogue a feed client labels figures with (the ``catalogue`` query): indicators with names
and units in both languages, scale and usual decimals; areas and agencies with their successions;
categories; and the configured sources (never their URLs: every role may read this).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from feed.protocol import AgencyInfo, AreaInfo, CatalogueData, CategoryInfo, IndicatorInfo, SourceInfo
from storage import Agency, Area, Indicator, Store
from storage.reference import KEY_INDICATORS
from wording import decimals_of, scale_of, unit_label

__all__ = ["KEY_INDICATORS", "area_infos", "indicator_info"]


def indicator_info(ind: Indicator, lineage: list[str]) -> IndicatorInfo:
    return IndicatorInfo(
        code=ind.code,
        name_vi=ind.name_vi,
        name_en=ind.name_en,
        unit_vi=ind.unit,
        unit_en=unit_label(ind.unit, "en"),
        scale=scale_of(ind.unit),
        decimals=decimals_of(ind.code, ind.unit),
        frequency=ind.frequency.value,
        category=ind.category,
        agency=ind.owner,
        agency_lineage=lineage,
        level=ind.level.value,
        kind=ind.kind.value,
        key=ind.code in KEY_INDICATORS,
    )


def _day_after(d: date) -> date:
    return d + timedelta(days=1)


def area_infos(versions: Iterable[Area]) -> list[AreaInfo]:
    """Every version of every unit; a version's predecessors are the units that became it on the
    day it came into force (2025's Tuyên Quang: the former Hà Giang and Tuyên Quang)."""
    areas = list(versions)
    out = []
    for a in areas:
        before = sorted(
            {
                p.code
                for p in areas
                if p.successor_code == a.code
                and p.valid_to is not None
                and a.valid_from is not None
                and _day_after(p.valid_to) == a.valid_from
            }
        )
        out.append(
            AreaInfo(
                code=a.code,
                name=a.name_vi,
                kind=a.kind,
                valid_from=a.valid_from,
                valid_to=a.valid_to,
                successor=a.successor_code,
                predecessors=before,
            )
        )
    return out


def agency_infos(agencies: Iterable[Agency]) -> list[AgencyInfo]:
    every = list(agencies)
    return [
        AgencyInfo(
            code=a.code,
            name_vi=a.name_vi,
            name_en=a.name_en,
            kind=a.kind,
            valid_from=a.valid_from,
            valid_to=a.valid_to,
            successor=a.successor_code,
            predecessors=sorted(p.code for p in every if p.successor_code == a.code and p.code != a.code),
        )
        for a in every
    ]


def in_force(code: str, agencies: dict[str, Agency]) -> str:
    """The agency ``code`` became (itself if still in force): GSO's indicators are NSO's now."""
    for _ in range(20):  # successions are short; a loop in the data must not hang us
        a = agencies.get(code)
        if a is None or a.successor_code is None or a.successor_code == code:
            return code
        code = a.successor_code
    return code


async def catalogue(store: Store, sources: list[SourceInfo]) -> CatalogueData:
    agencies = await store.reference.agencies()
    by_code = {a.code: a for a in agencies}
    lineages = {a.code: await store.reference.agency_lineage(a.code) for a in agencies}
    indicators = []
    for ind in await store.reference.indicators():
        owner = in_force(ind.owner, by_code)
        info = indicator_info(ind, lineages.get(owner, [owner]))
        indicators.append(info.model_copy(update={"agency": owner}))
    return CatalogueData(
        indicators=indicators,
        areas=area_infos(await store.reference.area_versions()),
        agencies=agency_infos(agencies),
        categories=[
            CategoryInfo(code=c.code, name_vi=c.name_vi, name_en=c.name_en) for c in await store.reference.categories()
        ],
        sources=sources,
    )
