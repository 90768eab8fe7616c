"""Screen 5, Collectors: each source's last run, outcome, latency, error and circuit; manual runs.

The table comes from the ``sources`` query (the app asks it on every connection) and follows the
live ``run`` messages (``app.state`` keeps each source's last run); the circuit breakers' states
are asked again, once, after runs finish. An admin runs the selected source (``r``
[collectors.run_source]), every source of its agency (``g`` [collectors.run_agency]) or all
(``A`` [collectors.run_all]), each after a confirmation dialog; progress (each run started and
finished as it arrives) and the result (the command's ``done`` answer) show below the table.
For operator and display consoles the run keys are greyed out in the footer and the bar says
why; a command sent anyway (``collect`` from code or an old palette entry) is refused by the
server and the refusal is shown.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from console.client import FeedRefused, FeedUnavailable
from console.numbers import fmt_time, to_lang
from console.state import NATION, Changed, ConsoleState
from console.views import View
from console.views.collector_texts import WORDS, circuit_text, one_line, outcome_text, word
from console.widgets import Col, cursor_row, fit_columns, fit_text, update_row
from feed.protocol import (
    CollectAccepted,
    CollectCommand,
    CollectDone,
    Role,
    RunInfo,
    SourcesData,
    SourcesQuery,
    SourceStatus,
)


class ConfirmDialog(ModalScreen[bool]):
    """Yes or no, before anything is run: y / Enter runs, n / Esc cancels."""

    BINDINGS: ClassVar = [
        Binding("y", "answer(True)", show=False),
        Binding("n,escape", "answer(False)", show=False),
    ]

    def __init__(self, question: str, lang: str) -> None:
        super().__init__(id="confirm-dialog")
        self.question = question
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(word("confirm.yes", self.lang), variant="warning", id="confirm-yes")
                yield Button(word("confirm.no", self.lang), variant="default", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()  # Enter on the default does nothing harmful

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class CollectorsView(View):
    view_id = "collectors"
    title_key = "view.collectors"
    binding_scopes = ("collectors",)
    words = WORDS

    DEFAULT_CSS = """
    CollectorsView #collectors-bar { height: auto; padding: 0 1; }
    CollectorsView #collectors-table { height: 1fr; }
    CollectorsView #collectors-info { height: auto; max-height: 6; padding: 0 1; border-top: solid $accent; }
    CollectorsView #collectors-progress { height: auto; max-height: 12; padding: 0 1; border-top: solid $accent; }
    ConfirmDialog { align: center middle; }
    ConfirmDialog #confirm-box { width: 64; max-width: 100%; height: auto; border: thick $warning; padding: 1 2; background: $surface; }
    ConfirmDialog #confirm-question { text-style: bold; margin-bottom: 1; }
    ConfirmDialog #confirm-buttons { height: auto; align: center middle; }
    ConfirmDialog Button { margin: 0 1; }
    """

    COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = (
        ("source", 10),
        ("agency", 8),
        ("circuit", 11),
        ("outcome", 14),
        ("when", 11),
        ("latency", 9),
        ("figures", 14),
        ("error", 20),  # the last: takes the width left, cut on a narrow screen; the panel below shows it whole
    )
    ERROR_MOST = 200

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.request: CollectCommand | None = None  # the collection asked for, while it runs
        self.accepted: list[str] = []
        self.since_run = 0  # runs with a higher id belong to the collection asked for
        self.outcome: CollectDone | None = None
        self.notice: Text | None = None  # a refusal or a failure to send
        self._rows: set[str] = set()
        self._circuit_asked_at = 0  # the newest finished run the circuits were asked after
        self._agencies: dict[str, str] = {}  # source → whom it speaks for, as shown
        self._widths: dict[str, int] = dict(self.COLUMNS)

    def compose(self) -> ComposeResult:
        yield Static(id="collectors-bar")
        yield DataTable(id="collectors-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="collectors-info")
        yield Static(id="collectors-progress")

    def on_mount(self) -> None:
        super().on_mount()
        self._columns()

    def on_show(self) -> None:
        self.query_one("#collectors-table", DataTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        self.update_from(self.opscentre.state, Changed(sources=True))

    def _columns(self) -> None:
        self.set_columns(self.query_one("#collectors-table", DataTable), tuple(self._widths.items()))
        self._rows.clear()

    def _fit(self, names: list[str]) -> dict[str, int]:
        """The source column as wide as the longest name (province-01 and province-04 must not both
        read "province-0"), the agency as its longest where it fits, the error the rest."""
        longest = {
            "source": max(map(cell_len, names), default=0),
            "agency": max(map(cell_len, self._agencies.values()), default=0),
        }
        columns = [
            Col(key, max(least, longest.get(key, 0)) if key == "source" else least, longest.get(key))
            for key, least in self.COLUMNS
        ]
        columns[-1] = Col("error", self.COLUMNS[-1][1], self.ERROR_MOST)
        table = self.query_one("#collectors-table", DataTable)
        room = self.size.width - table.styles.scrollbar_size_vertical
        return fit_columns(columns, room, ("agency", "error"))

    def agency_of(self, source: str) -> str:
        """Whom a source speaks for: its agency's name, or for a province's own system (configured with
        no agency) the province, known from its figures (their one area, as the feed's alerts name
        it); "" while neither is known."""
        return self._agencies.get(source, "")

    def _learn_agencies(self, state: ConsoleState) -> None:
        newest: dict[str, dict[str, str]] = {}  # source → area → its newest period
        for (_, code, source), series in state.series.items():
            periods = newest.setdefault(source, {})
            periods[code] = max(periods.get(code, ""), series.latest.period)
        agencies = {}
        for name in state.sources:
            info = state.catalogue.sources.get(name)
            if info is not None and info.agency:  # by its name, as the alerts name it (wording/names.py)
                agencies[name] = state.catalogue.names.agency(info.agency, to_lang(self.lang))
                continue
            delivered = newest.get(name, {})
            if len(delivered) == 1 and NATION not in delivered:
                [(code, period)] = delivered.items()
                unit = state.catalogue.area_at(code, period)
                agencies[name] = unit.name if unit is not None else code
        self._agencies = agencies

    # --- drawing -------------------------------------------------------------------------------

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        table = self.query_one("#collectors-table", DataTable)
        if changed.mode:
            self._columns()
        if changed.everything or changed.mode or changed.sources or changed.catalogue:
            names = sorted(state.sources)
            self._learn_agencies(state)
            widths = self._fit(names) if self.size.width else self._widths
            if set(names) != self._rows or widths != self._widths:
                self._widths = widths
                self._columns()
                for name in names:
                    table.add_row(*self._cells(state, state.sources[name]), key=name)
                    self._rows.add(name)
            else:
                for name in names:  # only the cells that changed
                    update_row(table, name, self._widths, self._cells(state, state.sources[name]))
        if changed.runs:
            self._after_runs(state, changed.runs)
        self._bar()
        self._info(state)
        self._progress(state)

    def _info(self, state: ConsoleState) -> None:
        """The selected source in full: schedule, next run, its last run's figures and whole error."""
        name = self.selected_source()
        status = state.sources.get(name) if name else None
        out = Text()
        if status is not None:
            info = state.catalogue.sources.get(status.name)
            out.append(status.name, style="bold")
            if info is not None:
                out.append(f" · {info.kind} · {self.agency_of(status.name) or '—'} · {info.schedule}")
            if status.next_run is not None:
                out.append(" · " + self.w("next", time=fmt_time(status.next_run, self.lang)))
            out.append("\n")
            run = status.last_run
            if run is not None:
                out.append(f"#{run.id} {run.trigger}")
                if run.requested_by:
                    out.append(f" ({run.requested_by})")
                out.append(f" · {fmt_time(run.started_at, self.lang)} · ")
                out.append_text(outcome_text(run.outcome, self.lang))
                if run.ended_at is not None:
                    out.append(" · " + self.w("figures", new=run.new, revised=run.revised, rejected=run.rejected))
                    out.append(" · " + self.w("fetched", n=self.opscentre.fmt_number(run.fetched, 0)))
                if run.http_status is not None:
                    out.append(f" · HTTP {run.http_status}")
                if run.bytes is not None:
                    out.append(f" · {self.opscentre.fmt_number(run.bytes, 0)} {self.w('bytes')}")
                if run.error:
                    out.append("\n" + one_line(run.error, 1000), style="red")
        panel = self.query_one("#collectors-info", Static)
        panel.update(out)
        panel.display = bool(out.plain)

    @on(DataTable.RowHighlighted, "#collectors-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._info(self.opscentre.state)

    def _cells(self, state: ConsoleState, status: SourceStatus) -> tuple[str | Text, ...]:
        run = status.last_run
        name = status.name if status.enabled else f"{status.name} ({self.w('disabled')})"
        agency = fit_text(self.agency_of(status.name), self._widths["agency"])
        if run is None:
            return (name, agency, circuit_text(status.circuit, self.lang), Text(self.w("never"), style="dim"),
                    "", "", "", "")  # fmt: skip
        latency = f"{self.opscentre.fmt_number(run.latency_ms, 0)} ms" if run.latency_ms is not None else ""
        figures = f"{run.new}/{run.revised}/{run.rejected}" if run.ended_at is not None else ""
        return (
            name,
            agency,
            circuit_text(status.circuit, self.lang),
            outcome_text(run.outcome, self.lang),
            fmt_time(run.started_at, self.lang, seconds=False)[5:],
            latency,
            figures,
            Text(one_line(run.error), style="red" if run.outcome == "failed" else ""),
        )

    def _after_runs(self, state: ConsoleState, run_ids: set[int]) -> None:
        """Runs that finished may have moved a circuit: ask for the sources' states once more."""
        finished = [i for i in run_ids if (r := state.runs.get(i)) is not None and r.ended_at is not None]
        if finished and max(finished) > self._circuit_asked_at:
            self._circuit_asked_at = max(finished)
            self.refresh_sources()

    def _bar(self) -> None:
        bar = self.query_one("#collectors-bar", Static)
        if self.opscentre.may(Role.ADMIN):
            keys = {k: self.opscentre.key_for(f"collectors.run_{k}") for k in ("source", "agency", "all")}
            bar.update(Text(self.w("admin", **keys), style="dim"))
        else:
            role = self.opscentre.role.value if self.opscentre.role is not None else "—"
            bar.update(Text(self.w("admin_only", role=role), style="bold yellow"))

    def _progress(self, state: ConsoleState) -> None:
        out = Text()
        if self.notice is not None:
            out.append_text(self.notice)
            out.append("\n")
        if self.request is not None or self.outcome is not None:
            runs = self._runs_of_request(state)
            if self.accepted:
                out.append(
                    self.w("accepted", n=len(self.accepted), names=", ".join(self.accepted)) + "\n", style="bold"
                )
            elif self.request is not None and self.outcome is None:
                out.append(self.w("sending") + "\n")
            if self.outcome is not None:
                ok = sum(r.outcome == "success" for r in self.outcome.runs)
                style = "bold green" if ok == len(self.outcome.runs) else "bold yellow"
                out.append(self.w("done", ok=ok, total=len(self.outcome.runs)) + "\n", style=style)
                runs = {r.source: r for r in self.outcome.runs}
            elif self.accepted:
                finished = sum(1 for r in runs.values() if r.ended_at is not None)
                out.append(self.w("progress", finished=finished, total=len(self.accepted)) + "\n")
            for name in self.accepted or sorted(runs):
                run = runs.get(name)
                out.append(f"  {name:<10} ")
                if run is None:
                    out.append("…\n", style="dim")
                    continue
                out.append_text(outcome_text(run.outcome, self.lang))
                if run.ended_at is not None:
                    out.append("  " + self.w("figures", new=run.new, revised=run.revised, rejected=run.rejected))
                if run.error:
                    out.append(f"  {one_line(run.error, 120)}", style="red")
                out.append("\n")
        progress = self.query_one("#collectors-progress", Static)
        progress.update(out)
        progress.display = bool(out.plain)

    def _runs_of_request(self, state: ConsoleState) -> dict[str, RunInfo]:
        """The newest run of each source asked for, among those begun since the request."""
        out: dict[str, RunInfo] = {}
        me = state.connection.user
        for run in state.runs.values():
            # Ours: manual, asked by this user, begun since the request (not a schedule's, nor another admin's).
            ours = run.trigger == "manual" and run.requested_by == me
            if ours and run.id > self.since_run and run.source in self.accepted:
                if run.source not in out or out[run.source].id < run.id:
                    out[run.source] = run
        return out

    # --- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_source", "run_agency", "run_all"):
            return True if self.opscentre.may(Role.ADMIN) else None  # None: greyed out, still listed
        return True

    def selected_source(self) -> str | None:
        return cursor_row(self.query_one("#collectors-table", DataTable))

    def action_run_source(self) -> None:
        name = self.selected_source()
        if name is None:
            self._say(Text(self.w("no_source"), style="yellow"))
            return
        self.confirm(CollectCommand(source=name), self.w("confirm.source", name=name))

    def action_run_agency(self) -> None:
        name = self.selected_source()
        info = self.opscentre.state.catalogue.sources.get(name) if name else None
        if name is None or info is None or not info.agency:
            self._say(Text(self.w("no_agency", name=name) if name else self.w("no_source"), style="yellow"))
            return
        self.confirm(CollectCommand(agency=info.agency), self.w("confirm.agency", name=info.agency))

    def action_run_all(self) -> None:
        self.confirm(CollectCommand(all=True), self.w("confirm.all"))

    def action_refresh_sources(self) -> None:
        self.refresh_sources()

    def confirm(self, command: CollectCommand, question: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.collect(command)

        self.app.push_screen(ConfirmDialog(question, self.lang), answered)

    @work(group="collectors-run", exit_on_error=False)
    async def collect(self, command: CollectCommand) -> None:
        """Send a collection (whatever this console's role: the server decides, and a refusal is
        shown); progress comes from the feed's run messages, the result from the ``done`` answer."""
        state = self.opscentre.state
        self.request, self.accepted, self.outcome, self.notice = command, [], None, None
        self.since_run = max(state.runs, default=0)
        self._progress(state)
        try:
            call = await self.opscentre.feed.send_command(command)
            accepted = await call.accepted
            if isinstance(accepted.data, CollectAccepted):
                self.accepted = accepted.data.sources
                self._progress(self.opscentre.state)
            done = await call
        except FeedRefused as exc:
            self.request = None
            self._say(Text(self.w("refused", reason=exc.error.message), style="bold red"))
            self.app.notify(self.w("refused", reason=exc.error.message), severity="error")
            return
        except (FeedUnavailable, TimeoutError) as exc:
            self.request = None
            self._say(Text(self.w("refused", reason=str(exc)), style="bold red"))
            return
        if isinstance(done.data, CollectDone):
            self.outcome = done.data
        self.request = None
        self._progress(self.opscentre.state)
        self.refresh_sources()

    @work(group="collectors-sources", exclusive=True, exit_on_error=False)
    async def refresh_sources(self) -> None:
        try:
            result = await self.opscentre.feed.send_query(SourcesQuery())
        except (FeedUnavailable, FeedRefused, TimeoutError):
            return
        if isinstance(result.data, SourcesData):
            self.opscentre.post_state(result.data)

    def _say(self, notice: Text) -> None:
        self.notice = notice
        self._progress(self.opscentre.state)
