"""Screen 1, Overview: the portal's live counters with their rates, the key national indicators
with value, change and sparkline, firing alerts by severity, connection state and data age."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static

from console.numbers import fmt_age, fmt_time
from console.state import (
    NATION,
    SPARK_POINTS,
    Changed,
    ConsoleState,
    Series,
    SeriesKey,
    key_from_text,
    key_text,
    period_end,
)
from console.views import View
from console.widgets import Col, KeyedTable, fit_columns, fit_text, spark

# (column key, label key, least width). The name grows until every name is whole, then the unit
# is shown if it fits whole, then the sparkline widens to as many figures as there are (up to
# SPARK_POINTS).
KEY_COLUMNS = (
    ("name", "col.indicator", 20),
    ("period", "col.period", 10),
    ("value", "col.value", 11),
    ("unit", "col.unit", 0),
    ("change", "col.change", 10),
    ("trend", "col.trend", 10),
)
COUNTER_COLUMNS = (
    ("name", "col.indicator", 20),
    ("value", "col.value", 15),
    ("unit", "col.unit", 0),
    ("rate", "col.rate", 14),
    ("trend", "col.trend", 10),
)
GROW = ("name", "unit", "trend")
CellsOf = Callable[[ConsoleState, Series, dict[str, int]], tuple[str, ...]]


def rate_per_minute(series: Series) -> float | None:
    """A live counter's rate from its last two readings (periods are instants)."""
    if len(series.points) < 2:
        return None
    (p0, v0), (p1, v1) = series.points[-2], series.points[-1]
    t0, t1 = period_end(p0), period_end(p1)
    if t0 is None or t1 is None or t1 <= t0:
        return None
    return (v1 - v0) / ((t1 - t0).total_seconds() / 60)


class OverviewView(View):
    """Two tables, one above the other, each as wide as the view: columns are fitted to the width
    there is (``console.widgets.fit_columns``), again after every resize."""

    view_id = "overview"
    title_key = "view.overview"

    DEFAULT_CSS = """
    OverviewView .box-title { text-style: bold; height: 1; }
    OverviewView #overview-key { height: auto; max-height: 55vh; }
    OverviewView #overview-counters-box { height: 1fr; }
    OverviewView #overview-counters { height: 1fr; }
    OverviewView #overview-status { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn: dict[str, dict[str, tuple[str, ...]]] = {"counters": {}, "key": {}}
        self._widths: dict[str, dict[str, int]] = {"counters": {}, "key": {}}

    def compose(self) -> ComposeResult:
        yield Label(id="overview-key-title", classes="box-title")
        yield KeyedTable(id="overview-key", cursor_type="row", show_cursor=True)
        with Vertical(id="overview-counters-box"):
            yield Label(id="overview-counters-title", classes="box-title")
            yield KeyedTable(id="overview-counters", cursor_type="row")
        yield Static(id="overview-status")

    def on_resize(self, event: events.Resize) -> None:
        self.update_from(self.opscentre.state, Changed(mode=True))

    def series_on_screen(self) -> list[SeriesKey]:
        state = self.opscentre.state
        return self._pick(state, False) + self._pick(state, True)

    # --- which series -------------------------------------------------------------------------

    def _pick(self, state: ConsoleState, want_live: bool) -> list[SeriesKey]:
        """One national series per indicator (the freshest source): key indicators, or live counters."""
        best: dict[str, Series] = {}
        for key, series in state.series.items():
            if key[1] != NATION:
                continue
            info = state.catalogue.indicators.get(key[0])
            if info is None:
                continue
            if want_live != (info.frequency == "live") or (not want_live and not info.key):
                continue
            current = best.get(key[0])
            if current is None or series.latest.collected_at > current.latest.collected_at:
                best[key[0]] = series
        order = list(state.catalogue.indicators)
        return [best[c].key for c in sorted(best, key=order.index)]

    # --- drawing -------------------------------------------------------------------------------

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        app = self.opscentre
        if changed.everything or changed.mode or changed.catalogue:
            self.query_one("#overview-key-title", Label).update(app.t("overview.key"))
            self.query_one("#overview-counters-title", Label).update(app.t("overview.counters"))
        full = changed.everything or changed.mode or changed.catalogue
        if full or changed.series:
            only = None if full else changed.series
            self._table(state, "key", KEY_COLUMNS, self._pick(state, False), self._key_cells, only)
            self._table(state, "counters", COUNTER_COLUMNS, self._pick(state, True), self._counter_cells, only)
        self._status(state)

    def _fit(self, state: ConsoleState, table: DataTable[Any], spec: tuple[tuple[str, str, int], ...],
             keys: list[SeriesKey]) -> dict[str, int]:  # fmt: skip
        """The columns' widths for these rows in the width the table has."""
        app = self.opscentre
        names = max((cell_len(app.name_of(k[0])) for k in keys), default=0)
        units = max((cell_len(app.unit_of(k[0])) for k in keys), default=0)
        points = max((len(state.series[k].points) for k in keys), default=0)
        most = {"name": names, "unit": units, "trend": min(points, SPARK_POINTS)}
        columns = [Col(key, least, most.get(key), optional=key == "unit") for key, _, least in spec]
        room = self.size.width - table.styles.scrollbar_size_vertical  # a scrollbar never covers a column
        return fit_columns(columns, room, GROW)

    def _key_cells(self, state: ConsoleState, s: Series, widths: dict[str, int]) -> tuple[str, ...]:
        app = self.opscentre
        d = state.decimals(s.key[0])
        unit = app.unit_of(s.key[0])
        value = app.fmt_number(s.latest.value, d)
        cells = {
            "name": fit_text(app.name_of(s.key[0]), widths["name"]),
            "period": s.latest.period,
            # without a unit column, a percentage still says it is one
            "value": f"{value} {unit}" if unit == "%" and "unit" not in widths else value,
            "unit": unit,
            "change": app.fmt_change(s.change, d),
            "trend": spark(s.values, widths["trend"]),
        }
        return tuple(cells[k] for k in widths)

    def _counter_cells(self, state: ConsoleState, s: Series, widths: dict[str, int]) -> tuple[str, ...]:
        app = self.opscentre
        rate = rate_per_minute(s)
        cells = {
            "name": fit_text(app.name_of(s.key[0]), widths["name"]),
            "value": app.fmt_number(s.latest.value, 0),
            "unit": app.unit_of(s.key[0]),
            "rate": "—"
            if rate is None
            else f"{app.fmt_number(rate, 1 if abs(rate) < 100 else 0)}{app.t('overview.rate')}",
            "trend": spark(s.values, widths["trend"]),
        }
        return tuple(cells[k] for k in widths)

    def _table(
        self,
        state: ConsoleState,
        which: str,
        spec: tuple[tuple[str, str, int], ...],
        keys: list[SeriesKey],
        cells_of: CellsOf,
        only: set[SeriesKey] | None,
    ) -> None:
        if not self.size.width:
            return  # not laid out yet: drawn on the first resize
        table = self.query_one(f"#overview-{which}", DataTable)
        drawn = self._drawn[which]
        widths = self._fit(state, table, spec, keys)
        wanted = [key_text(k) for k in keys]
        if widths != self._widths[which] or not table.columns:  # resized, or longer names: columns anew
            self._widths[which] = widths
            labels = {column: label for column, label, _ in spec}
            table.clear(columns=True)
            for column, width in widths.items():
                table.add_column(Text(self.opscentre.t(labels[column])), width=width, key=column)
            drawn.clear()
        elif only is None:
            labels = {column: label for column, label, _ in spec}
            for column in widths:
                table.columns[column].label = Text(self.opscentre.t(labels[column]))  # type: ignore[index]
            table.refresh()
        if list(drawn) != wanted:  # a series came or went: redraw the few rows in order
            table.clear()
            drawn.clear()
            for key in keys:
                cells = cells_of(state, state.series[key], widths)
                drawn[key_text(key)] = cells
                table.add_row(*self._styled(table, cells), key=key_text(key))
            return
        for key in keys:
            if only is not None and key not in only:
                continue
            row = key_text(key)
            cells = cells_of(state, state.series[key], widths)
            for name, before, after in zip(widths, drawn[row], cells, strict=True):
                if before != after:
                    table.update_cell(row, name, self._cell(name, after))
            drawn[row] = cells

    def _styled(self, table: DataTable[Any], cells: tuple[str, ...]) -> list[Text]:
        return [self._cell(str(c.value), v) for c, v in zip(table.columns, cells, strict=True)]

    @staticmethod
    def _cell(column: str, text: str) -> Text:
        if column in ("value", "rate"):
            return Text(text, justify="right")
        if column == "change":
            style = "green" if text.startswith("▲") else "red" if text.startswith("▼") else ""
            return Text(text, style=style, justify="right")
        return Text(text)

    def _status(self, state: ConsoleState) -> None:
        app = self.opscentre
        firing = state.firing()
        counts = {s: sum(a.severity == s for a in firing) for s in ("critical", "warning", "info")}
        alerts = "  ".join(f"{app.t('severity.' + s)} {n}" for s, n in counts.items())
        c = state.connection
        age = fmt_age(datetime.now(UTC) - c.last_change_at, app.lang) if c.last_change_at else "—"
        link = app.t("status.live") if c.connected else app.t("status.stale", time=fmt_time(c.stale_since, app.lang))
        self.query_one("#overview-status", Static).update(
            f"{app.t('overview.alerts')}: {alerts}\n{app.t('overview.connection')}: {link} · "
            f"{app.t('status.age', age=age)}"
        )

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        self.opscentre.drilldown(key_from_text(str(event.row_key.value)))
