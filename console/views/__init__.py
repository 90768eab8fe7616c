"""The console's views. Each is a ``View`` (a container widget) living in a tab of the app;
see ``console/app.py`` for how to add one."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.binding import Binding, BindingsMap
from textual.containers import Vertical
from textual.widgets import DataTable

from console.i18n import t
from console.keys import KEYS
from console.state import Changed, ConsoleState

if TYPE_CHECKING:
    from console.app import OpscentreApp


def bindings_for(scope: str, lang: str) -> list[Binding]:
    """The bindings of one scope (console/keys.py), labelled in ``lang``, each with its stable id."""
    return [Binding(k.key, k.action, t(k.label, lang), show=k.show, id=k.id) for k in KEYS if k.scope == scope]


class View(Vertical):
    """A view: ``update_from(state, changed)`` is called inside the app's ``batch_update`` while
    the view is visible, with everything that changed since it was last updated (hidden views
    are updated when shown). ``Changed.all()`` after a snapshot, a language toggle or a time jump.

    ``binding_scopes``: the scopes of console/keys.py whose keys this view holds (labelled in the
    app's language, remappable by id)."""

    view_id: ClassVar[str] = ""  # the tab id: "overview", "indicators", ...
    title_key: ClassVar[str] = ""  # i18n key of the tab's label
    binding_scopes: ClassVar[tuple[str, ...]] = ()

    @property
    def opscentre(self) -> OpscentreApp:
        return cast("OpscentreApp", self.app)

    def on_mount(self) -> None:
        self.refresh_bindings_for(self.opscentre.lang)

    def refresh_bindings_for(self, lang: str) -> None:
        if self.binding_scopes:
            self._bindings = BindingsMap([b for s in self.binding_scopes for b in bindings_for(s, lang)])

    def focus_default(self) -> None:
        """Where the keyboard goes when the view is shown: its first table (override if not)."""
        tables = self.query(DataTable)
        if tables:
            tables.first().focus()

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        """Redraw what ``changed`` names (only that: rows by key, cells by column)."""
