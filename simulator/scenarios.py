"""Scenarios: what happens to the simulated agencies, on a compressed timeline.

A real reporting calendar moves in weeks: a province is days late, a figure is revised at the
next monthly release. A scenario compresses that into minutes so a demo shows it at once: each
step happens ``at`` seconds after the simulator starts (on its clock; ``speed`` 2 makes them come
twice as fast), and the whole scenario repeats every ``cycle`` seconds. A parameter given as a
list takes its next item on each cycle (another province is late, another figure is revised),
so a demo that runs for an hour keeps showing new events.

Steps are applied when due, before the request that finds them due is answered (and when
``GET /_admin/scenario`` is asked), so a test that moves the clock sees each step exactly then.
What each step changes is visible through the ordinary endpoints only: a revision is a new value
with a new ``updated_at``, a late province publishes its figures with the instant it finally
delivered them, an outage is a fault listed by ``GET /_admin/faults`` (and can be cleared there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The step kinds, with the parameters each takes (docs/agency-json.md, section 4).
ACTIONS: dict[str, tuple[str, ...]] = {
    "hold": ("area", "days"),  # a province stops reporting: what it published in the last `days` is withheld
    "release": ("area",),  # ... and delivers it all now (late)
    "adjust": ("indicator", "area", "factor", "points", "status", "channel"),  # a new value for the newest figure
    "restore": ("indicator", "area", "channel"),  # that figure back to its value before `adjust`
    "down": ("endpoint", "status"),  # a source answers 503 (a fault, listed by GET /_admin/faults)
    "up": ("endpoint",),  # ... and comes back
    "counter_dip": ("counter", "factor"),  # a portal counter goes down
    "counter_restore": ("counter",),
}
CHANNELS = ("all", "sdmx")  # sdmx: only the SDMX messages carry the change (two sources disagree)


class ScenarioError(ValueError):
    """An unknown scenario or a bad step; the message says which."""


@dataclass(frozen=True)
class Step:
    at: float  # seconds after the scenario starts, within a cycle
    action: str
    what: str  # what a user sees happen, in a few words
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ScenarioError(f"unknown step action {self.action!r}; the actions are {', '.join(ACTIONS)}")
        unknown = sorted(set(self.params) - set(ACTIONS[self.action]))
        if unknown:
            raise ScenarioError(f"step {self.action!r} takes {', '.join(ACTIONS[self.action])}, not {unknown}")
        if self.params.get("channel", "all") not in CHANNELS:
            raise ScenarioError(f"'channel' must be one of {', '.join(CHANNELS)}")

    def resolved(self, cycle: int) -> dict[str, Any]:
        """The parameters on cycle ``cycle``: a list gives its items in turn."""
        return {k: (v[cycle % len(v)] if isinstance(v, list | tuple) else v) for k, v in self.params.items()}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[Step, ...]
    cycle: float = 300.0  # seconds; the steps repeat with this period

    def __post_init__(self) -> None:
        for s in self.steps:
            if not 0 <= s.at < self.cycle:
                raise ScenarioError(f"scenario {self.name}: step at {s.at}s is outside its {self.cycle}s cycle")


# The parts of the demo, each a scenario of its own. Subjects rotate per cycle (lists).
# 40 days held: the newest monthly report already due (published the 18th to the 22nd, due the
# 25th) was published at most about 37 days ago, so the province owes it whatever the day.
LATE = (
    Step(
        0,
        "hold",
        "a province stops reporting (its latest reports are overdue)",
        {"area": ["04", "11", "12"], "days": 40},
    ),
    Step(150, "release", "the province delivers its overdue reports, late", {"area": ["04", "11", "12"]}),
)
CONTRADICTION = (
    Step(
        0,
        "adjust",
        "a province's exports exceed its share of the national figure",
        {"indicator": "EXPORTS", "area": ["79", "31", "01"], "factor": 1.3},
    ),
    Step(240, "restore", "the province corrects its exports", {"indicator": "EXPORTS", "area": ["79", "31", "01"]}),
)
MISMATCH = (
    Step(
        0,
        "adjust",
        "the statistics office's SDMX disagrees with its JSON",
        {"indicator": "RETAIL_SALES", "area": "VN", "factor": 1.02, "channel": "sdmx"},
    ),
    Step(
        240,
        "restore",
        "the SDMX agrees with the JSON again",
        {"indicator": "RETAIL_SALES", "area": "VN", "channel": "sdmx"},
    ),
)
REVISION = (
    Step(
        40,
        "adjust",
        "an official national figure is revised",
        {"indicator": ["CPI_YOY", "IIP_YOY", "CPI_MOM"], "area": "VN", "points": 0.2, "status": "official"},
    ),
    Step(
        150,
        "adjust",
        "the same figure is revised again",
        {"indicator": ["CPI_YOY", "IIP_YOY", "CPI_MOM"], "area": "VN", "points": -0.1, "status": "official"},
    ),
)
OUTLIER = (
    Step(
        70,
        "adjust",
        "a national figure keyed in ten times too large",
        {"indicator": ["INTL_ARRIVALS", "RICE_EXPORTS", "ELECTRICITY_OUTPUT"], "area": "VN", "factor": 10},
    ),
    Step(
        200,
        "restore",
        "the figure is corrected",
        {"indicator": ["INTL_ARRIVALS", "RICE_EXPORTS", "ELECTRICITY_OUTPUT"], "area": "VN"},
    ),
)
# Down from 40 s to 180 s: the ministry's runs at about one and two minutes fail, which opens its
# circuit in the demo (two failed runs), and the probe after 180 s finds it back.
OUTAGE = (
    Step(
        40,
        "down",
        "a ministry's system goes down (503)",
        {"endpoint": ["/agencies/MOF/*", "/agencies/SBV/*", "/agencies/VSS/*"]},
    ),
    Step(
        180,
        "up",
        "the ministry's system is back",
        {"endpoint": ["/agencies/MOF/*", "/agencies/SBV/*", "/agencies/VSS/*"]},
    ),
)
COUNTER = (
    Step(110, "counter_dip", "a portal counter goes down", {"counter": "PORTAL_DOSSIERS_SYNCED", "factor": 0.9}),
    Step(170, "counter_restore", "the portal counter is right again", {"counter": "PORTAL_DOSSIERS_SYNCED"}),
)


def _sorted(*parts: tuple[Step, ...]) -> tuple[Step, ...]:
    return tuple(sorted((s for p in parts for s in p), key=lambda s: s.at))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("none", "nothing happens: the calendar only", ()),
        Scenario(
            "demo",
            "all of the below, within three minutes, repeating every five with other subjects",
            _sorted(LATE, CONTRADICTION, MISMATCH, REVISION, OUTLIER, OUTAGE, COUNTER),
        ),
        Scenario("revision", "an official national figure is revised, then revised again", REVISION),
        Scenario("late-report", "a province stops reporting, then delivers late", LATE),
        Scenario("contradiction", "a province figure contradicts the national one, then is corrected", CONTRADICTION),
        Scenario("source-mismatch", "the SDMX and JSON of the statistics office disagree, then agree", MISMATCH),
        Scenario("outlier", "a national figure is keyed in ten times too large, then corrected", OUTLIER),
        Scenario("outage", "a ministry's system goes down, then comes back", OUTAGE),
        Scenario("counter-drop", "a portal counter goes down, then is right again", COUNTER),
    )
}


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ScenarioError(f"unknown scenario {name!r}; the scenarios are {', '.join(SCENARIOS)}") from None


@dataclass
class Applied:
    cycle: int
    step: Step
    at: int  # the simulator's instant it was applied
    result: str  # what it changed, e.g. "CPI_YOY VN 2026-09: 3.1 -> 3.3"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "at": self.step.at,
            "action": self.step.action,
            "what": self.step.what,
            "params": self.step.resolved(self.cycle),
            "applied_at": self.at,
            "result": self.result,
        }


class Timeline:
    """Which steps are due: (cycle, step) pairs in order, each handed out once."""

    def __init__(self, scenario: Scenario, start: int, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ScenarioError(f"speed must be more than 0, got {speed}")
        self.scenario = scenario
        self.start = start
        self.speed = speed
        self._next = 0  # steps handed out so far, over all cycles

    def elapsed(self, now: int) -> float:
        return max(0.0, (now - self.start) * self.speed)

    def _at(self, n: int) -> tuple[int, Step, float]:
        steps = self.scenario.steps
        cycle, k = divmod(n, len(steps))
        return cycle, steps[k], cycle * self.scenario.cycle + steps[k].at

    def due(self, now: int) -> list[tuple[int, Step]]:
        if not self.scenario.steps:
            return []
        out = []
        elapsed = self.elapsed(now)
        while (nxt := self._at(self._next))[2] <= elapsed:
            out.append((nxt[0], nxt[1]))
            self._next += 1
        return out

    def upcoming(self) -> dict[str, Any] | None:
        if not self.scenario.steps:
            return None
        cycle, step, at = self._at(self._next)
        return {"cycle": cycle, "at": at, "action": step.action, "what": step.what, "params": step.resolved(cycle)}
