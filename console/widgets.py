"""Small widgets shared by the views: the in-cell sparkline, the time-travel banner, the status bar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from textual.widgets import Static

from console.numbers import fmt_age, fmt_time
from console.state import Changed, ConsoleState

if TYPE_CHECKING:
    from console.app import OpscentreApp

BARS = "▁▂▃▄▅▆▇█"


def spark(values: Sequence[float], width: int = 10) -> str:
    """The last ``width`` values as block characters, scaled between their min and max; padded
    on the left to a fixed width (fixed column widths: a cell never changes size)."""
    tail = list(values)[-width:]
    if not tail:
        return " " * width
    lo, hi = min(tail), max(tail)
    if hi == lo:
        body = BARS[3] * len(tail)
    else:
        body = "".join(BARS[min(len(BARS) - 1, int((v - lo) / (hi - lo) * (len(BARS) - 1) + 0.5))] for v in tail)
    return body.rjust(width)


class Banner(Static):
    """The unmistakable "as of …" banner: shown (docked, reversed colours, with ⏪ and words) only
    while the console shows the past."""

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        app = cast("OpscentreApp", self.app)
        wanted = app.feed.as_of
        if state.as_of is None and wanted is None:
            self.display = False
            return
        self.display = True
        if state.as_of is not None and (wanted is None or wanted == state.as_of):
            key = app.key_for("travel.live")
            self.update(app.t("banner.as_of", time=fmt_time(state.as_of, app.lang, seconds=False), key=key))
        else:
            self.update(app.t("banner.loading", time=fmt_time(wanted, app.lang, seconds=False)))


class StatusBar(Static):
    """Connection state, who we are, data age, pause; updated each batch and every second."""

    def update_from(self, state: ConsoleState, changed: Changed) -> None:
        app = cast("OpscentreApp", self.app)
        c = state.connection
        parts: list[str] = []
        if state.paused:
            parts.append(app.t("status.paused"))
        if c.refused:
            parts.append(app.t("status.refused", reason=c.refused))
        elif c.connected:
            parts.append(app.t("status.live") if state.live else "⏪")
        elif c.retry_in is not None:
            parts.append(app.t("status.reconnecting", seconds=app.fmt_number(c.retry_in, 0)))
        else:
            parts.append(app.t("status.connecting"))
        if c.stale_since is not None and not c.connected and c.ever_connected:
            parts.append(app.t("status.stale", time=fmt_time(c.stale_since, app.lang)))
        if c.user:
            parts.append(app.t("status.user", user=c.user, role=c.role.value if c.role else "?"))
        if c.last_change_at is not None and state.live:
            parts.append(app.t("status.age", age=fmt_age(datetime.now(UTC) - c.last_change_at, app.lang)))
        parts.append(app.t("status.seq", seq=c.seq))
        self.update(" · ".join(parts))
        self.set_class(not c.connected, "-disconnected")
        self.set_class(state.paused, "-paused")
