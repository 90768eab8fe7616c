"""Screen 3, Provinces: one indicator across the units in force for the chosen period — the 34
since 2025-07-01, the 63 former units for earlier periods, with who became whom — ranked, with
high and low thirds marked (symbol and colour) and a total (or average) row.

Values come from the state (each unit's newest figure) and, for earlier periods, from history
queries of each unit, fetched once per indicator when the user steps back."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Select, Static

from console.client import FeedRefused, FeedUnavailable
from console.state import NATION, Changed, ConsoleState, period_end
from console.views import View
from console.widgets import KeyedTable
from feed.protocol import AreaInfo, HistoryData, HistoryQuery, ReportingData, ReportingQuery, ReportingRow

REPORTING_SECONDS = 60.0  # as the wall page: completeness moves with reports and due dates, not by the second

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("rank", "col.rank", 3),
    ("area", "col.area", 5),
    ("name", "col.indicator", 20),
    ("value", "col.value", 12),
    ("level", "col.level", 9),
    ("report", "col.report", 14),
    ("lineage", "col.former", 22),
)
SUMMED = {"flow", "stock", "counter"}  # a total means something; for rates and levels an average


def report_status(row: ReportingRow | None, area: str) -> str:
    """The i18n key of ``area``'s report in ``row`` ("" when no province's report is expected)."""
    if row is None or area == NATION:
        return ""
    # The counts are of the provinces when any is expected, else of the national figure alone.
    if row.expected <= 1 and not [a for a in (*row.missing, *row.late_areas) if a != NATION]:
        return ""
    if area in row.missing:
        return "report.missing"
    if area in row.late_areas:
        return "report.late"
    return "report.not_due" if row.not_due else "report.on_time"


def period_day(period: str) -> date | None:
    """The last day of a period (which units were in force then)."""
    end = period_end(period)
    return None if end is None else (end - timedelta(days=1)).date()


class ProvincesView(View):
    view_id = "provinces"
    title_key = "view.provinces"
    binding_scopes = ("provinces",)

    DEFAULT_CSS = """
    ProvincesView #provinces-bar { height: 3; }
    ProvincesView #provinces-indicator { width: 1fr; }
    ProvincesView #provinces-title { height: 1; padding: 0 1; text-style: bold; }
    ProvincesView #provinces-reporting { height: 1; padding: 0 1; }
    ProvincesView #provinces-table { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.indicator: str | None = None
        self.period: str | None = None  # None: the newest
        self._history: dict[str, dict[str, dict[str, float]]] = {}  # indicator → period → area → value
        self._rows: dict[str, tuple[str, ...]] = {}
        self._options: tuple[str, ...] = ()
        self.reporting: ReportingRow | None = None  # the indicator's newest period due (``reporting`` query)

    def compose(self) -> ComposeResult:
        with Horizontal(id="provinces-bar"):
            yield Select[str]([], id="provinces-indicator", allow_blank=True, prompt="…")
        yield Static(id="provinces-title")
        yield Static(id="provinces-reporting")
        table = KeyedTable(id="provinces-table", cursor_type="row", zebra_stripes=True)
        for key, label, width in COLUMNS:
            table.add_column(self.opscentre.t(label), width=width, key=key)
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(REPORTING_SECONDS, self._refresh_reporting)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#provinces-table", DataTable)

    # --- data ------------------------------------------------------------------------------------

    def indicators(self, state: ConsoleState) -> list[str]:
        """Indicators with figures for provinces, in catalogue order."""
        have = {k[0] for k in state.series if k[1] != NATION}
        order = list(state.catalogue.indicators)
        return sorted(have, key=lambda c: (order.index(c) if c in order else len(order), c))

    def values(self, state: ConsoleState, indicator: str) -> dict[str, dict[str, float]]:
        """period → area → value: the fetched history, overlaid with what the state holds now."""
        out: dict[str, dict[str, float]] = {p: dict(v) for p, v in self._history.get(indicator, {}).items()}
        for key, series in state.series.items():
            if key[0] != indicator or key[1] == NATION:
                continue
            for period, value in series.points:
                out.setdefault(period, {})[key[1]] = value
            out.setdefault(series.latest.period, {})[key[1]] = series.latest.value
        return out

    def newest_period(self, state: ConsoleState, values: dict[str, dict[str, float]]) -> str | None:
        """The newest period with figures for units in force today (or at the time travelled to)."""
        today = state.now().date()
        in_force = {a.code for a in state.catalogue.areas_in_force(today)}
        periods = sorted(p for p, by_area in values.items() if not in_force or set(by_area) & in_force)
        return periods[-1] if periods else (max(values) if values else None)

    def units(self, state: ConsoleState, period: str) -> list[AreaInfo]:
        day = period_day(period)
        return state.catalogue.areas_in_force(day) if day is not None else []

    # --- drawing ------------------------------------------------------------------------------

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        if changed.everything or changed.catalogue or changed.mode:
            if changed.everything:
                self._history.clear()
            before = self.indicator
            self._sync_options(state)
            if changed.everything or self.indicator != before:
                self._refresh_reporting()
            self._relabel()
            self.rebuild(state)
        elif changed.series and self.indicator is not None:
            if any(k[0] == self.indicator for k in changed.series):
                self.rebuild(state, patch=True)

    def _relabel(self) -> None:
        for key, label, _ in COLUMNS:
            self.table.columns[key].label = Text(self.opscentre.t(label))  # type: ignore[index]
        self.table.refresh()

    def _sync_options(self, state: ConsoleState) -> None:
        codes = tuple(self.indicators(state))
        select = self.query_one("#provinces-indicator", Select)
        names = tuple(self.opscentre.name_of(c) for c in codes)
        if (codes, names) != (self._options, getattr(self, "_names", ())):
            self._options, self._names = codes, names
            with self.prevent(Select.Changed):
                select.set_options([(f"{n} ({c})", c) for c, n in zip(codes, names, strict=True)])
                if self.indicator not in codes:
                    self.indicator = codes[0] if codes else None
                if self.indicator is not None:
                    select.value = self.indicator

    def rebuild(self, state: ConsoleState, patch: bool = False) -> None:
        app = self.opscentre
        title = self.query_one("#provinces-title", Static)
        table = self.table
        if self.indicator is None:
            table.clear()
            self._rows.clear()
            title.update(app.t("provinces.none"))
            return
        values = self.values(state, self.indicator)
        period = self.period if self.period in values else self.newest_period(state, values)
        if period is None:
            table.clear()
            self._rows.clear()
            title.update(app.t("provinces.none"))
            return
        units = self.units(state, period)
        by_area = values.get(period, {})
        info = state.catalogue.indicators.get(self.indicator)
        decimals = info.decimals if info else 1
        shown = sorted(units, key=lambda a: (by_area.get(a.code) is None, -(by_area.get(a.code) or 0.0), a.code))
        figures = sorted(v for a in units if (v := by_area.get(a.code)) is not None)
        low = figures[len(figures) // 3] if len(figures) >= 3 else None
        high = figures[-(len(figures) // 3) - 1] if len(figures) >= 3 else None
        rows: dict[str, tuple[str, ...]] = {}
        for rank, area in enumerate(shown, 1):
            value = by_area.get(area.code)
            level = ""
            if value is not None and low is not None and high is not None:
                level = "level.high" if value > high else "level.low" if value < low else "level.mid"
            rows[area.code] = (
                str(rank) if value is not None else "",
                area.code,
                area.name,
                app.fmt_number(value, decimals),
                app.t(level) if level else "",
                app.t(status) if (status := report_status(self.reporting, area.code)) else "",
                self._lineage(state, area, period),
            )
        summed = info is not None and info.kind in SUMMED
        total = sum(figures) if summed else (sum(figures) / len(figures) if figures else None)
        rows["total"] = (
            "",
            "",
            app.t("provinces.total" if summed else "provinces.mean"),
            app.fmt_number(total, decimals),
            "",
            "",
            app.t("provinces.units", n=len(units)),
        )
        unit = app.unit_of(self.indicator)
        title.update(
            f"{app.t('provinces.title', indicator=app.name_of(self.indicator), period=period)}"
            f"{f' ({unit})' if unit else ''} · {app.t('provinces.units', n=len(units))}"
        )
        self.shown_period = period
        self._reporting_line()
        if patch and list(rows) == list(self._rows):
            for row, cells in rows.items():
                old = self._rows[row]
                for (column, _, _), before, after in zip(COLUMNS, old, cells, strict=True):
                    if before != after:
                        table.update_cell(row, column, self._cell(column, after, row))
            self._rows = rows
            return
        table.clear()
        self._rows = rows
        for row, cells in rows.items():
            table.add_row(*(self._cell(c, v, row) for (c, _, _), v in zip(COLUMNS, cells, strict=True)), key=row)

    def _reporting_line(self) -> None:
        """ "Reports for 2026-09 (due 2026-10-25): 28/34 provinces · 2 late · 4 missing"."""
        line = self.query_one("#provinces-reporting", Static)
        row = self.reporting
        line.display = row is not None
        if row is None:
            return
        app = self.opscentre
        count = app.t("provinces.count", received=row.received, expected=row.expected)
        if row.expected <= 1:
            count = f"{row.received}/{row.expected}"  # the national figure alone: not "1/1 provinces"
        if row.late:
            count += app.t("provinces.count_late", n=row.late)
        missing = len([a for a in row.missing if a != NATION]) if row.expected > 1 else len(row.missing)
        if missing:
            count += app.t("provinces.count_missing", n=missing)
        if row.not_due:
            count += app.t("provinces.count_not_due")
        text = app.t("provinces.reporting", period=row.period, due=row.due.isoformat(), count=count)
        style = "bold red" if missing else "yellow" if row.late else "green"
        line.update(Text(text, style=style))

    def _refresh_reporting(self) -> None:
        if self.indicator is not None:
            self._load_reporting(self.indicator)

    @work(group="provinces-reporting", exclusive=True, exit_on_error=False)
    async def _load_reporting(self, indicator: str) -> None:
        """The indicator's completeness for its newest period due. Only live: the server answers
        it as of now, so the past (time travel) shows none rather than today's."""
        app = self.opscentre
        row: ReportingRow | None = None
        if app.state.live:
            try:
                result = await app.feed.send_query(ReportingQuery(indicator=indicator))
            except (FeedUnavailable, FeedRefused, TimeoutError):
                result = None  # a live counter, an older server: no column rather than a wrong one
            if result is not None and isinstance(result.data, ReportingData):
                row = next((r for r in result.data.rows if r.indicator == indicator), None)
        if self.indicator == indicator and row != self.reporting:
            self.reporting = row
            self.rebuild(app.state)
        elif self.indicator == indicator:
            self._reporting_line()

    def _lineage(self, state: ConsoleState, area: AreaInfo, period: str) -> str:
        """Who became whom: a 2025 unit lists the former units merged into it; a former unit names its successor."""
        if area.valid_to is not None and area.successor:
            successor = state.catalogue.areas.get(area.successor)
            return f"→ {area.successor} {successor.name if successor else ''}".strip()
        if area.predecessors:
            others = [p for p in area.predecessors if p != area.code]
            return ("← " + ", ".join(others)) if others else ""
        return ""

    @staticmethod
    def _cell(column: str, text: str, row: str) -> Text:
        bold = "bold" if row == "total" else ""
        if column == "value":
            return Text(text, justify="right", style=bold)
        if column == "level":
            style = "yellow" if text.startswith("▲") else "cyan" if text.startswith("▼") else ""
            return Text(text, style=style)
        if column == "report":
            style = "green" if text.startswith("✓") else "yellow" if text.startswith("⌛") else ""
            return Text(text, style="bold red" if text.startswith("✗") else style)
        return Text(text, style=bold)

    # --- events and actions --------------------------------------------------------------------

    @on(Select.Changed, "#provinces-indicator")
    def _picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.indicator:
            self.indicator, self.period, self.reporting = event.value, None, None
            self.rebuild(self.opscentre.state)
            self._refresh_reporting()

    def action_pick_indicator(self) -> None:
        self.query_one("#provinces-indicator", Select).focus()

    def action_period_step(self, n: int) -> None:
        state = self.opscentre.state
        if self.indicator is None:
            return
        if self.indicator not in self._history:
            self._load_history(self.indicator, n)
            return
        self._step(state, n)

    def _step(self, state: ConsoleState, n: int) -> None:
        assert self.indicator is not None
        periods = sorted(self.values(state, self.indicator))
        if not periods:
            return
        current = getattr(self, "shown_period", periods[-1])
        i = periods.index(current) if current in periods else len(periods) - 1
        self.period = periods[max(0, min(len(periods) - 1, i + n))]
        self.rebuild(state)

    @work(group="provinces-history", exclusive=True, exit_on_error=False)
    async def _load_history(self, indicator: str, then_step: int) -> None:
        """Every unit's series of ``indicator`` (as known at the time travelled to), once."""
        app = self.opscentre
        state = app.state
        keys = [k for k in state.series if k[0] == indicator and k[1] != NATION]
        found: dict[str, dict[str, float]] = {}
        title = self.query_one("#provinces-title", Static)
        title.update(app.t("provinces.loading"))

        async def one(area: str, source: str) -> None:
            query = HistoryQuery(indicator=indicator, area=area, source=source, as_of=state.as_of)
            try:
                result = await app.feed.send_query(query)
            except (FeedUnavailable, FeedRefused, TimeoutError):
                return
            if isinstance(result.data, HistoryData):
                for o in result.data.observations:
                    found.setdefault(o.period, {})[area] = o.value

        await asyncio.gather(*(one(k[1], k[2]) for k in keys))
        self._history[indicator] = found
        if self.indicator == indicator:
            self._step(state, then_step)
