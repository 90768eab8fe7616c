"""What a scenario's steps do to the simulated agencies: a province that reports late (held, then
released), a figure adjusted on every channel or in SDMX only and later restored, an endpoint down
and up again, a portal counter that dips.

The server plays the steps when they are due (``Simulator.play``) and asks the stage what its
answers must show: the SDMX-only values (:meth:`Stage.skewed`) and the dipped counters
(:meth:`Stage.dipped`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator import scenarios
from simulator.faults import Fault, FaultTable
from simulator.figures import Figures
from simulator.series import Record, Series, Value, decimals, rounded

HELD = 2**62  # a late reporter's figures are withheld until this instant (that is, until released)
DAY = 86400


class Stage:
    """The scenario's changes, applied to the figures and faults of one simulator."""

    def __init__(
        self, figures: Figures, faults: FaultTable, now: Callable[[], int], revision_stamp: Callable[[], int]
    ) -> None:
        self.figures = figures
        self.faults = faults
        self.now = now
        self._revision_stamp = revision_stamp  # an instant strictly after every snapshot served
        self._before: dict[tuple[str, str, str], tuple[int, Value, str]] = {}  # (channel, ind, area) -> figure
        self.sdmx_skew: dict[tuple[str, str, str], tuple[int, Value | None]] = {}  # SDMX-only values; None: natural
        self.counter_dips: dict[str, float] = {}

    def act(self, action: str, p: dict[str, Any]) -> str:
        """Carry out one step; returns what it did, as ``/_admin/scenario`` shows it."""
        if action in ("hold", "release"):
            return self._hold(p["area"], p.get("days", 40), action == "release")
        if action == "adjust":
            return self._adjust(p)
        if action == "restore":
            return self._restore(p)
        if action == "down":
            self.faults.set(p["endpoint"], Fault("http_error", p["endpoint"], status=p.get("status", 503)))
            return f"{p['endpoint']}: HTTP {p.get('status', 503)}"
        if action == "up":
            return f"{p['endpoint']}: {self.faults.clear(p['endpoint'])} fault(s) cleared"
        if action == "counter_dip":
            self.counter_dips[p["counter"]] = float(p["factor"])
            return f"{p['counter']} x {p['factor']}"
        if action == "counter_restore":
            return f"{p['counter']}: " + ("restored" if self.counter_dips.pop(p["counter"], None) else "was not down")
        raise scenarios.ScenarioError(f"unknown action {action!r}")

    def _province_panel(self, area: str, now: int) -> list[Series]:
        h = self.figures.horizon_for(now)
        rows = [r for r in self.figures.ref.indicators if r.provincial and not r.live]
        return [s for r in rows if (s := self.figures.provincial_series(r.code, h).get(area)) is not None]

    def _hold(self, area: str, days: float, release: bool) -> str:
        now = self._revision_stamp() if release else self.now()
        n = 0
        for s in self._province_panel(area, now):
            if release and s.hold is not None and s.hold[1] == HELD:
                s.hold = (s.hold[0], now)  # everything held comes out now, late
                n += 1
            elif not release:
                s.hold = (now - int(days * DAY), HELD)
                n += 1
        return f"{area}: {n} series {'released' if release else 'held'}"

    def _series(self, indicator: str, area: str, now: int) -> Series:
        h = self.figures.horizon_for(now)
        if area == "VN":
            return self.figures.national_series(indicator, h)
        return self.figures.provincial_series(indicator, h)[area]

    def _adjust(self, p: dict[str, Any]) -> str:
        now = self._revision_stamp()
        ind, area, channel = p["indicator"], p["area"], p.get("channel", "all")
        s = self._series(ind, area, now)
        pos = s.latest(now, p.get("status"))
        known = s.effective(pos, now) if pos is not None else None
        if pos is None or known is None:
            return f"{ind} {area}: no figure out to change"
        value, status, _ = known
        if channel == "sdmx":
            skew = self.sdmx_skew.get((ind, area, s.labels[pos]))
            value = skew[1] if skew is not None and skew[1] is not None else value
        d = decimals(self.figures.rows[ind])
        new = rounded(value * p["factor"] if "factor" in p else value + p.get("points", 0), d)
        if new == value:
            new = rounded(value + 10.0**-d, d)
        self._before.setdefault((channel, ind, area), (pos, value, status))
        if channel == "sdmx":
            self.sdmx_skew[(ind, area, s.labels[pos])] = (now, new)
        else:
            self.figures.set_value(s, pos, new, status, now)
        return f"{ind} {area} {s.labels[pos]}: {value} -> {new}" + (" (SDMX only)" if channel == "sdmx" else "")

    def _restore(self, p: dict[str, Any]) -> str:
        ind, area, channel = p["indicator"], p["area"], p.get("channel", "all")
        before = self._before.pop((channel, ind, area), None)
        if before is None:
            return f"{ind} {area}: nothing to restore"
        now = self._revision_stamp()
        pos, value, status = before
        s = self._series(ind, area, now)
        if channel == "sdmx":
            self.sdmx_skew[(ind, area, s.labels[pos])] = (now, None)
        else:
            self.figures.set_value(s, pos, value, status, now)
        return f"{ind} {area} {s.labels[pos]}: back to {value}"

    def skewed(self, records: list[Record], as_of: int) -> list[Record]:
        """The SDMX-only values of the scenario in place of the shared ones, stamped when set."""
        out = []
        for r in records:
            skew = self.sdmx_skew.get((r[0], r[1], r[2]))
            if skew is not None and skew[0] <= as_of:
                t, v = skew
                r = (r[0], r[1], r[2], r[3] if v is None else v, r[4], max(t, r[5]), r[6])
            out.append(r)
        return out

    def dipped(self, counters: dict[str, Any]) -> None:
        """Lower the portal counters that a scenario dipped, in place."""
        for code, factor in self.counter_dips.items():
            if code in counters:
                counters[code] = type(counters[code])(round(counters[code] * factor, 2))
