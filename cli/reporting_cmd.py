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

SHOW_AREAS = 6  # names of missing or late areas shown per row; the rest counted

WORDS: dict[str, dict[str, Any]] = {
    "vi": {
        "columns": ("mã", "chỉ tiêu", "kỳ", "hạn", "đã nhận", "đúng hạn", "trễ hạn", "còn thiếu"),
        "provinces": lambda got, n: f"{got}/{n} tỉnh, thành phố",
        "nation": {True: "toàn quốc: đã gửi", False: "toàn quốc: chưa gửi"},
        "not_due": "chưa đến hạn",
        "more": lambda n: f"và {n} nơi khác",
        "title": lambda t: f"Tình hình báo cáo theo lịch, tính đến {t} UTC (báo cáo trễ sau hết ngày hạn)",
        "unstarted": lambda n: f"{n} chỉ tiêu chưa có số liệu nào: không ai nợ báo cáo",
        "none": "không có chỉ tiêu nào có lịch báo cáo cho lựa chọn này",
        "late": "trễ hạn",
        "clock": {"published": "công bố", "collected": "trung tâm nhận"},
        "clocks": lambda p, c: (
            f"Giờ của mỗi báo cáo: giờ công bố của nơi báo cáo ({p} báo cáo); giờ trung tâm nhận được, "
            f"khi nguồn không cho biết giờ công bố ({c} báo cáo)"
        ),
    },
    "en": {
        "columns": ("code", "indicator", "period", "due", "received", "on time", "late", "missing"),
        "provinces": lambda got, n: f"{got}/{n} provinces",
        "nation": {True: "national: received", False: "national: not received"},
        "not_due": "not due yet",
        "more": lambda n: f"and {n} more",
        "title": lambda t: f"Reports by the calendar, as of {t} UTC (late after the end of the due day)",
        "unstarted": lambda n: f"{n} indicator{'s' if n != 1 else ''} without any figure yet: no report owed",
        "none": "no indicator with a reporting calendar matches",
        "late": "late",
        "clock": {"published": "published", "collected": "collected"},
        "clocks": lambda p, c: (
            f"Each report's time: the reporter's own publication time ({p} reports); the time the centre "
            f"first collected it, where the source gives none ({c} reports)"
        ),
    },
}


def _names(areas: list[str], names: dict[str, str], w: dict[str, Any], reports: dict[str, Report] | None = None) -> str:
    """The areas by code and name; with ``reports``, when each report came in and by whose clock."""
    shown = []
    for a in areas[:SHOW_AREAS]:
        name = f"{a} {names.get(a, '')}".strip()
        got = reports.get(a) if reports is not None else None
        shown.append(name if got is None else f"{name} ({w['clock'][got.clock]} {got.at:%Y-%m-%d %H:%M})")
    if len(areas) > SHOW_AREAS:
        shown.append(w["more"](len(areas) - SHOW_AREAS))
    return ", ".join(shown) or "—"


def received(c: Completeness, w: dict[str, Any]) -> str:
    """'28/34 tỉnh, thành phố' for the provinces, and whether the national figure came in."""
    provinces = [a for a in c.expected if a != NATION]
    got = {*c.on_time, *c.late}
    parts = []
    if provinces:
        parts.append(w["provinces"](len([a for a in provinces if a in got]), len(provinces)))
    if NATION in c.expected:
        parts.append(w["nation"][NATION in got])
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
    lang: str,
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
    w = WORDS[lang]
    indicators = {i.code: i for i in await store.indicators()}
    names = {a.code: a.name_vi for a in await store.area_versions()}  # place names stay as the law writes them
    out.print(w["title"](utcnow().strftime("%Y-%m-%d %H:%M")), markup=False)
    shown = [c for c in table if c.expected]
    if not table:
        out.print(w["none"])
        return
    grid = Table(*w["columns"])
    for c in shown:
        ind = indicators.get(c.indicator)
        name = (ind.name_vi if lang == "vi" else ind.name_en) if ind is not None else ""
        missing = w["not_due"] if c.not_due and not c.missing else _names(c.missing, names, w)
        grid.add_row(
            c.indicator, name, c.period, c.due.isoformat(), received(c, w), str(len(c.on_time)),
            f"{len(c.late)}: {_names(c.late, names, w)}" if c.late else "0", missing,
        )  # fmt: skip
    if shown:
        out.print(grid)
        for c in shown:  # when each late report came in, and by whose clock: the table has no room
            if c.late:
                out.print(
                    f"  {c.indicator} {c.period} {w['late']}: {_names(c.late, names, w, c.reports)}", markup=False
                )
        clocks = Counter(r.clock for c in shown for r in c.reports.values())
        if clocks:
            out.print(w["clocks"](clocks["published"], clocks["collected"]), markup=False)
    if len(shown) < len(table):
        out.print(w["unstarted"](len(table) - len(shown)))
