"""Small widgets shared by the views: the in-cell sparkline, text and columns fitted to the width
there is, a keyed table's row under the cursor and its changed cells, the time-travel banner, the
status bar."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from rich.cells import cell_len
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from console.numbers import fmt_age, fmt_time
from console.state import Changed, ConsoleState

if TYPE_CHECKING:
    from console.app import OpscentreApp

BARS = "▁▂▃▄▅▆▇█"


def spark(values: Sequence[float], width: int = 10) -> str:
    """The last ``width`` values as block characters, scaled between their min and max; padded
    on the left to a fixed width (fixed column widths: a cell never changes size)."""
    tail = list(values)[-width:]
    if not tail:
        return " " * width
    lo, hi = min(tail), max(tail)
    if hi == lo:
        body = BARS[3] * len(tail)
    else:
        body = "".join(BARS[min(len(BARS) - 1, int((v - lo) / (hi - lo) * (len(BARS) - 1) + 0.5))] for v in tail)
    return body.rjust(width)


def graphemes(text: str) -> Iterator[str]:
    """``text`` in user-perceived characters: a base character with the marks that follow it
    (a decomposed "ệ" is three code points, one character), joiners and variation selectors."""
    cluster = ""
    joined = False
    for ch in text:
        mark = unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me") or "\ufe00" <= ch <= "\ufe0f"
        if cluster and (mark or joined or ch == "\u200d"):
            cluster += ch
        else:
            if cluster:
                yield cluster
            cluster = ch
        joined = ch == "\u200d"
    if cluster:
        yield cluster


def fit_text(text: str, width: int) -> str:
    """``text`` whole if it fits in ``width`` cells, else cut at a character boundary with "…"."""
    if cell_len(text) <= width:
        return text
    out, used = "", 0
    for g in graphemes(text):
        size = cell_len(g)
        if used + size > width - 1:
            break
        out, used = out + g, used + size
    return out.rstrip() + "…" if width > 0 else ""


@dataclass(frozen=True)
class Col:
    """A column to fit: at least ``least`` cells, growing up to ``most`` when there is room; an
    ``optional`` column is shown whole (``most``) or not at all."""

    key: str
    least: int
    most: int | None = None
    optional: bool = False

    @property
    def widest(self) -> int:
        return max(self.least, self.most or 0)


PADDING = 2  # a DataTable cell's padding, one cell each side


def fit_columns(columns: Sequence[Col], room: int, grow: Sequence[str]) -> dict[str, int]:
    """Widths for ``columns`` in ``room`` cells, in display order: each column at its least, then
    the spare cells handed out in the order of ``grow`` (a column to its widest, an optional one
    added whole if it fits). Columns that do not fit at their least still get it (the table
    scrolls), and an optional one left out is absent from the result."""
    widths = {c.key: c.least for c in columns if not c.optional}
    spare = room - sum(w + PADDING for w in widths.values())
    by_key = {c.key: c for c in columns}
    for key in grow:
        col = by_key[key]
        if col.optional:
            if key not in widths and spare >= col.widest + PADDING:
                widths[key] = col.widest
                spare -= col.widest + PADDING
        elif spare > 0:
            more = min(spare, col.widest - widths[key])
            widths[key] += more
            spare -= more
    return {c.key: widths[c.key] for c in columns if c.key in widths}


def cursor_row(table: DataTable[Any]) -> str | None:
    """The key of the row under ``table``'s cursor; None for an empty table or no row there."""
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except CellDoesNotExist:  # no row under the cursor
        return None


def update_row(table: DataTable[Any], row: str, columns: Iterable[str], cells: Iterable[object]) -> None:
    """Update only the cells of ``row`` that differ from what ``table`` holds: ``cells`` in the
    order of ``columns`` (column keys)."""
    for column, cell in zip(columns, cells, strict=True):
        if table.get_cell(row, column) != cell:
            table.update_cell(row, column, cell)


class Banner(Static):
    """The unmistakable "as of …" banner: shown (docked, reversed colours, with ⏪ and words) only
    while the console shows the past."""

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        app = cast("OpscentreApp", self.app)
        wanted = app.feed.as_of
        if state.as_of is None and wanted is None:
            self.display = False
            return
        self.display = True
        if state.as_of is not None and (wanted is None or wanted == state.as_of):
            key = app.key_for("travel.live")
            self.update(app.t("banner.as_of", time=fmt_time(state.as_of, app.lang, seconds=False), key=key))
        else:
            self.update(app.t("banner.loading", time=fmt_time(wanted, app.lang, seconds=False)))


class StatusBar(Static):
    """Connection state, who we are, data age, pause; updated each batch and every second."""

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        app = cast("OpscentreApp", self.app)
        c = state.connection
        parts: list[str] = []
        if state.paused:
            parts.append(app.t("status.paused"))
        if c.refused:
            parts.append(app.t("status.refused", reason=c.refused))
        elif c.connected:
            parts.append(app.t("status.live") if state.live else "⏪")
        elif c.retry_in is not None:
            parts.append(app.t("status.reconnecting", seconds=app.fmt_number(c.retry_in, 0)))
        else:
            parts.append(app.t("status.connecting"))
        if c.stale_since is not None and not c.connected and c.ever_connected:
            parts.append(app.t("status.stale", time=fmt_time(c.stale_since, app.lang)))
        if c.user:
            parts.append(app.t("status.user", user=c.user, role=c.role.value if c.role else "?"))
        if c.last_change_at is not None and state.live:
            parts.append(app.t("status.age", age=fmt_age(datetime.now(UTC) - c.last_change_at, app.lang)))
        parts.append(app.t("status.seq", seq=c.seq))
        self.update(" · ".join(parts))
        self.set_class(not c.connected, "-disconnected")
        self.set_class(state.paused, "-paused")


class KeyedTable(DataTable[Any]):
    """A DataTable whose ``update_cell`` re-renders only that cell and its row.

    Textual's DataTable keys every render cache by a table-wide update counter, so one changed cell
    re-renders every visible cell (a 160×48 table: ~500 cells, 100+ ms). Here an update drops
    only the cached renders of the cells it changed (and of their rows' lines); the rest stay
    cached. It relies on the DataTable's caches as Textual 8 has them, and falls back to the
    plain behaviour when they are not there."""

    _CACHES = ("_cell_render_cache", "_row_render_cache", "_row_renderable_cache", "_line_cache", "_data")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stale: set[tuple[RowKey, ColumnKey]] = set()
        self._keyed = all(hasattr(self, name) for name in self._CACHES)

    def update_cell(
        self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *, update_width: bool = False
    ) -> None:
        if update_width or not self._keyed:
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        row = RowKey(row_key) if isinstance(row_key, str) else row_key
        column = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if row not in self._row_locations or column not in self._column_locations:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        self._data[row][column] = value
        self._stale.add((row, column))
        self.refresh()

    def _forget_stale(self) -> None:
        """Drop the cached renders of the changed cells (once per frame, before drawing)."""
        stale, self._stale = self._stale, set()
        rows = {r for r, _ in stale}
        indexes = {self._row_locations.get(r) for r in rows}
        cells = self._cell_render_cache
        for cell_key in [k for k in cells.keys() if (k[0], k[1]) in stale]:
            cells.discard(cell_key)
        lines = self._row_render_cache
        for line_key in [k for k in lines.keys() if k[0] in rows]:
            lines.discard(line_key)
        renderables = self._row_renderable_cache
        for renderable_key in [k for k in renderables.keys() if k[1] in indexes]:
            renderables.discard(renderable_key)
        self._line_cache.clear()  # keyed by screen line: cheap to rebuild from the rows' renders

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._stale:
            self._forget_stale()
        return super().render_lines(crop)
