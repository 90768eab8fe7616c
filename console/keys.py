"""The console's key bindings, each with a stable id: users remap them by id in the
configuration (``[console] keys``, e.g. ``"app.pause" = "f5"``), and ``cli/config.py`` checks the
ids against this list. Plain data (no Textual import): the configuration can be checked without
loading the UI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeySpec:
    id: str  # stable: the configuration names it
    key: str  # Textual key name(s), comma-separated
    action: str  # Textual action string
    label: str  # i18n key of its description
    scope: str = "app"  # "app", or the view whose bindings hold it
    show: bool = True  # in the footer


KEYS: tuple[KeySpec, ...] = (
    KeySpec("view.overview", "1", "show_view('overview')", "key.overview"),
    KeySpec("view.indicators", "2", "show_view('indicators')", "key.indicators"),
    KeySpec("view.provinces", "3", "show_view('provinces')", "key.provinces"),
    KeySpec("view.alerts", "4", "show_view('alerts')", "key.alerts"),
    KeySpec("view.collectors", "5", "show_view('collectors')", "key.collectors", show=False),
    KeySpec("view.drilldown", "6", "drilldown", "key.drilldown", show=False),
    KeySpec("travel.pick", "7", "travel_pick", "key.travel_pick"),
    KeySpec("travel.back_day", "left_square_bracket", "travel_step(-1, 'day')", "key.back_day", show=False),
    KeySpec("travel.back_month", "left_curly_bracket", "travel_step(-1, 'month')", "key.back_month", show=False),
    KeySpec("travel.forward_day", "right_square_bracket", "travel_step(1, 'day')", "key.forward_day", show=False),
    KeySpec("travel.live", "0", "travel_live", "key.live"),
    KeySpec("app.pause", "p", "toggle_pause", "key.pause"),
    KeySpec("app.language", "l", "toggle_language", "key.language"),
    KeySpec("app.help", "question_mark", "toggle_help", "key.help"),
    KeySpec("app.reconnect", "ctrl+r", "reconnect", "key.reconnect", show=False),
    KeySpec("app.quit", "q", "quit", "key.quit"),
    KeySpec("table.filter", "slash", "focus_filter", "key.filter", scope="table"),
    KeySpec("table.leave_filter", "escape", "leave_filter", "key.leave_filter", scope="table", show=False),
    KeySpec("table.sort", "s", "sort_next", "key.sort", scope="table"),
    KeySpec("table.sort_reverse", "S", "sort_reverse", "key.sort_reverse", scope="table", show=False),
    KeySpec("table.category_next", "c", "category_next", "key.category", scope="table", show=False),
    KeySpec("provinces.indicator", "i", "pick_indicator", "key.pick_indicator", scope="provinces"),
    KeySpec("provinces.period_back", "comma", "period_step(-1)", "key.period_back", scope="provinces", show=False),
    KeySpec(
        "provinces.period_forward", "full_stop", "period_step(1)", "key.period_forward", scope="provinces", show=False
    ),
    # operator views (console/views/alerts.py, collectors.py, drilldown.py)
    KeySpec("alerts.acknowledge", "a", "acknowledge", "key.acknowledge", scope="alerts"),
    KeySpec("alerts.state", "f", "cycle_state", "key.alert_state", scope="alerts"),
    KeySpec("alerts.severity", "v", "cycle_severity", "key.alert_severity", scope="alerts"),
    KeySpec("alerts.detail", "d", "toggle_detail", "key.alert_detail", scope="alerts"),
    KeySpec("alerts.mute", "m", "toggle_mute", "key.bell_mute", scope="alerts"),
    KeySpec("alerts.muted", "h", "toggle_muted", "key.alert_muted", scope="alerts"),
    KeySpec("alerts.silences", "n", "toggle_silences", "key.silences", scope="alerts"),
    KeySpec("alerts.silence", "x", "silence", "key.silence", scope="alerts"),
    KeySpec("alerts.unsilence", "e", "unsilence", "key.unsilence", scope="alerts"),
    KeySpec("collectors.run_source", "r", "run_source", "key.run_source", scope="collectors"),
    KeySpec("collectors.run_agency", "g", "run_agency", "key.run_agency", scope="collectors"),
    KeySpec("collectors.run_all", "A", "run_all", "key.run_all", scope="collectors"),
    KeySpec("collectors.refresh", "u", "refresh_sources", "key.refresh", scope="collectors", show=False),
    KeySpec("drilldown.window", "w", "cycle_window", "key.window", scope="drilldown"),
    KeySpec("drilldown.period_back", "comma", "period_step(-1)", "key.period_back", scope="drilldown"),
    KeySpec("drilldown.period_forward", "full_stop", "period_step(1)", "key.period_forward", scope="drilldown"),
    KeySpec("drilldown.refresh", "u", "refresh_series", "key.refresh", scope="drilldown", show=False),
)

BINDING_IDS: frozenset[str] = frozenset(k.id for k in KEYS)


def check_overrides(overrides: dict[str, str]) -> list[str]:
    """Problems with a ``[console] keys`` table: unknown ids and empty keys (the key names
    themselves are Textual's and cannot be checked without a terminal)."""
    problems = []
    for binding_id, key in overrides.items():
        if binding_id not in BINDING_IDS:
            problems.append(f"unknown binding id {binding_id!r}; known: {', '.join(sorted(BINDING_IDS))}")
        elif not isinstance(key, str) or not key.strip():
            problems.append(f"{binding_id}: the key must be a non-empty string such as 'f5' or 'ctrl+p'")
    return problems
