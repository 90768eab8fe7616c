"""Screen 6, Drill-down: one figure, down to the bytes it came from.

How it is opened: Enter on a figure in the overview, indicators or provinces view calls
``app.drilldown((indicator, area, source))``, which calls ``DrilldownView.show(key)`` and shows
this tab; ``show(key, period)`` drills into that period's figure instead of the newest.

What it shows, each from a feed query (the console is a feed client: nothing from the database):
- the series as a plotext chart (``history`` query) over a window: the last year, five years or
  all (``w`` [drilldown.window] cycles; the window in force is marked), revised periods marked;
- every revision of the chosen figure, oldest first: its value before and after, its status, when
  it was collected, its source, its run and the digest of the payload it came from
  (``provenance`` query);
- the provenance of the figure: source, run, when the batch was fetched, and the payload's sha256,
  size and type;
- the open alerts on the figure (from the state: live, or as known at the moment shown): its
  cross-checks (crosscheck.*) with both figures, their sources and short payload digests, its
  revision watch, anomaly, revision and counter alerts.
``,`` / ``.`` [drilldown.period_back / period_forward] step to the previous / next period of the
series; ``u`` [drilldown.refresh] asks again. A new figure or revision of the series on the feed
is asked for again while the view is shown. In time travel the series is asked ``as_of`` the
moment shown, and revisions made after it are left out.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from console.client import FeedRefused, FeedUnavailable
from console.numbers import fmt_time
from console.state import Changed, ConsoleState, SeriesKey
from console.views import View
from console.views.alert_texts import SEVERITIES, headline, newest_first, severity_text, state_text
from console.views.drilldown_texts import WORDS, about, cross_check_sides, provenance_text
from feed.protocol import AlertInfo, HistoryData, HistoryQuery, ObservationInfo, ProvenanceData, ProvenanceQuery
from wording.dates import period_start as first_day
from wording.numbers import digits_apart

WINDOWS: dict[str, int | None] = {"1y": 366, "5y": 5 * 366, "all": None}  # days back from the newest period


def period_start(period: str) -> date:
    """The first day of a period: ``2026``, ``2026-Q3``, ``2026-10``, ``2026-10-31`` or an instant."""
    # A period of a shape the parser does not know is placed at its year.
    return first_day(period) or date(int(period[:4]), 1, 1)


def in_window(observations: list[ObservationInfo], window: str) -> list[ObservationInfo]:
    """The figures of the window (counted back from the newest period), oldest first."""
    days = WINDOWS[window]
    if days is None or not observations:
        return observations
    start = period_start(observations[-1].period) - timedelta(days=days)
    return [o for o in observations if period_start(o.period) > start]


class DrilldownView(View):
    view_id = "drilldown"
    title_key = "view.drilldown"
    binding_scopes = ("drilldown",)
    words = WORDS

    DEFAULT_CSS = """
    DrilldownView #drilldown-body { height: 1fr; }
    DrilldownView #drilldown-head { height: auto; padding: 0 1; }
    DrilldownView #drilldown-checks { height: auto; padding: 0 1; }
    DrilldownView #drilldown-chart { height: 45vh; min-height: 10; }  /* grows with the terminal */
    DrilldownView .drilldown-title { height: 1; padding: 0 1; text-style: bold; }
    DrilldownView #drilldown-revisions { height: auto; max-height: 14; }
    DrilldownView #drilldown-provenance { height: auto; padding: 0 1; }
    """

    COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = (
        ("rev", 4),
        ("before", 14),
        ("after", 14),
        ("status", 11),
        ("collected", 19),
        ("source", 9),
        ("run", 9),
        ("payload", 16),
    )

    RELOAD_SECONDS = 2.0

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._reload: Timer | None = None
        self.key: SeriesKey | None = None
        self.period: str | None = None  # the figure drilled into (None: the newest)
        self.window = "5y"
        self.history: list[ObservationInfo] = []
        self.provenance: ProvenanceData | None = None
        self.error: str | None = None
        self.loading = False
        self.loads = 0  # answers received (tests)
        self._as_of: datetime | None = None  # the moment the history was asked as of

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="drilldown-body"):
            yield Static(id="drilldown-head")
            yield Static(id="drilldown-checks")
            yield PlotextPlot(id="drilldown-chart")
            yield Static(classes="drilldown-title", id="drilldown-revisions-title")
            yield DataTable(id="drilldown-revisions", cursor_type="row", zebra_stripes=True)
            yield Static(classes="drilldown-title", id="drilldown-provenance-title")
            yield Static(id="drilldown-provenance")

    def on_mount(self) -> None:
        super().on_mount()
        self._columns()
        self._render_all()

    def on_show(self) -> None:
        self.query_one("#drilldown-revisions", DataTable).focus()  # the view's keys work at once

    def _columns(self) -> None:
        self.set_columns(self.query_one("#drilldown-revisions", DataTable), self.COLUMNS)

    # --- what to show ---------------------------------------------------------------------------

    def show(self, key: SeriesKey, period: str | None = None) -> None:
        """Drill into series ``key``: the figure of ``period``, or the newest."""
        if key != self.key:
            self.history, self.provenance = [], None
        self.key, self.period, self.error = key, period, None
        self.load()

    @work(group="drilldown-load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """Ask for the series, then for the chosen figure's provenance (the UI never waits)."""
        if self.key is None:
            return
        indicator, area, source = self.key
        as_of = self.opscentre.state.as_of
        self.loading = True
        self._render_head()
        try:
            answer = await self.opscentre.feed.send_query(
                HistoryQuery(indicator=indicator, area=area, source=source, as_of=as_of)
            )
            if not isinstance(answer.data, HistoryData):
                raise FeedUnavailable(f"unexpected answer {answer.data.kind}")
            self.history, self._as_of = answer.data.observations, as_of
            figure = self._chosen()
            provenance = None
            if figure is not None:
                answer = await self.opscentre.feed.send_query(ProvenanceQuery(observation_id=figure.id))
                if not isinstance(answer.data, ProvenanceData):
                    raise FeedUnavailable(f"unexpected answer {answer.data.kind}")
                provenance = answer.data
            self.provenance, self.error = provenance, None
        except (FeedUnavailable, FeedRefused, TimeoutError) as exc:
            self.error = str(exc) or type(exc).__name__
        finally:
            self.loading = False
        self.loads += 1
        self._render_all()

    def _chosen(self) -> ObservationInfo | None:
        """The figure of the period asked for, else the newest."""
        for obs in self.history:
            if obs.period == self.period:
                return obs
        return self.history[-1] if self.history else None

    def revisions(self) -> list[ObservationInfo]:
        """Every revision of the chosen figure, oldest first (in time travel, those known then)."""
        if self.provenance is None:
            return []
        known = self.provenance.revisions
        if self._as_of is not None:
            known = [r for r in known if r.collected_at <= self._as_of]
        return known

    # --- drawing --------------------------------------------------------------------------------

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        if changed.mode:
            self._columns()
        if self.key is not None and changed.everything and state.as_of != self._as_of:
            self.load()  # another moment (time travel or back to live): ask as of it
            return
        if self.key is not None and self.key in changed.series:
            self._reload_soon()  # a new figure or revision of this series
        if changed.mode or changed.everything or changed.catalogue:
            self._render_all()
        elif changed.alerts:
            self._render_checks()

    def _reload_soon(self) -> None:
        """Ask again, at most once every RELOAD_SECONDS: a live counter changes every few
        seconds, and its whole history need not be asked each time."""
        if self._reload is None:

            def due() -> None:
                self._reload = None
                self.load()

            self._reload = self.set_timer(self.RELOAD_SECONDS, due)

    def _render_all(self) -> None:
        self._render_head()
        self._render_checks()
        self._render_chart()
        self._render_revisions()
        self._render_provenance()

    def _render_head(self) -> None:
        head = Text()
        if self.key is None:
            head.append(self.w("pick"), style="dim")
            self.query_one("#drilldown-head", Static).update(head)
            return
        indicator, area, source = self.key
        unit = self.opscentre.unit_of(indicator)
        head.append(self.opscentre.name_of(indicator), style="bold")
        head.append(f"  {indicator} · {area} · {source}" + (f" · {unit}" if unit else ""))
        figure = self._chosen()
        if figure is not None:
            head.append(f" · {self.w('period')} {figure.period}", style="bold")
        head.append(f"\n{self.w('window')}: ")
        for window in WINDOWS:
            if window == self.window:
                head.append(f"▸{self.w(window)}◂", style="reverse bold")
            else:
                head.append(f" {self.w(window)} ")
            head.append(" ")
        shown = len(in_window(self.history, self.window))
        head.append(f"({self.w('points', n=shown)})  ", style="dim")
        keys = {
            "window": self.opscentre.key_for("drilldown.window"),
            "back": self.opscentre.key_for("drilldown.period_back"),
            "forward": self.opscentre.key_for("drilldown.period_forward"),
        }
        head.append(self.w("keys", **keys), style="dim")
        if self.error:
            head.append("\n" + self.w("error", reason=self.error), style="bold red")
        elif self.loading:
            head.append("\n" + self.w("loading"), style="dim")
        elif not self.history and self.loads:
            head.append("\n" + self.w("none"), style="yellow")
        self.query_one("#drilldown-head", Static).update(head)

    def checks(self) -> list[AlertInfo]:
        """The open alerts about the figure shown (the state's: as known at the moment shown in time
        travel), critical first, newest first."""
        figure = self._chosen()
        if self.key is None or figure is None:
            return []
        found = [a for a in self.opscentre.state.alerts.values() if about(a, self.key, figure.period)]
        return sorted(found, key=lambda a: (SEVERITIES.index(a.severity), newest_first(a)))

    def _render_checks(self) -> None:
        """Each open alert on the figure in words; a cross-check also with both figures, their
        sources and the (short) sha256 of the payloads they came from."""
        widget = self.query_one("#drilldown-checks", Static)
        if self.key is None or self._chosen() is None:
            widget.update("")
            return
        found = self.checks()
        if not found:
            widget.update(Text(self.w("checks.none"), style="dim"))
            return
        out = Text()
        out.append(self.w("checks", n=len(found)) + "\n", style="bold")
        for alert in found:
            out.append_text(severity_text(alert.severity, self.lang))
            out.append(" ")
            out.append_text(state_text(alert.state, self.lang))
            out.append(f" #{alert.id} {headline(alert, self.lang, self.opscentre.state.catalogue.names)}\n")
            sides = cross_check_sides(alert, self.opscentre.state.decimals(alert.params.indicator or ""), self.lang)
            if sides is not None:
                out.append("    " + "  ≠  ".join(sides) + "\n", style="cyan")
        widget.update(out)

    def _render_chart(self) -> None:
        chart = self.query_one("#drilldown-chart", PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        shown = in_window(self.history, self.window)
        if shown:
            xs = list(range(len(shown)))
            plt.plot(xs, [o.value for o in shown], marker="braille")
            revised = [(i, o.value) for i, o in enumerate(shown) if o.revision > 1]
            if revised:  # marked with a symbol and named in the legend, not by colour alone
                plt.scatter([i for i, _ in revised], [v for _, v in revised], marker="x", label=self.w("revised"))
            every = max(1, len(shown) // 5)
            ticks = [float(i) for i in range(0, len(shown), every)]
            plt.xticks(ticks, [shown[int(i)].period for i in ticks])
            figure = self._chosen()
            chosen = [i for i, o in enumerate(shown) if figure is not None and o.period == figure.period]
            if chosen:
                plt.vline(chosen[0])
        if self.key is not None:
            unit = self.opscentre.unit_of(self.key[0])
            plt.title(self.opscentre.name_of(self.key[0]) + (f" ({unit})" if unit else ""))
        chart.refresh()

    def _render_revisions(self) -> None:
        table = self.query_one("#drilldown-revisions", DataTable)
        table.clear()
        revisions = self.revisions()
        figure = self._chosen()
        title = self.w("revisions", period=figure.period) if figure is not None else ""
        self.query_one("#drilldown-revisions-title", Static).update(title)
        if not revisions or self.key is None:
            return
        places = digits_apart([r.value for r in revisions], self.opscentre.state.decimals(self.key[0]))
        before: float | None = None
        for obs in revisions:  # oldest first: each one's "before" is the figure it replaced
            table.add_row(
                str(obs.revision),
                "—" if before is None else self.opscentre.fmt_number(before, places),
                self.opscentre.fmt_number(obs.value, places),
                self.w(obs.status),
                fmt_time(obs.collected_at, self.lang),
                obs.source,
                "—" if obs.run_id is None else f"#{obs.run_id}",
                (obs.payload_digest or "—")[:12],
                key=str(obs.id),
            )
            before = obs.value
        table.move_cursor(row=table.row_count - 1, animate=False)

    def _render_provenance(self) -> None:
        found = self.provenance
        self.query_one("#drilldown-provenance-title", Static).update(self.w("provenance") if found else "")
        self.query_one("#drilldown-provenance", Static).update(provenance_text(found, self.lang) if found else Text())

    # --- actions --------------------------------------------------------------------------------

    def action_cycle_window(self) -> None:
        names = list(WINDOWS)
        self.window = names[(names.index(self.window) + 1) % len(names)]
        self._render_head()
        self._render_chart()

    def action_period_step(self, by: int) -> None:
        if not self.history:
            return
        periods = [o.period for o in self.history]
        figure = self._chosen()
        at = periods.index(figure.period) if figure is not None else len(periods) - 1
        target = periods[max(0, min(len(periods) - 1, at + by))]
        if figure is None or target != figure.period:
            self.period = target
            self.load()

    def action_refresh_series(self) -> None:
        self.load()
