"""Screen 1, Overview: the portal's live counters with their rates, the key national indicators
with value, change and sparkline, firing alerts by severity, connection state and data age."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Label, Static

from console.numbers import fmt_age, fmt_time
from console.state import NATION, Changed, ConsoleState, Series, SeriesKey, key_from_text, key_text, period_end
from console.views import View
from console.widgets import KeyedTable, spark

COUNTER_COLUMNS = (
    ("name", "col.indicator", 28),
    ("value", "col.value", 15),
    ("rate", "col.rate", 14),
    ("trend", "col.trend", 10),
)
KEY_COLUMNS = (
    ("name", "col.indicator", 28),
    ("period", "col.period", 10),
    ("value", "col.value", 11),
    ("change", "col.change", 10),
    ("trend", "col.trend", 10),
)


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
    view_id = "overview"
    title_key = "view.overview"

    DEFAULT_CSS = """
    OverviewView #overview-grid { grid-size: 2; grid-columns: 1fr 1fr; grid-rows: 1fr auto; }
    OverviewView .box { height: 1fr; }
    OverviewView .box-title { text-style: bold; height: 1; }
    OverviewView #overview-status { height: auto; column-span: 2; }
    OverviewView DataTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn: dict[str, dict[str, tuple[str, ...]]] = {"counters": {}, "key": {}}

    def compose(self) -> ComposeResult:
        with Grid(id="overview-grid"):
            with Vertical(classes="box"):
                yield Label(id="overview-key-title", classes="box-title")
                yield KeyedTable(id="overview-key", cursor_type="row", show_cursor=True)
            with Vertical(classes="box"):
                yield Label(id="overview-counters-title", classes="box-title")
                yield KeyedTable(id="overview-counters", cursor_type="row")
            yield Static(id="overview-status")

    def on_mount(self) -> None:
        super().on_mount()
        for table_id, columns in (("overview-key", KEY_COLUMNS), ("overview-counters", COUNTER_COLUMNS)):
            table = self.query_one(f"#{table_id}", DataTable)
            for key, label, width in columns:
                table.add_column(self.opscentre.t(label), width=width, key=key)

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
            for table_id, columns in (("overview-key", KEY_COLUMNS), ("overview-counters", COUNTER_COLUMNS)):
                table = self.query_one(f"#{table_id}", DataTable)
                for key, label, _ in columns:
                    table.columns[key].label = Text(app.t(label))  # type: ignore[index]
                table.refresh()
        full = changed.everything or changed.mode
        if full or changed.series:
            self._table(state, "key", self._pick(state, False), self._key_cells, None if full else changed.series)
            self._table(
                state, "counters", self._pick(state, True), self._counter_cells, None if full else changed.series
            )
        self._status(state)

    def _key_cells(self, state: ConsoleState, s: Series) -> tuple[str, ...]:
        app = self.opscentre
        d = state.decimals(s.key[0])
        unit = app.unit_of(s.key[0])
        value = app.fmt_number(s.latest.value, d)
        return (
            app.name_of(s.key[0]),
            s.latest.period,
            f"{value} {unit}" if unit == "%" else value,
            app.fmt_change(s.change, d),
            spark(s.values, 10),
        )

    def _counter_cells(self, state: ConsoleState, s: Series) -> tuple[str, ...]:
        app = self.opscentre
        rate = rate_per_minute(s)
        return (
            app.name_of(s.key[0]),
            app.fmt_number(s.latest.value, 0),
            "—" if rate is None else f"{app.fmt_number(rate, 1 if abs(rate) < 100 else 0)}{app.t('overview.rate')}",
            spark(s.values, 10),
        )

    def _table(
        self, state: ConsoleState, which: str, keys: list[SeriesKey], cells_of: Any, only: set[SeriesKey] | None
    ) -> None:
        table = self.query_one(f"#overview-{which}", DataTable)
        drawn = self._drawn[which]
        wanted = [key_text(k) for k in keys]
        if list(drawn) != wanted:  # a series came or went: redraw the few rows in order
            table.clear()
            drawn.clear()
            for key in keys:
                cells = cells_of(state, state.series[key])
                drawn[key_text(key)] = cells
                table.add_row(*self._styled(table, cells), key=key_text(key))
            return
        for key in keys:
            if only is not None and key not in only:
                continue
            row = key_text(key)
            cells = cells_of(state, state.series[key])
            for column, before, after in zip(table.columns, drawn[row], cells, strict=True):
                if before != after:
                    table.update_cell(row, column, self._cell(str(column.value), after))
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
