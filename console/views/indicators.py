"""Screen 2, Indicators: every series in one DataTable, filtered as you type, sorted by any
column, by category tab. Rows are keyed by series (``GDP|VN|gso-json``) and columns by name:
a delta updates only the cells that changed (Dolphie-style keyed diff). Column widths are fitted
to the view's width and the longest unit, area and name (units always whole, then area names
instead of codes where they fit, then indicator names); they change only on a resize or when a
longer one comes, and then every row is drawn again."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static, Tab, Tabs
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from console.i18n import pick
from console.state import Changed, ConsoleState, Series, SeriesKey, key_from_text, key_text
from console.views import View
from console.widgets import Col, KeyedTable, cursor_row, fit_columns, fit_text, spark

# (column key, label key, least width). Most useful first: at 80 columns name … flags fit.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "col.indicator", 24),
    ("area", "col.area", 4),
    ("period", "col.period", 10),
    ("value", "col.value", 14),
    ("change", "col.change", 11),
    ("flags", "col.flags", 4),
    ("trend", "col.trend", 10),
    ("unit", "col.unit", 10),
    ("category", "col.category", 8),
    ("source", "col.source", 12),
)
COLUMN_KEYS = tuple(c[0] for c in COLUMNS)
FITTED = ("name", "area", "unit", "category", "source")  # as wide as their longest text (and label)
AREA_CODE = 4
FILTER_DELAY = 0.15  # seconds of quiet typing before the table is filtered


class IndicatorsView(View):
    view_id = "indicators"
    title_key = "view.indicators"
    binding_scopes = ("table",)

    DEFAULT_CSS = """
    IndicatorsView #indicators-bar { height: 1; }
    IndicatorsView #indicators-filter { width: 1fr; height: 1; border: none; padding: 0 1; }
    IndicatorsView #indicators-info { height: 1; width: auto; padding: 0 1; color: $text-muted; }
    IndicatorsView #indicators-categories { height: 2; }
    IndicatorsView #indicators-table { height: 1fr; }
    """

    sort_column: str = "category"
    sort_reverse: bool = False
    SORTABLE: ClassVar[tuple[str, ...]] = COLUMN_KEYS

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.query_text = ""
        self.category: str | None = None  # None: all
        self._rows: dict[str, tuple[str, ...]] = {}  # row key → cells as last drawn (plain text)
        self._haystacks: dict[SeriesKey, str] = {}
        self._filter_timer: Any = None
        self._categories_shown: tuple[str, ...] = ()
        self._failing: set[str] = set()  # sources flagged "!" as last drawn
        self._longest: dict[str, int] = dict.fromkeys(FITTED, 0)  # of the series measured so far
        self._measured: set[SeriesKey] = set()
        self._widths: dict[str, int] = {k: w for k, _, w in COLUMNS}
        self._area_names = False  # area names fit (else codes)

    def compose(self) -> ComposeResult:
        with Horizontal(id="indicators-bar"):
            yield Input(placeholder=self.opscentre.t("indicators.filter"), id="indicators-filter")
            yield Static(id="indicators-info")
        yield Tabs(id="indicators-categories")
        yield KeyedTable(id="indicators-table", cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#indicators-table", DataTable)

    def on_resize(self, event: events.Resize) -> None:
        if self._fit():
            self.rebuild(self.opscentre.state)
        # the rows now on screen get their history at once (else on the app's next tick)
        self.call_after_refresh(lambda: self.opscentre.want_history(self.series_on_screen()))

    def series_on_screen(self) -> list[SeriesKey]:
        table = self.table
        first = table.scroll_offset.y
        last = first + table.size.height
        return [key_from_text(str(row.key.value)) for row in table.ordered_rows[first:last]]

    # --- column widths ---------------------------------------------------------------------------

    def _area_name(self, state: ConsoleState, code: str, period: str) -> str:
        area = state.catalogue.area_at(code, period)
        return area.name if area is not None else code

    def _measure(self, state: ConsoleState, keys: Iterable[SeriesKey]) -> bool:
        """Take the texts of these series into the longest of each fitted column; True if one grew."""
        app = self.opscentre
        grew = False
        for key in keys:
            if key in self._measured or key not in state.series:
                continue
            self._measured.add(key)
            info = state.catalogue.indicators.get(key[0])
            sizes = {
                "name": cell_len(app.name_of(key[0])),
                "area": cell_len(self._area_name(state, key[1], state.series[key].latest.period)),
                "unit": cell_len(app.unit_of(key[0])),
                "category": cell_len(info.category) if info else 0,
                "source": cell_len(key[2]),
            }
            for column, size in sizes.items():
                if size > self._longest[column]:
                    self._longest[column] = size
                    grew = True
        return grew

    def _fit(self) -> bool:
        """Fit the columns to the view's width and the texts measured; True if a width changed."""
        if not self.size.width:
            return False
        app = self.opscentre
        label = {k: cell_len(app.t(lab)) + 2 for k, lab, _ in COLUMNS}  # + the sort marker
        least = {k: w for k, _, w in COLUMNS}
        longest = self._longest
        columns = [
            Col("name", least["name"], longest["name"]),
            Col("area", AREA_CODE, max(AREA_CODE, longest["area"])),
            *(Col(k, least[k]) for k in ("period", "value", "change", "flags", "trend")),
            *(Col(k, max(longest[k], min(label[k], least[k]))) for k in ("unit", "category", "source")),
        ]
        room = self.size.width - self.table.styles.scrollbar_size_vertical
        widths = fit_columns(columns, room, ("area", "name"))
        area_names = widths["area"] >= longest["area"] > AREA_CODE
        if not area_names and widths["area"] > AREA_CODE:  # codes, and the cells over to the names
            widths["name"] = min(longest["name"], widths["name"] + widths["area"] - AREA_CODE)
            widths["area"] = AREA_CODE
        widths["name"] = max(widths["name"], least["name"])
        changed = widths != self._widths or area_names != self._area_names
        self._widths, self._area_names = widths, area_names
        return changed

    # --- drawing -----------------------------------------------------------------------------

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        if changed.catalogue or changed.everything:
            self._haystacks.clear()
            self._sync_categories(state)
        if changed.everything or changed.mode:
            self._measured.clear()  # names in another language, or another moment's series
            self._longest = dict.fromkeys(FITTED, 0)
            self._relabel()
            self.rebuild(state)
            return
        if changed.series or changed.alerts or changed.sources:
            self._patch(state, changed)

    def _relabel(self) -> None:
        app = self.opscentre
        for key, label, _ in COLUMNS:
            column = self.table.columns.get(key)  # type: ignore[call-overload]
            if column is not None:
                marker = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
                column.label = Text(app.t(label) + marker)
        self.query_one("#indicators-filter", Input).placeholder = app.t("indicators.filter")
        tabs = self.query_one("#indicators-categories", Tabs)
        if tabs.query("#cat-all"):
            tabs.query_one("#cat-all", Tab).label = app.t("indicators.all")
        self.table.refresh()

    def _sync_categories(self, state: ConsoleState) -> None:
        codes = tuple(state.catalogue.categories)
        if codes == self._categories_shown:
            return
        self._categories_shown = codes
        tabs = self.query_one("#indicators-categories", Tabs)
        tabs.clear()
        tabs.add_tab(Tab(self.opscentre.t("indicators.all"), id="cat-all"))
        for code in codes:
            tabs.add_tab(Tab(code, id=f"cat-{code}"))

    def cells(self, state: ConsoleState, series: Series, failing: set[str]) -> tuple[str, ...]:
        app = self.opscentre
        c = series.latest
        decimals = state.decimals(c.indicator)
        info = state.catalogue.indicators.get(c.indicator)
        flags = "".join(
            f
            for f, on_ in (
                ("P", series.provisional),
                ("R", series.revised),
                ("L", state.late(series)),
                ("!", c.source in failing),
            )
            if on_
        )
        values = {
            "name": fit_text(app.name_of(c.indicator), self._widths["name"]),
            "area": self._area_name(state, c.area, c.period) if self._area_names else c.area,
            "period": c.period[:10] if "T" not in c.period else c.period[11:19],
            "value": app.fmt_number(c.value, decimals),
            "change": app.fmt_change(series.change, decimals),
            "flags": flags,
            "trend": spark(series.values, 10),
            "unit": app.unit_of(c.indicator),
            "category": info.category if info else "",
            "source": c.source,
        }
        return tuple(values[k] for k in COLUMN_KEYS)

    def _styled(self, column: str, text: str) -> Text:
        """A cell as Text, never markup: a name with "[" is shown as written."""
        if column in ("value", "change"):
            style = ""
            if column == "change":
                style = "green" if text.startswith("▲") else "red" if text.startswith("▼") else ""
            return Text(text, style=style, justify="right")
        if column == "flags" and "!" in text:
            return Text(text, style="bold red")
        return Text(text)

    def visible_keys(self, state: ConsoleState) -> list[SeriesKey]:
        words = self.query_text.lower().split()
        keys = []
        for key in state.series:
            if self.category is not None:
                info = state.catalogue.indicators.get(key[0])
                if info is None or info.category != self.category:
                    continue
            if words:
                hay = self._haystack(state, key)
                if not all(w in hay for w in words):
                    continue
            keys.append(key)
        keys.sort(key=self._sort_key(state), reverse=self.sort_reverse)
        return keys

    def _haystack(self, state: ConsoleState, key: SeriesKey) -> str:
        hay = self._haystacks.get(key)
        if hay is None:
            parts = list(key)
            info = state.catalogue.indicators.get(key[0])
            if info is not None:
                parts += [info.name_vi, info.name_en, info.category, info.agency, *info.agency_lineage]
                cat = state.catalogue.categories.get(info.category)
                if cat is not None:
                    parts += [cat.name_vi, cat.name_en]
                for code in info.agency_lineage:
                    agency = state.catalogue.agencies.get(code)
                    if agency is not None:
                        parts += [agency.name_vi, agency.name_en]
            for area in (
                state.catalogue.areas.get(key[1]),
                state.catalogue.area_at(key[1], state.series[key].latest.period),
            ):
                if area is not None:
                    parts.append(area.name)  # the unit in force and the one of the figure's period
            hay = self._haystacks[key] = " ".join(parts).lower()
        return hay

    def _sort_key(self, state: ConsoleState) -> Callable[[SeriesKey], Any]:
        column = self.sort_column
        app = self.opscentre

        def by(key: SeriesKey) -> Any:
            s = state.series[key]
            if column == "value":
                return (s.latest.value, key)
            if column == "change":
                ch = s.change
                return (ch is None, ch or 0.0, key)
            if column == "period":
                return (s.latest.period, key)
            if column == "name":
                return (app.name_of(key[0]).lower(), key)
            if column == "category":
                info = state.catalogue.indicators.get(key[0])
                return (info.category if info else "~", key)
            if column == "flags":
                return (-(s.provisional + s.revised), key)
            if column == "trend":
                return (s.change or 0.0, key)
            if column == "unit":
                return (app.unit_of(key[0]), key)
            if column == "area":
                return (key[1], key)
            return (key[2], key)

        return by

    def rebuild(self, state: ConsoleState) -> None:
        """Every row again (filter, sort, category, language or snapshot): rows are drawn in order."""
        table = self.table
        cursor_key = cursor_row(self.table)
        self._measure(state, state.series)
        self._fit()
        table.clear(columns=True)
        for column, label, _ in COLUMNS:
            table.add_column(Text(self.opscentre.t(label)), width=self._widths[column], key=column)
        self._relabel()
        self._rows.clear()
        failing = self._failing = state.failing_sources()
        for key in self.visible_keys(state):
            cells = self.cells(state, state.series[key], failing)
            row = key_text(key)
            self._rows[row] = cells
            table.add_row(*(self._styled(c, v) for c, v in zip(COLUMN_KEYS, cells, strict=True)), key=row)
        if cursor_key is not None and cursor_key in self._rows:
            table.move_cursor(row=table.get_row_index(cursor_key), animate=False)
        self._info(state)

    def _patch(self, state: ConsoleState, changed: Changed) -> None:
        """Only the cells that differ from what is drawn; a new series that passes the filter is appended."""
        table = self.table
        if self._measure(state, changed.series) and self._fit():  # a longer name, area or unit came
            self.rebuild(state)
            return
        keys = set(changed.series)
        failing = state.failing_sources()
        if failing != self._failing:  # the "source failing" flag moved: the rows of those sources
            moved = failing ^ self._failing
            keys |= {k for k in state.series if k[2] in moved}
            self._failing = failing
        words = self.query_text.lower().split()
        for key in keys:
            series = state.series.get(key)
            if series is None:
                continue
            row = key_text(key)
            cells = self.cells(state, series, failing)
            old = self._rows.get(row)
            if old is None:
                if key not in changed.series:
                    continue
                info = state.catalogue.indicators.get(key[0])
                if self.category is not None and (info is None or info.category != self.category):
                    continue
                if words and not all(w in self._haystack(state, key) for w in words):
                    continue
                self._rows[row] = cells
                table.add_row(*(self._styled(c, v) for c, v in zip(COLUMN_KEYS, cells, strict=True)), key=row)
                continue
            if old == cells:
                continue
            self._rows[row] = cells
            for column, before, after in zip(COLUMN_KEYS, old, cells, strict=True):
                if before != after:
                    try:
                        table.update_cell(row, column, self._styled(column, after))
                    except (CellDoesNotExist, RowDoesNotExist):
                        pass
        self._info(state)

    def _info(self, state: ConsoleState) -> None:
        app = self.opscentre
        self.query_one("#indicators-info", Static).update(
            app.t("indicators.count", shown=len(self._rows), total=len(state.series))
        )

    # --- events and actions ---------------------------------------------------------------------

    @on(Input.Changed, "#indicators-filter")
    def _typed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self.rebuild(self.opscentre.state))

    @on(Input.Submitted, "#indicators-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.table.focus()

    @on(Tabs.TabActivated, "#indicators-categories")
    def _category(self, event: Tabs.TabActivated) -> None:
        event.stop()  # not the app's tabs
        tab_id = event.tab.id or "cat-all"
        category = None if tab_id == "cat-all" else tab_id.removeprefix("cat-")
        if category != self.category:
            self.category = category
            self.rebuild(self.opscentre.state)

    @on(DataTable.HeaderSelected, "#indicators-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    @on(DataTable.RowSelected, "#indicators-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.opscentre.drilldown(key_from_text(str(event.row_key.value)))

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        self._relabel()
        self.rebuild(self.opscentre.state)

    def action_focus_filter(self) -> None:
        self.query_one("#indicators-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.table.focus()

    def action_sort_next(self) -> None:
        i = COLUMN_KEYS.index(self.sort_column)
        self.sort_by(COLUMN_KEYS[(i + 1) % len(COLUMN_KEYS)], False)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)

    def action_category_next(self) -> None:
        self.query_one("#indicators-categories", Tabs).action_next_tab()

    def category_name(self, code: str) -> str:
        cat = self.opscentre.state.catalogue.categories.get(code)
        return code if cat is None else pick(cat.name_vi, cat.name_en, self.opscentre.lang)
