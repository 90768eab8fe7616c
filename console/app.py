"""The operators' console: ``OpscentreApp``, a Textual app that is a feed client like any other.

Structure (widget ids are stable: tests and snapshots use them)::

    #banner       Banner     the "as of …" time-travel banner (hidden while live)
    #tabs         TabbedContent, one TabPane per view; pane ids = view ids:
      #overview     OverviewView    (console/views/overview.py)
      #indicators   IndicatorsView  (console/views/indicators.py)   #indicators-filter, #indicators-table,
                                                                     #indicators-categories, #indicators-info
      #provinces    ProvincesView   (console/views/provinces.py)    #provinces-table, #provinces-title
      #alerts       AlertsView      (console/views/alerts.py)
      #collectors   CollectorsView  (console/views/collectors.py)
      #drilldown    DrilldownView   (console/views/drilldown.py)
    #status       StatusBar  connection, user, data age, pause marker, seq
    Footer

    Each view widget has the id ``<view id>-view`` (``#overview-view`` …).

Data flow: ``FeedClient`` (console/client.py, one worker) posts a ``FeedEvent`` for each thing the
feed says (a snapshot, a delta, …). The app queues them and, every ``BATCH_SECONDS`` (250 ms),
applies the queue to ``self.state`` (console/state.py), then — inside one ``batch_update()`` — calls
``update_from(state, changed)`` on the visible view only; hidden views collect their ``Changed``
and are updated when shown. While paused, the state still follows the feed but no view is
redrawn.

To add a view: subclass ``console.views.View`` with ``view_id`` and ``title_key`` (a label in
console/i18n.py), implement ``compose`` and ``update_from`` (update rows by key, cells by column
key; never rebuild a table on a delta), and add the class to ``VIEWS`` below. A view with
sparklines or changes names the series it shows in ``series_on_screen``: the app asks the feed for
their history (``want_history``) first, after each batch and each second. Column widths are fitted
to the view's width (``console.widgets.fit_columns``, ``fit_text``), again on a resize. Its keys go in
console/keys.py with an id (scope = the view), so users can remap them.

What views use from the app: ``app.state`` (read only), ``app.feed`` (``send_query``,
``send_command``), ``app.lang`` ("vi"/"en"), ``app.t(key, **values)``,
``app.fmt_number(value, decimals)``, ``app.fmt_change(delta, decimals)``, ``app.role``
(``feed.protocol.Role`` or None before the welcome), ``app.may(Role.ADMIN)``, ``app.name_of(code)``
for an indicator's name in the current language, ``app.drilldown(key)`` to open a series.
"""

from __future__ import annotations

import asyncio
import calendar
import gc
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, TabbedContent, TabPane

from console import numbers
from console.client import PACE, FeedClient, FeedError, FeedEvent, FeedRefused, FeedUnavailable
from console.i18n import pick, t
from console.keys import KEYS, KeySpec
from console.login import LoginScreen
from console.state import (
    NATION,
    SPARK_POINTS,
    Backfill,
    Changed,
    ConsoleState,
    Disconnected,
    SeriesKey,
    StateInput,
    period_end,
)
from console.views import View, bindings_for
from console.views.alerts import AlertsView
from console.views.collectors import CollectorsView
from console.views.drilldown import DrilldownView
from console.views.indicators import IndicatorsView
from console.views.overview import OverviewView
from console.views.provinces import ProvincesView
from console.widgets import Banner, StatusBar
from feed.protocol import (
    CatalogueData,
    CatalogueQuery,
    HistoryData,
    HistoryQuery,
    Role,
    Snapshot,
    SourcesData,
    SourcesQuery,
    Welcome,
)

VIEWS: tuple[type[View], ...] = (OverviewView, IndicatorsView, ProvincesView, AlertsView, CollectorsView, DrilldownView)


def parse_moment(text: str) -> datetime:
    """A typed moment: ``2025-03-01`` (the end of that day) or ``2025-03-01 14:00``; without a
    zone it is Vietnam time (UTC+7), as the console shows times."""
    raw = text.strip().replace("T", " ")
    if not raw:
        raise ValueError("empty")
    moment = datetime.fromisoformat(raw)
    if len(raw) == 10:
        moment = moment.replace(hour=23, minute=59, second=59)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=numbers.CENTRE_TZ)
    return moment.astimezone(UTC)


def step(moment: datetime, n: int, unit: str) -> datetime:
    """``moment`` moved by ``n`` days or calendar months (the day clamped to the month's end)."""
    if unit == "day":
        return moment + timedelta(days=n)
    month0 = moment.month - 1 + n
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class TravelDialog(ModalScreen[datetime | None]):
    """Pick a past moment (typed); Esc cancels."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Esc", show=False)]

    def __init__(self, lang: str, initial: datetime | None) -> None:
        super().__init__(id="travel-dialog")
        self.lang = lang
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(id="travel-box"):
            yield Label(t("travel.title", self.lang), id="travel-title")
            value = numbers.fmt_time(self.initial, seconds=False) if self.initial else ""
            yield Input(value=value, placeholder="2025-03-01 14:00", id="travel-input")
            yield Label(t("travel.hint", self.lang), id="travel-hint")

    @on(Input.Submitted, "#travel-input")
    def submitted(self, event: Input.Submitted) -> None:
        try:
            moment = parse_moment(event.value)
        except ValueError as exc:
            self.query_one("#travel-hint", Label).update(t("travel.bad", self.lang, text=event.value, why=exc))
            return
        if moment > datetime.now(UTC):
            self.query_one("#travel-hint", Label).update(t("travel.future", self.lang))
            return
        self.dismiss(moment)

    def action_cancel(self) -> None:
        self.dismiss(None)


class OpscentreApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "opscentre"
    BATCH_SECONDS = 0.25
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        lang: str = "vi",
        keys: Mapping[str, str] | None = None,
        ssl_context: Any = None,
        backoff: tuple[float, float] = (1.0, 30.0),
        pace: tuple[float, float] = PACE,
        login: bool = False,
    ) -> None:
        """``login``: no token given; open on the login screen and connect with the token typed
        there (the console served in a browser, console/login.py)."""
        super().__init__()
        self.lang = lang if lang in ("vi", "en") else "vi"
        self.state = ConsoleState()
        self.feed = FeedClient(self, url, token, ssl_context=ssl_context, backoff=backoff, pace=pace)
        self._inbox: list[StateInput] = []
        self._dirty: dict[str, Changed] = {v.view_id: Changed.all() for v in VIEWS}
        self._keys = dict(keys or {})
        self._bindings = BindingsMap(bindings_for("app", self.lang))
        self.batches = 0  # batches applied (tests, bench)
        self._frozen = False
        self._history_asked: set[SeriesKey] = set()
        self._history_queue: deque[SeriesKey] = deque()
        self._history_as_of: datetime | None = None
        self._backfilling = False
        self._login = LoginScreen(self.lang) if login else None

    # --- helpers for views ------------------------------------------------------------------

    def t(self, key: str, /, **values: object) -> str:
        return t(key, self.lang, **values)

    def fmt_number(self, value: float | None, decimals: int = 1) -> str:
        return numbers.fmt_number(value, decimals, self.lang)

    def fmt_change(self, delta: float | None, decimals: int = 1) -> str:
        return numbers.fmt_change(delta, decimals, self.lang)

    @property
    def role(self) -> Role | None:
        return self.state.connection.role

    def may(self, needed: Role) -> bool:
        return self.role is not None and self.role.may(needed)

    def name_of(self, indicator: str) -> str:
        info = self.state.catalogue.indicators.get(indicator)
        return indicator if info is None else pick(info.name_vi, info.name_en, self.lang)

    def unit_of(self, indicator: str) -> str:
        info = self.state.catalogue.indicators.get(indicator)
        return "" if info is None else pick(info.unit_vi, info.unit_en, self.lang)

    def key_for(self, binding_id: str) -> str:
        """The key a binding is on now (after the configuration's overrides), for display."""
        spec = next((k for k in KEYS if k.id == binding_id), None)
        key = self._keys.get(binding_id) or (spec.key if spec else "?")
        return self.get_key_display(Binding(key.split(",")[0], ""))

    # --- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        with TabbedContent(id="tabs", initial="overview"):
            for view in VIEWS:
                with TabPane(self.t(view.title_key), id=view.view_id):
                    yield view(id=f"{view.view_id}-view")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        if self._keys:
            self.set_keymap(self._keys)
        self.query_one(Banner).display = False
        if self._login is not None:
            self.push_screen(self._login)
        else:
            self._connect()
        self.set_interval(self.BATCH_SECONDS, self.flush)
        self.set_interval(1.0, self._tick)
        self._deliver(Changed.all())

    def _connect(self) -> None:
        self.run_worker(self.feed.run(), name="feed", group="feed", exclusive=True, exit_on_error=False)

    def log_in(self, token: str) -> None:
        """Connect with the token typed on the login screen (another try replaces the last)."""
        self.feed.use_token(token)
        self._connect()

    def views(self) -> Iterable[View]:
        return self.query(View)

    def visible_view(self) -> View | None:
        active = self.query_one("#tabs", TabbedContent).active
        return self.query_one(f"#{active}-view", View) if active else None

    # --- feed messages: queued, applied in batches -------------------------------------------

    def on_feed_event(self, message: FeedEvent) -> None:
        self._inbox.append(message.body)
        if isinstance(message.body, Welcome):  # connected: the catalogue and sources anew
            self._load_reference()
        if self._login is not None:  # logging in: the feed's answer to the token typed
            if isinstance(message.body, Welcome):
                self._login.dismiss()
                self._login = None
                self.call_after_refresh(self._tab_shown)  # the overview takes the focus
            elif isinstance(message.body, Disconnected):
                self._login.ended(message.body)

    def on_feed_error(self, message: FeedError) -> None:
        if message.body.id is None:  # answers to requests are their caller's business
            self.notify(message.body.message, severity="warning")

    @work(group="reference", exclusive=True, exit_on_error=False)
    async def _load_reference(self) -> None:
        """The catalogue and the sources' states, after each (re)connection."""
        for query in (CatalogueQuery(), SourcesQuery()):
            try:
                result = await self.feed.send_query(query)
            except (FeedUnavailable, FeedRefused, TimeoutError):
                continue
            if isinstance(result.data, CatalogueData | SourcesData):
                self._inbox.append(result.data)

    def want_history(self, keys: Iterable[SeriesKey]) -> None:
        """Ask the feed for the earlier figures of ``keys`` (a snapshot or a delta carries only a
        series' newest), for their sparklines and changes; as known at ``as_of`` in time travel.
        Each series is asked once per moment shown, in the order asked: views ask for the series
        on screen first (``View.series_on_screen``)."""
        if self.state.as_of != self._history_as_of:  # another moment: its history is asked anew
            self._history_as_of = self.state.as_of
            self._history_asked.clear()
            self._history_queue.clear()
        for key in keys:
            if key not in self._history_asked and key in self.state.series:
                self._history_asked.add(key)
                self._history_queue.append(key)
        if self._history_queue and not self._backfilling:
            self._backfilling = True
            self._backfill()

    @work(group="backfill", exit_on_error=False)
    async def _backfill(self) -> None:
        """Drains the queue of ``want_history``, a few queries at a time (the client paces them)."""
        try:
            while self._history_queue:
                batch = [self._history_queue.popleft() for _ in range(min(4, len(self._history_queue)))]
                await asyncio.gather(*(self._history_of(k, self.state.as_of) for k in batch))
        finally:
            self._backfilling = False

    async def _history_of(self, key: SeriesKey, as_of: datetime | None) -> None:
        since = None
        info = self.state.catalogue.indicators.get(key[0])
        series = self.state.series.get(key)
        end = period_end(series.latest.period) if series is not None else None
        if info is not None and info.frequency == "live" and end is not None:
            # a counter reads every few seconds: the last hour is plenty for a sparkline
            since = (end - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = HistoryQuery(indicator=key[0], area=key[1], source=key[2], as_of=as_of, since=since)
        try:
            result = await self.feed.send_query(query)
        except (FeedUnavailable, FeedRefused, TimeoutError):
            self._history_asked.discard(key)  # asked again when next on screen
            return
        if isinstance(result.data, HistoryData) and self.state.as_of == as_of:
            points = tuple((o.period, o.value) for o in result.data.observations[-SPARK_POINTS:])
            self._inbox.append(Backfill(key, points))

    def post_state(self, item: StateInput) -> None:
        """Queue something for the state (e.g. a query's answer): applied with the next batch."""
        self._inbox.append(item)

    def flush(self) -> None:
        """Apply the queued messages and redraw what changed: one batch."""
        if not self._inbox:
            return
        inbox, self._inbox = self._inbox, []
        changed = Changed()
        for item in inbox:
            changed.update(self.state.apply(item))
        self.batches += 1
        self._deliver(changed)
        if any(isinstance(item, Snapshot | CatalogueData) for item in inbox) and self.state.catalogue.indicators:
            # then every national series (the overview's, the indicators' sort by change), after those on screen
            self.want_history(k for k in self.state.series if k[1] == NATION)
        if not self._frozen and self.state.snapshots and self.state.catalogue.indicators:
            # Everything alive now (Textual, the widgets, the catalogue, the first snapshot) lives as
            # long as the console: out of the collector's sight, a full collection scans only what
            # came since, instead of pausing the loop for 100+ ms every few seconds under load.
            self._frozen = True
            gc.freeze()

    def _deliver(self, changed: Changed) -> None:
        if not changed or not self.is_running:  # closing: the timers outlive the widgets a moment
            return
        for pending in self._dirty.values():
            pending.update(changed)
        view = None if self.state.paused else self.visible_view()
        with self.batch_update():
            self.query_one(StatusBar).update_from(self.state, changed)
            self.query_one(Banner).update_from(self.state, changed)
            if view is not None:
                pending = self._dirty.pop(view.view_id, Changed())
                self._dirty[view.view_id] = Changed()
                view.update_from(self.state, pending)
        if view is not None and self.state.catalogue.indicators:
            self.want_history(view.series_on_screen())  # the series just drawn, before any other

    def _tick(self) -> None:
        """Ages move on without messages: the status bar every second; rows scrolled into view get
        their history."""
        if self.is_running:
            self.query_one(StatusBar).update_from(self.state, Changed(connection=True))
            view = self.visible_view()
            if view is not None and not self.state.paused and self.state.catalogue.indicators:
                self.want_history(view.series_on_screen())

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_shown(self, event: TabbedContent.TabActivated | None = None) -> None:
        view = self.visible_view()
        if view is not None:
            view.focus_default()
        self._deliver(Changed(mode=True))

    # --- actions -------------------------------------------------------------------------------

    def action_show_view(self, view_id: str) -> None:
        self.query_one("#tabs", TabbedContent).active = view_id

    def action_drilldown(self) -> None:
        view = self.query_one(DrilldownView)
        if view.key is not None:
            self.action_show_view("drilldown")

    def drilldown(self, key: SeriesKey) -> None:
        """Open the drill-down of a series (Enter on a figure)."""
        self.query_one(DrilldownView).show(key)
        self.action_show_view("drilldown")

    def action_toggle_pause(self) -> None:
        self.state.paused = not self.state.paused
        self._deliver(Changed(mode=True, connection=True))

    def action_toggle_language(self) -> None:
        self.lang = "en" if self.lang == "vi" else "vi"
        self._bindings = BindingsMap(bindings_for("app", self.lang))
        tabs = self.query_one("#tabs", TabbedContent)
        for view in VIEWS:
            tabs.get_tab(view.view_id).label = self.t(view.title_key)
        for node in self.views():
            node.refresh_bindings_for(self.lang)
        self.refresh_bindings()
        for pending in self._dirty.values():
            pending.update(Changed.all())
        self._deliver(Changed.all())

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_reconnect(self) -> None:
        self.feed.reconnect_now()

    def action_travel_pick(self) -> None:
        def chosen(moment: datetime | None) -> None:
            if moment is not None:
                self.travel(moment)

        self.push_screen(TravelDialog(self.lang, self.feed.as_of), chosen)

    def action_travel_step(self, n: int, unit: str) -> None:
        base = self.feed.as_of or datetime.now(UTC)
        moment = step(base, n, unit)
        if moment >= datetime.now(UTC):
            self.travel(None)
        else:
            self.travel(moment)

    def action_travel_live(self) -> None:
        self.travel(None)

    def travel(self, moment: datetime | None) -> None:
        """Show the centre as known at ``moment`` (None: live). The snapshot that answers replaces
        the state; until it comes the banner says it is loading."""
        self.run_worker(self.feed.subscribe(moment), group="travel", exclusive=True, exit_on_error=False)
        self._deliver(Changed(mode=True))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the console in the command palette (Ctrl+P), in the current language."""
        yield from super().get_system_commands(screen)
        for spec in KEYS:
            yield SystemCommand(self.t(spec.label), f"{spec.id} [{self.key_for(spec.id)}]", self._runner(spec))

    def _runner(self, spec: KeySpec) -> Any:
        async def run() -> None:
            if spec.scope == "app":
                await self.run_action(spec.action)
                return
            # A view's action: show the view that holds it, then run it there.
            view = next((v for v in self.views() if spec.scope in v.binding_scopes), None)
            if view is not None:
                self.action_show_view(view.view_id)
                await self.run_action(spec.action, view)

        return run
