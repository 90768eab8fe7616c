"""Screen 4, Alerts (engineer C replaces this placeholder)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from console.state import Changed, ConsoleState
from console.views import View


class AlertsView(View):
    view_id = "alerts"
    title_key = "view.alerts"

    def compose(self) -> ComposeResult:
        yield Static(id="alerts-placeholder")

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        self.query_one("#alerts-placeholder", Static).update(
            f"{self.opscentre.t('view.alerts')}: {len(state.alerts)} {self.opscentre.t('placeholder')}"
        )
