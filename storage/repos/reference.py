"""Reference data: categories, agencies, areas (and their succession), the indicator catalogue."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

from storage import writes
from storage.ingest import Catalogue
from storage.models import (
    Agency,
    Area,
    Category,
    Indicator,
)
from storage.repos.base import StoreState
from storage.rows import (
    OPEN_END,
    OPEN_START,
    area_from_row,
    indicator_from_row,
    open_date,
)
from storage.writes import StoreError
from wording import AreaName, IndicatorWords, Names


class Reference:
    """Reference data, and what the codes stand for (``names``) in the texts the store renders.

    ``source_agencies``: the agency each configured source speaks for (the configuration's, given to
    ``Store.open``), which the alert texts name."""

    def __init__(self, state: StoreState, source_agencies: Mapping[str, str]) -> None:
        self._state = state
        self.source_agencies = source_agencies
        self._names: Names | None = None  # names(), read once (again after the catalogue changes)
        self._listed: tuple[Catalogue, list[Indicator]] | None = None  # listed(): the catalogue it was sorted from
        # areas_in_force(), by day, of one catalogue (a day's answer never changes with it).
        self._in_force: tuple[Catalogue | None, dict[tuple[date, bool], list[Area]]] = (None, {})

    @property
    def catalogue(self) -> Catalogue:
        """The indicators and the areas' versions, in memory (reloaded when the catalogue changes)."""
        return self._state.catalogue

    async def categories(self) -> list[Category]:
        async with self._state.reader.execute("SELECT code, name_vi, name_en FROM categories ORDER BY code") as cur:
            return [Category(code=r[0], name_vi=r[1], name_en=r[2]) for r in await cur.fetchall()]

    async def agencies(self) -> list[Agency]:
        sql = "SELECT code, name_vi, name_en, kind, valid_from, valid_to, successor_code FROM agencies ORDER BY code"
        async with self._state.reader.execute(sql) as cur:
            return [
                Agency(code=r[0], name_vi=r[1], name_en=r[2], kind=r[3], valid_from=open_date(r[4], OPEN_START),
                       valid_to=open_date(r[5], OPEN_END), successor_code=r[6])
                for r in await cur.fetchall()
            ]  # fmt: skip

    async def area_versions(self, code: str | None = None) -> list[Area]:
        sql = "SELECT code, name_vi, kind, valid_from, valid_to, successor_code FROM areas"
        args: tuple[str, ...] = ()
        if code is not None:
            sql, args = sql + " WHERE code = ?", (code,)
        async with self._state.reader.execute(sql + " ORDER BY code, valid_from", args) as cur:
            return [area_from_row(r) for r in await cur.fetchall()]

    async def areas_in_force(self, on: date, *, include_nation: bool = False) -> list[Area]:
        """The provinces and centrally-run cities in force on ``on`` (and the nation, if asked, first).

        From the catalogue in memory: the areas are written when the store opens (``first_start``),
        before the catalogue is read, and never after."""
        catalogue = self.catalogue
        if self._in_force[0] is not catalogue or len(self._in_force[1]) > 1024:  # a day a year: a few periods
            self._in_force = (catalogue, {})
        got = self._in_force[1].get((on, include_nation))
        if got is None:
            found = [
                a
                for versions in catalogue.areas.values()
                for a in versions
                if a.in_force(on) and (include_nation or a.kind != "nation")
            ]
            got = self._in_force[1][(on, include_nation)] = sorted(found, key=lambda a: (a.kind != "nation", a.code))
        return list(got)

    async def successor(self, code: str, on: date) -> Area:
        """The unit that ``code`` had become by ``on`` (itself, if still in force).

        A code names the unit as it first existed; the chain of successors is followed forward.
        """
        versions = self.catalogue.areas.get(code)
        if not versions:
            raise StoreError(f"unknown area {code!r}")
        return self._follow(min(versions, key=lambda a: a.valid_from or date.min), on)

    def _follow(self, current: Area, on: date) -> Area:
        for _ in range(20):  # chains are short; a loop in the data must not hang us
            if current.in_force(on):
                return current
            if current.valid_from and on < current.valid_from:
                raise StoreError(f"area {current.code} did not exist yet on {on.isoformat()}")
            if not current.successor_code or current.valid_to is None:
                raise StoreError(
                    f"area {current.code} ({current.name_vi}) ended on {current.valid_to} with no successor"
                )
            day_after = date.fromordinal(current.valid_to.toordinal() + 1)
            nxt = self.catalogue.area_on(current.successor_code, day_after)
            if nxt is None:
                raise StoreError(
                    f"successor {current.successor_code} of area {current.code} is not in force on {day_after}"
                )
            current = nxt
        raise StoreError(f"the succession of area {current.code} does not end")

    async def predecessors(self, code: str, on: date) -> list[Area]:
        """Former units that had become ``code`` by ``on`` (the unit in force then), directly or not."""
        found: list[Area] = []
        for versions in self.catalogue.areas.values():
            for a in versions:
                if a.valid_to is None or a.valid_to >= on:
                    continue
                try:
                    if self._follow(a, on).code == code:
                        found.append(a)
                except StoreError:
                    continue
        return sorted(found, key=lambda a: (a.code, a.valid_from or date.min))

    async def indicators(self, category: str | None = None, agency: str | None = None) -> list[Indicator]:
        """The catalogue, optionally of one category and one agency (an agency's predecessors count)."""
        sql = "SELECT code, name_vi, name_en, unit, frequency, category, owner, level, kind, formula, magnitude FROM indicators"
        where, args = [], []
        if category:
            where.append("category = ?")
            args.append(category)
        if agency:
            owners = await self.agency_lineage(agency)
            where.append(f"owner IN ({','.join('?' * len(owners))})")
            args.extend(owners)
        if where:
            sql += " WHERE " + " AND ".join(where)
        async with self._state.reader.execute(sql + " ORDER BY category, code", args) as cur:
            return [indicator_from_row(r) for r in await cur.fetchall()]

    def listed(self, codes: Collection[str] | None = None) -> list[Indicator]:
        """The catalogue in memory (only ``codes``, if given), in the order of ``indicators()``: by
        category and code. For what runs after every collection run, which must not read it again."""
        catalogue = self.catalogue
        if self._listed is None or self._listed[0] is not catalogue:
            ordered = sorted(catalogue.indicators.values(), key=lambda i: (i.category, i.code))
            self._listed = (catalogue, ordered)
        ordered = self._listed[1]
        return list(ordered) if codes is None else [i for i in ordered if i.code in codes]

    async def indicator(self, code: str) -> Indicator | None:
        return self.catalogue.indicators.get(code)

    async def agency_lineage(self, code: str) -> list[str]:
        """``code`` and every agency that was merged into it, directly or not."""
        async with self._state.reader.execute("SELECT code, successor_code FROM agencies") as cur:
            rows = await cur.fetchall()
        lineage, frontier = [code], [code]
        while frontier:
            nxt = [r[0] for r in rows if r[1] in frontier and r[0] not in lineage]
            lineage += nxt
            frontier = nxt
        return lineage

    async def upsert_indicators(self, indicators: Sequence[Indicator]) -> None:
        """Add or update catalogue entries (indicators from the configuration)."""
        rows = list(indicators)
        await self._state.writer.run(lambda conn: writes.upsert_indicators(conn, rows))
        await self.reload_catalogue()

    async def reload_catalogue(self) -> None:
        """Read the catalogue into memory (``Store.open``, and after it changes)."""
        self._state.catalogue = Catalogue(await self.indicators(), await self.area_versions())
        self._names = None

    async def names(self) -> Names:
        """What the codes stand for, for the alert texts the store renders (wording/alerts.py): read
        once, again after the catalogue changes. Sources' agencies are the configuration's
        (``source_agencies``, set by whoever opens the store with a configuration)."""
        if self._names is None or self._names.source_agencies is not self.source_agencies:
            agencies = await self.agencies()
            self._names = Names(
                indicators={
                    i.code: IndicatorWords.of(i.code, i.name_vi, i.name_en, i.unit)
                    for i in self.catalogue.indicators.values()
                },
                areas={
                    code: [AreaName(a.name_vi, a.valid_from, a.valid_to) for a in versions]
                    for code, versions in self.catalogue.areas.items()
                },
                agencies={a.code: (a.name_vi, a.name_en) for a in agencies},
                source_agencies=self.source_agencies,
            )
        return self._names
