"""The console's views. Each is a ``View`` (a container widget) living in a tab of the app;
see ``console/app.py`` for how to add one."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.binding import Binding, BindingsMap
from textual.containers import Vertical
from textual.widgets import DataTable

from console.i18n import t
from console.keys import KEYS
from console.state import Changed, ConsoleState, SeriesKey

if TYPE_CHECKING:
    from console.app import OpscentreApp


def bindings_for(scope: str, lang: str) -> list[Binding]:
    """The bindings of one scope (console/keys.py), labelled in ``lang``, each with its stable id."""
    return [Binding(k.key, k.action, t(k.label, lang), show=k.show, id=k.id) for k in KEYS if k.scope == scope]


Words = dict[str, dict[str, str]]  # a view's own wording: {"vi": {label: text}, "en": {...}}


def word_in(words: Words, label: str, lang: str, /, **values: object) -> str:
    """``label`` in ``lang`` from ``words`` (the label itself if missing), with ``values`` filled in."""
    text = words["en" if lang == "en" else "vi"].get(label, label)
    return text.format(**values) if values else text


class View(Vertical):
    """A view: ``update_from(state, changed)`` is called inside the app's ``batch_update`` while
    the view is visible, with everything that changed since it was last updated (hidden views
    are updated when shown). ``Changed.all()`` after a snapshot, a language toggle or a time jump.

    ``binding_scopes``: the scopes of console/keys.py whose keys this view holds (labelled in the
    app's language, remappable by id)."""

    view_id: ClassVar[str] = ""  # the tab id: "overview", "indicators", ...
    title_key: ClassVar[str] = ""  # i18n key of the tab's label
    binding_scopes: ClassVar[tuple[str, ...]] = ()

    words: ClassVar[Words] = {"vi": {}, "en": {}}  # the view's own wording, for ``w``

    @property
    def opscentre(self) -> OpscentreApp:
        return cast("OpscentreApp", self.app)

    @property
    def lang(self) -> str:
        return self.opscentre.lang

    def w(self, label: str, /, **values: object) -> str:
        return word_in(self.words, label, self.lang, **values)

    def set_columns(self, table: DataTable[object], columns: tuple[tuple[str, int], ...]) -> None:
        """Replace ``table``'s columns: fixed widths, headers from ``col.<key>`` in the view's words."""
        table.clear(columns=True)
        for key, width in columns:
            table.add_column(self.w(f"col.{key}"), key=key, width=width)

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

    def series_on_screen(self) -> list[SeriesKey]:
        """The series whose sparklines and changes are on screen now (the app asks the feed for
        their history first)."""
        return []
