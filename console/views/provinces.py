"""Screen 3, Provinces (filled in after the skeleton)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.state import Changed, ConsoleState
from console.views import View


class ProvincesView(View):
    view_id = "provinces"
    title_key = "view.provinces"
    binding_scopes = ("provinces",)

    def compose(self) -> ComposeResult:
        yield Static(id="provinces-title")
        yield DataTable(id="provinces-table", cursor_type="row")

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        pass
