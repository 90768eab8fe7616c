"""`opscentre reporting`: completeness of the reports per indicator, read from the database (the
same rows as the feed's ``reporting`` query), in one language."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from collectors.config import RulesSettings
from feed.queries import reporting_completeness, reporting_row
from rules.reporting import Completeness, Report
from storage import NATION, Store
from storage.clock import utcnow
from wording import Lang, label

SHOW_AREAS = 6  # names of missing or late areas shown per row; the rest counted

COLUMNS = ("code", "indicator", "period", "due", "received", "on_time", "late", "missing")


def _names(areas: list[str], names: dict[str, str], lang: Lang, reports: dict[str, Report] | None = None) -> str:
    """The areas by code and name; with ``reports``, when each report came in and by whose clock."""
    shown = []
    for a in areas[:SHOW_AREAS]:
        name = f"{a} {names.get(a, '')}".strip()
        got = reports.get(a) if reports is not None else None
        shown.append(
            name if got is None else f"{name} ({label('reporting.clock.' + got.clock, lang)} {got.at:%Y-%m-%d %H:%M})"
        )
    if len(areas) > SHOW_AREAS:
        shown.append(label("reporting.more", lang, n=len(areas) - SHOW_AREAS))
    return ", ".join(shown) or "—"


def received(c: Completeness, lang: Lang) -> str:
    """'28/34 tỉnh, thành phố' for the provinces, and whether the national figure came in."""
    provinces = [a for a in c.expected if a != NATION]
    got = {*c.on_time, *c.late}
    parts = []
    if provinces:
        parts.append(
            label("reporting.provinces", lang, got=len([a for a in provinces if a in got]), total=len(provinces))
        )
    if NATION in c.expected:
        parts.append(label("reporting.nation." + ("received" if NATION in got else "missing"), lang))
    return "; ".join(parts)


async def print_reporting(
    store: Store,
    out: Console,
    *,
    rules: RulesSettings,
    indicator: str | None,
    period: str | None,
    agency: str | None,
    province_sources: set[str] | None,
    lang: Lang,
    as_json: bool,
    print_json: Callable[[Any], None],
) -> None:
    """Raises feed.queries.ReportingError for a bad filter (before printing anything)."""
    table = await reporting_completeness(
        store, rules, indicator=indicator, period=period, agency=agency, province_sources=province_sources
    )
    if as_json:
        print_json([reporting_row(c).model_dump(mode="json") for c in table])
        return
    indicators = {i.code: i for i in await store.reference.indicators()}
    names = {
        a.code: a.name_vi for a in await store.reference.area_versions()
    }  # place names stay as the law writes them
    out.print(label("reporting.title", lang, time=utcnow().strftime("%Y-%m-%d %H:%M")), markup=False)
    shown = [c for c in table if c.expected]
    if not table:
        out.print(label("reporting.none", lang))
        return
    grid = Table(*(label("reporting.column." + c, lang) for c in COLUMNS))
    for c in shown:
        ind = indicators.get(c.indicator)
        name = (ind.name_vi if lang == "vi" else ind.name_en) if ind is not None else ""
        missing = label("reporting.not_due", lang) if c.not_due and not c.missing else _names(c.missing, names, lang)
        grid.add_row(
            c.indicator, name, c.period, c.due.isoformat(), received(c, lang), str(len(c.on_time)),
            f"{len(c.late)}: {_names(c.late, names, lang)}" if c.late else "0", missing,
        )  # fmt: skip
    if shown:
        out.print(grid)
        for c in shown:  # when each late report came in, and by whose clock: the table has no room
            if c.late:
                out.print(
                    f"  {c.indicator} {c.period} {label('reporting.late', lang)}: {_names(c.late, names, lang, c.reports)}",
                    markup=False,
                )
        clocks = Counter(r.clock for c in shown for r in c.reports.values())
        if clocks:
            out.print(
                label("reporting.clocks", lang, published=clocks["published"], collected=clocks["collected"]),
                markup=False,
            )
    if len(shown) < len(table):
        out.print(label("reporting.unstarted", lang, len(table) - len(shown), n=len(table) - len(shown)))
