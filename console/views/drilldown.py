"""Screen 6, Drill-down of one series (engineer C replaces this placeholder).

The app calls ``show(key)`` when the user presses Enter on a figure (then switches to this tab),
and ``update_from`` like any view while it is visible."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from console.state import Changed, ConsoleState, SeriesKey
from console.views import View


class DrilldownView(View):
    view_id = "drilldown"
    title_key = "view.drilldown"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.key: SeriesKey | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="drilldown-placeholder")

    def show(self, key: SeriesKey) -> None:
        self.key = key
        self.update_from(self.opscentre.state, Changed.all())

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        text = "—" if self.key is None else " / ".join(self.key)
        self.query_one("#drilldown-placeholder", Static).update(f"{text} {self.opscentre.t('placeholder')}")
