"""Screen 4, Alerts: live, newest first; acknowledge with a note; filter by state and severity; a
terminal bell on a new critical alert.

Each alert reads as the server words it: the one catalogue (wording/alerts.py) renders its rule and
params in the console's language (console/views/alert_texts.py). Severity and state show as a
symbol and a word as well as a colour; the technical ``detail`` (an error's text) only on demand.

Keys (console/keys.py, scope ``alerts``; remappable by id): ``a`` acknowledge the selected alert
with a note [alerts.acknowledge] (operator and admin: greyed out in the footer for a display
console, and the server refuses it anyway); ``f`` cycle the state filter [alerts.state];
``v`` cycle the severity filter [alerts.severity]; ``d`` show or hide the technical detail
[alerts.detail]; ``m`` mute or unmute the bell [alerts.mute]; ``h`` hide or show the muted alerts
[alerts.muted]; ``n`` show or hide the active silences [alerts.silences]; ``x`` silence the selected
alert's rule and subject for a duration with a reason [alerts.silence] and ``e`` end the silence
selected in the list [alerts.unsilence] (admin: greyed out for other roles; the server decides).

Muted alerts (``inhibited_by`` a firing alert, ``silenced_by`` a silence) keep their state; they are
marked in their own column, explained in the panel below (which alert, or which silence, whose,
until when, why) and never ring the bell. The silences come from the ``silences`` query, asked
again when an alert is muted by one this console does not know or unmuted, and every 30 s.

The bell (``App.bell``) rings for a critical alert this console has not seen firing before, while
live, whether or not this view is on screen: the view checks ``app.state.alerts`` on a light
timer of its own (the app updates only the visible view). The alerts of the first snapshot do not
ring; the mute state shows in the view's bar and survives a language toggle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.client import FeedRefused, FeedUnavailable
from console.numbers import fmt_time
from console.state import Changed, ConsoleState
from console.views import View
from console.views.alert_dialogs import AckDialog, SilenceDialog
from console.views.alert_texts import (
    ACKABLE,
    HISTORY,
    SEVERITY_FILTERS,
    STATE_FILTERS,
    WORDS,
    alert_panel,
    headline,
    match_text,
    muted,
    muted_text,
    newest_first,
    severity_text,
    shown,
    state_text,
)  # fmt: skip
from console.widgets import cursor_row, update_row
from feed.protocol import (
    AcknowledgeCommand,
    Acknowledged,
    AlertInfo,
    AlertsData,
    AlertsQuery,
    Role,
    SilenceCommand,
    Silenced,
    SilenceInfo,
    SilenceMatch,
    SilencesData,
    SilencesQuery,
    UnsilenceCommand,
    Unsilenced,
)


class AlertsView(View):
    view_id = "alerts"
    title_key = "view.alerts"
    binding_scopes = ("alerts",)
    words = WORDS

    DEFAULT_CSS = """
    AlertsView #alerts-bar { height: 1; padding: 0 1; }
    AlertsView #alerts-table { height: 1fr; }
    AlertsView #alerts-info { height: auto; max-height: 9; padding: 0 1; border-top: solid $accent; }
    AlertsView #alerts-notice { height: auto; padding: 0 1; }
    AlertsView #silences-title { height: auto; padding: 0 1; text-style: bold; border-top: solid $accent; }
    AlertsView #silences-table { height: auto; max-height: 8; }
    SilenceDialog { align: center middle; }
    SilenceDialog #silence-box { width: 80; max-width: 100%; height: auto; border: thick $accent; padding: 1 2; background: $surface; }
    SilenceDialog #silence-title { text-style: bold; }
    AckDialog { align: center middle; }
    AckDialog #ack-box { width: 70; max-width: 100%; height: auto; border: thick $accent; padding: 1 2; background: $surface; }
    AckDialog #ack-title { text-style: bold; }
    """

    COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = (
        ("severity", 15),
        ("state", 14),
        ("muted", 12),
        ("time", 11),
        ("alert", 100),  # the last: cut on a narrow screen; the panel below shows it whole
    )
    SILENCE_COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = (
        ("sid", 4),
        ("match", 34),
        ("by", 14),
        ("until", 11),
        ("why", 60),
    )
    BELL_SECONDS = 0.25
    SILENCES_SECONDS = 30.0  # the silences asked again while shown (another admin's expire or change)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state_filter = "open"
        self.severity_filter = "all"
        self.muted = False
        self.show_detail = False
        self.notice: Text | None = None  # the last acknowledgement's outcome (a refusal stays visible)
        self.bells = 0  # rung so far (tests; also shown nowhere else)
        self._rows: set[int] = set()
        self._seen_critical: set[int] | None = None  # None until the first snapshot
        self._asked_history = False
        self.hide_muted = False
        self.show_silences = False
        self.silences: dict[int, SilenceInfo] = {}  # the active ones, by id (from the ``silences`` query)
        self._silenced: dict[int, int | None] = {}  # alert id → the silence it was last seen muted by

    def compose(self) -> ComposeResult:
        yield Static(id="alerts-bar")
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="alerts-notice")
        yield Static(id="alerts-info")
        yield Static(id="silences-title")
        yield DataTable(id="silences-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._columns()
        self.set_columns(self.query_one("#silences-table", DataTable), self.SILENCE_COLUMNS)
        self._silences_shown()
        self.set_interval(self.BELL_SECONDS, self.check_bell)
        self.set_interval(self.SILENCES_SECONDS, self._refresh_silences)

    def on_show(self) -> None:
        self.query_one("#alerts-table", DataTable).focus()  # the view's keys work at once

    def _columns(self) -> None:
        self.set_columns(self.query_one("#alerts-table", DataTable), self.COLUMNS)
        self._rows.clear()

    # --- the bell: checked on a timer, visible or not ------------------------------------------

    def check_bell(self) -> None:
        state = self.opscentre.state
        if state.snapshots == 0 or not state.live:
            return  # nothing yet, or the past: nothing is new
        critical = {
            a.id for a in state.alerts.values() if a.severity == "critical" and a.state == "firing" and not muted(a)
        }
        if self._seen_critical is None:  # the first snapshot: what is already firing is not news
            self._seen_critical = critical
            return
        new = critical - self._seen_critical
        self._seen_critical |= new
        if new and not self.muted:
            self.bells += 1
            self.app.bell()

    # --- drawing --------------------------------------------------------------------------------

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        table = self.query_one("#alerts-table", DataTable)
        if changed.everything or changed.mode:
            if changed.mode:  # the language may have changed: labels and every headline
                self._columns()
                self.set_columns(self.query_one("#silences-table", DataTable), self.SILENCE_COLUMNS)
                self._draw_silences()
            self._rebuild(state, table)
            self._watch_silences(state, list(state.alerts))
        elif changed.alerts:
            self._watch_silences(state, changed.alerts)
            structural = False  # a row to add or remove: rare, so the table is rebuilt in order
            for alert_id in changed.alerts:
                alert = state.alerts.get(alert_id)
                wanted = alert is not None and shown(alert, self.state_filter, self.severity_filter, self.hide_muted)
                if wanted != (alert_id in self._rows):
                    structural = True
                elif wanted and alert is not None:
                    update_row(
                        table, str(alert.id), (c for c, _ in self.COLUMNS), self._cells(alert)
                    )  # its changed cells
            if structural:
                self._rebuild(state, table)
        self._bar(state)
        self._info(state)

    def _cells(self, alert: AlertInfo) -> tuple[Text, Text, Text, str, Text]:
        moment = alert.fired_at or alert.opened_at
        return (
            severity_text(alert.severity, self.lang),
            state_text(alert.state, self.lang),
            muted_text(alert, self.lang),
            fmt_time(moment, self.lang, seconds=False)[5:],  # "11-23 12:05": the year is rarely news
            # Text, not str: a table reads a str as markup, and "[mof]" would vanish as a tag.
            Text(headline(alert, self.lang, self.opscentre.state.catalogue.names)),
        )

    def _rebuild(self, state: ConsoleState, table: DataTable[object]) -> None:
        selected = self.selected_id()
        table.clear()
        self._rows.clear()
        alerts = sorted(
            (a for a in state.alerts.values() if shown(a, self.state_filter, self.severity_filter, self.hide_muted)),
            key=newest_first,
        )
        for alert in alerts:
            table.add_row(*self._cells(alert), key=str(alert.id))
            self._rows.add(alert.id)
        if selected in self._rows:
            table.move_cursor(row=table.get_row_index(str(selected)), animate=False)

    def selected_id(self) -> int | None:
        key = cursor_row(self.query_one("#alerts-table", DataTable))
        return None if key is None else int(key)

    def selected(self) -> AlertInfo | None:
        alert_id = self.selected_id()
        return None if alert_id is None else self.opscentre.state.alerts.get(alert_id)

    def _bar(self, state: ConsoleState) -> None:
        bar = Text()
        # The count first: on a narrow terminal the bar is cut at its end, never the count.
        bar.append(self.w("count", shown=len(self._rows), total=len(state.alerts)) + "  ", style="dim")
        bar.append(f"{self.w('filter.state')}: ", style="bold")
        chosen = self.state_filter
        bar.append(
            f"[{self.w(chosen) if chosen in ('open', 'all') else state_text(chosen, self.lang).plain[2:]}]",
            style="reverse",
        )
        bar.append(f" ({self.opscentre.key_for('alerts.state')})  ")
        bar.append(f"{self.w('filter.severity')}: ", style="bold")
        sev = self.severity_filter
        bar.append(f"[{self.w(sev) if sev == 'all' else severity_text(sev, self.lang).plain}]", style="reverse")
        bar.append(f" ({self.opscentre.key_for('alerts.severity')})  ")
        bar.append(self.w("bell.off") if self.muted else self.w("bell.on"), style="bold red" if self.muted else "")
        bar.append(f" ({self.opscentre.key_for('alerts.mute')})  ")
        bar.append(f"{self.w('filter.muted')}: ", style="bold")
        bar.append(f"[{self.w('muted.hidden' if self.hide_muted else 'muted.shown')}]", style="reverse")
        bar.append(f" ({self.opscentre.key_for('alerts.muted')})")
        self.query_one("#alerts-bar", Static).update(bar)

    def _info(self, state: ConsoleState) -> None:
        """The selected alert in full: its wording, who acknowledged it and why; the technical
        detail only on demand."""
        notice = self.query_one("#alerts-notice", Static)
        notice.update(self.notice or "")
        notice.display = self.notice is not None
        info = self.query_one("#alerts-info", Static)
        alert = self.selected()
        if alert is None:
            info.update(self.w("none") if not self._rows else "")
            return
        hint = self.w("detail.hint", key=self.opscentre.key_for("alerts.detail"))
        names = self.opscentre.state.catalogue.names
        info.update(alert_panel(alert, state, self.silences, names, self.lang, detail=self.show_detail, hint=hint))

    @on(DataTable.RowHighlighted, "#alerts-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._info(self.opscentre.state)

    # --- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "acknowledge":
            return True if self.opscentre.may(Role.OPERATOR) else None  # None: shown greyed out
        if action in ("silence", "unsilence"):
            return True if self.opscentre.may(Role.ADMIN) else None
        return True

    def _refilter(self) -> None:
        state = self.opscentre.state
        if self.state_filter in ("resolved", "all") and not self._asked_history:
            self._load_closed()
        self._rebuild(state, self.query_one("#alerts-table", DataTable))
        self._bar(state)
        self._info(state)

    def action_cycle_state(self) -> None:
        self.state_filter = STATE_FILTERS[(STATE_FILTERS.index(self.state_filter) + 1) % len(STATE_FILTERS)]
        self._refilter()

    def action_cycle_severity(self) -> None:
        i = SEVERITY_FILTERS.index(self.severity_filter)
        self.severity_filter = SEVERITY_FILTERS[(i + 1) % len(SEVERITY_FILTERS)]
        self._refilter()

    def set_filters(self, state: str | None = None, severity: str | None = None) -> None:
        """Choose the filters directly (the palette, tests)."""
        if state is not None:
            if state not in STATE_FILTERS:
                raise ValueError(f"state filter must be one of {', '.join(STATE_FILTERS)}")
            self.state_filter = state
        if severity is not None:
            if severity not in SEVERITY_FILTERS:
                raise ValueError(f"severity filter must be one of {', '.join(SEVERITY_FILTERS)}")
            self.severity_filter = severity
        self._refilter()

    def action_toggle_detail(self) -> None:
        self.show_detail = not self.show_detail
        self._info(self.opscentre.state)

    def action_toggle_mute(self) -> None:
        self.muted = not self.muted
        self._bar(self.opscentre.state)

    def action_toggle_muted(self) -> None:
        """Hide the muted alerts, or show them all (marked)."""
        self.hide_muted = not self.hide_muted
        self._refilter()

    # --- silences -------------------------------------------------------------------------------

    def action_toggle_silences(self) -> None:
        self.show_silences = not self.show_silences
        self._silences_shown()
        if self.show_silences:
            self._load_silences()
            self.query_one("#silences-table", DataTable).focus()
        else:
            self.query_one("#alerts-table", DataTable).focus()

    def _silences_shown(self) -> None:
        self.query_one("#silences-title", Static).display = self.show_silences
        self.query_one("#silences-table", DataTable).display = self.show_silences
        self._draw_silences()

    def _refresh_silences(self) -> None:
        if self.show_silences or self.silences:
            self._load_silences()

    def _watch_silences(self, state: ConsoleState, alert_ids: Iterable[int]) -> None:
        """Ask for the silences again when an alert is muted by one this console does not know, or
        unmuted (another admin's silence, its end or expiry)."""
        stale = False
        for alert_id in alert_ids:
            alert = state.alerts.get(alert_id)
            now = alert.silenced_by if alert is not None else None
            before = self._silenced.get(alert_id)
            if now != before and ((now is not None and now not in self.silences) or before is not None):
                stale = True
            if now is None:
                self._silenced.pop(alert_id, None)
            else:
                self._silenced[alert_id] = now
        if stale and state.live:
            self._load_silences()

    @work(group="alerts-silences", exclusive=True, exit_on_error=False)
    async def _load_silences(self) -> None:
        try:
            result = await self.opscentre.feed.send_query(SilencesQuery(active_only=True))
        except (FeedUnavailable, FeedRefused, TimeoutError):
            return
        if isinstance(result.data, SilencesData):
            self.silences = {s.id: s for s in result.data.silences}
            self._draw_silences()
            self._info(self.opscentre.state)

    def _draw_silences(self) -> None:
        table = self.query_one("#silences-table", DataTable)
        selected = self.selected_silence()
        table.clear()
        for s in sorted(self.silences.values(), key=lambda s: -s.id):
            until = fmt_time(s.ends_at, self.lang, seconds=False)[5:]
            table.add_row(str(s.id), match_text(s.match), s.created_by, until, s.comment, key=str(s.id))
        if selected is not None and selected in self.silences:
            table.move_cursor(row=table.get_row_index(str(selected)), animate=False)
        title = self.w("silences", n=len(self.silences)) if self.silences else self.w("silences.none")
        self.query_one("#silences-title", Static).update(title)

    def selected_silence(self) -> int | None:
        key = cursor_row(self.query_one("#silences-table", DataTable))
        return None if key is None else int(key)

    def action_silence(self) -> None:
        """Silence the selected alert's rule and subject, for a while, saying why (admins)."""
        alert = self.selected()
        if alert is None:
            return
        if not self.opscentre.may(Role.ADMIN):
            role = self.opscentre.role
            self._say(Text(self.w("silence.role", role=role.value if role else "?"), style="yellow"))
            return
        wording = headline(alert, self.lang, self.opscentre.state.catalogue.names)

        def chosen(answer: tuple[int, str] | None) -> None:
            if answer is not None:
                match = SilenceMatch(rule=alert.rule, subject=alert.subject)
                self._command(SilenceCommand(match=match, duration=answer[0], comment=answer[1]))

        self.app.push_screen(SilenceDialog(alert, self.lang, wording), chosen)

    def action_unsilence(self) -> None:
        """End the silence selected in the silences table (admins)."""
        silence_id = self.selected_silence() if self.show_silences else None
        if silence_id is None:
            self._say(Text(self.w("unsilence.pick", key=self.opscentre.key_for("alerts.silences")), style="yellow"))
            return
        self._command(UnsilenceCommand(silence_id=silence_id))

    @work(group="alerts-silence", exit_on_error=False)
    async def _command(self, command: SilenceCommand | UnsilenceCommand) -> None:
        try:
            result = await (await self.opscentre.feed.send_command(command))
        except FeedRefused as exc:
            self._say(Text(self.w("refused", reason=exc.error.message), style="bold red"))
            return
        except (FeedUnavailable, TimeoutError) as exc:
            self._say(Text(self.w("refused", reason=str(exc)), style="bold red"))
            return
        data = result.data
        if isinstance(data, Silenced):
            self.silences[data.silence.id] = data.silence
            until = fmt_time(data.silence.ends_at, self.lang, seconds=False)
            self._say(Text(self.w("silence.done", id=data.silence.id, until=until, n=len(data.muted)), style="green"))
        elif isinstance(data, Unsilenced):
            self.silences.pop(data.silence.id, None)
            self._say(Text(self.w("unsilence.done", id=data.silence.id), style="green"))
        self._draw_silences()
        self._load_silences()  # the server's list: expiries and other admins' too

    @work(group="alerts-history", exclusive=True, exit_on_error=False)
    async def _load_closed(self) -> None:
        """Closed alerts are not in the snapshot: asked for once a filter shows them."""
        try:
            result = await self.opscentre.feed.send_query(AlertsQuery(open_only=False, limit=HISTORY))
        except (FeedUnavailable, FeedRefused, TimeoutError):
            return
        if isinstance(result.data, AlertsData):
            self._asked_history = True
            self.opscentre.post_state(result.data)

    def action_acknowledge(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        if alert.state not in ACKABLE:
            self._say(Text(self.w("ack.closed", id=alert.id, state=self.w(alert.state)), style="yellow"))
            return
        wording = headline(alert, self.lang, self.opscentre.state.catalogue.names)

        def chosen(note: str | None) -> None:
            if note is not None:
                self.acknowledge(alert.id, note)

        self.app.push_screen(AckDialog(alert, self.lang, wording), chosen)

    @work(group="alerts-ack", exit_on_error=False)
    async def acknowledge(self, alert_id: int, note: str) -> None:
        """Send the acknowledgement (whatever this console's role: the server decides, and a
        refusal is shown here)."""
        try:
            call = await self.opscentre.feed.send_command(AcknowledgeCommand(alert_id=alert_id, note=note))
            result = await call
        except FeedRefused as exc:
            self._say(Text(self.w("ack.refused", reason=exc.error.message), style="bold red"))
            self.app.notify(self.w("ack.refused", reason=exc.error.message), severity="error")
            return
        except (FeedUnavailable, TimeoutError) as exc:
            self._say(Text(self.w("ack.refused", reason=str(exc)), style="bold red"))
            return
        if isinstance(result.data, Acknowledged):
            # Shown at once; the feed's alert message brings the same to every console.
            self.opscentre.post_state(AlertsData(alerts=[result.data.alert]))
        self._say(Text(self.w("ack.done", id=alert_id), style="green"))

    def _say(self, notice: Text) -> None:
        self.notice = notice
        self._info(self.opscentre.state)
