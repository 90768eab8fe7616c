"""Screen 5, Collectors (engineer C replaces this placeholder)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from console.state import Changed, ConsoleState
from console.views import View


class CollectorsView(View):
    view_id = "collectors"
    title_key = "view.collectors"

    def compose(self) -> ComposeResult:
        yield Static(id="collectors-placeholder")

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        self.query_one("#collectors-placeholder", Static).update(
            f"{self.opscentre.t('view.collectors')}: {len(state.sources)} {self.opscentre.t('placeholder')}"
        )
