"""The revision watch (``revision.watch``) on the real simulator: the statistics office revises a
figure (the scenario steps 'adjust'), the centre collects it, and the alert says before and after,
which revision it is and why it is worth one: beyond the threshold, of a closed period, repeated.

The clock is the demo day (23 November 2026): September's CPI is official and was due by the end of
25 October (closed); October's is provisional and due by the end of 25 November (still open).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules import revision_watch
from rules.after_run import Collector
from simulator import scenarios
from simulator.scenarios import Scenario, Step
from storage import Alert, AlertState, Batch, ObservationIn, Severity, Store
from storage.clock import use_clock
from tests.simulator_fixtures import Clock, running


@asynccontextmanager
async def centre(tmp_path: Path, scenario: str, rules: RulesSettings) -> AsyncIterator[tuple[Store, Collector, Clock]]:
    """The simulator playing ``scenario`` and a collector of the statistics office, on one clock."""
    clock = Clock()
    with use_clock(clock):
        async with running(clock, scenario=scenario) as (sim, _):
            nso = SourceSettings(
                name="nso", kind="agency-json", url=f"{sim.url}/agencies/NSO/observations", every="1m", agency="NSO"
            )
            store = await Store.open(tmp_path / "ops.db")
            try:
                async with Collector(store, [nso], CollectorSettings(retries=0)) as collector:
                    collector.rules = rules
                    yield store, collector, clock
            finally:
                await store.close()


def one_revision(status: str, points: float = 0.3) -> Scenario:
    step = Step(10, "adjust", "the newest CPI of that status revised", {"indicator": "CPI_YOY", "area": "VN",
                                                                           "points": points, "status": status})  # fmt: skip
    return Scenario("test-revision", "one revision", (step,))


async def watched(store: Store) -> list[Alert]:
    return [a for a in await store.alerts.listed(limit=100_000) if a.rule == revision_watch.REVISION_WATCH]


async def collect(collector: Collector) -> None:
    run = await collector.run("nso")
    assert run.outcome.value == "success", run.error


async def test_the_demo_revision_raises_a_critical_alert_with_before_and_after_then_updates_it(tmp_path: Path) -> None:
    async with centre(tmp_path, "revision", RulesSettings()) as (store, collector, clock):
        await collect(collector)  # the history: new figures, nothing revised
        assert await watched(store) == []

        clock.advance(seconds=40)  # September's official CPI: 2.95 -> 3.15
        await collect(collector)
        [alert] = await watched(store)
        p = alert.params
        assert alert.subject == "CPI_YOY/VN/2026-09/nso" and alert.state is AlertState.FIRING
        assert (p.indicator, p.area, p.period, p.source, p.agency) == ("CPI_YOY", "VN", "2026-09", "nso", "NSO")
        assert (p.previous_value, p.value, p.revision) == (2.95, 3.15, 2)
        # 6.8 % is beyond the 2 % threshold, and September was due by 25 October: both, so critical.
        assert p.reason == "threshold,closed" and p.threshold == 0.02
        assert alert.severity is Severity.CRITICAL
        assert "2,95% → 3,15%" in alert.message and "2.95% → 3.15%" in (alert.message_en or "")
        # Where it came from: the stored revision, its run and the bytes it was read from.
        assert p.observation_id is not None
        obs = await store.observations.get(p.observation_id)
        assert obs is not None and obs.value == 3.15 and obs.run_id == p.run_id and obs.revision == 2
        assert p.payload_digest is not None and p.payload_digest == obs.payload_digest

        clock.advance(seconds=110)  # at 150 s the same figure again: 3.15 -> 3.05, its third version
        await collect(collector)
        [again] = await watched(store)
        assert again.id == alert.id, "a later revision of the same figure updates its alert"
        q = again.params
        assert (q.previous_value, q.value, q.revision) == (3.15, 3.05, 3)
        assert q.reason == "threshold,closed,repeated" and again.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("status", "rules", "reason"),
    [
        # October is provisional and not due yet: only the size of the change counts (0.3 of 2.68).
        ("provisional", RulesSettings(), "threshold"),
        # September is closed; a 10 % change is under a 50 % threshold.
        ("official", RulesSettings(revision_threshold=0.5), "closed"),
        # The second version is already "repeated" when the setting says 2.
        ("provisional", RulesSettings(revision_threshold=0.5, repeated_revisions=2), "repeated"),
        # Small, of an open period, the first revision: nothing to report.
        ("provisional", RulesSettings(revision_threshold=0.5), None),
    ],
)
async def test_each_reason_alone_raises_a_warning_and_none_raises_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str, rules: RulesSettings, reason: str | None
) -> None:
    monkeypatch.setitem(scenarios.SCENARIOS, "test-revision", one_revision(status))
    async with centre(tmp_path, "test-revision", rules) as (store, collector, clock):
        await collect(collector)
        clock.advance(seconds=10)
        await collect(collector)
        alerts = await watched(store)
        if reason is None:
            assert alerts == []
            return
        [alert] = alerts
        assert alert.params.reason == reason and alert.severity is Severity.WARNING
        period = "2026-10" if status == "provisional" else "2026-09"
        assert alert.subject == f"CPI_YOY/VN/{period}/nso"
        assert alert.params.value == pytest.approx(alert.params.previous_value + 0.3)  # type: ignore[operator]


async def test_a_revision_after_an_acknowledgement_is_a_new_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = (
        Step(
            10,
            "adjust",
            "September revised",
            {"indicator": "CPI_YOY", "area": "VN", "points": 0.2, "status": "official"},
        ),
        Step(20, "adjust", "and again", {"indicator": "CPI_YOY", "area": "VN", "points": 0.1, "status": "official"}),
    )
    monkeypatch.setitem(scenarios.SCENARIOS, "test-twice", Scenario("test-twice", "twice", steps))
    async with centre(tmp_path, "test-twice", RulesSettings()) as (store, collector, clock):
        await collect(collector)
        clock.advance(seconds=10)
        await collect(collector)
        [first] = await watched(store)
        await store.alerts.acknowledge(first.id, "op", "operator", "seen, asked the office")
        clock.advance(seconds=10)
        await collect(collector)
        alerts = await store.alerts.listed(open_only=False, limit=100_000)
        mine = {a.id: a for a in alerts if a.rule == revision_watch.REVISION_WATCH}
        assert mine[first.id].state is AlertState.RESOLVED and mine[first.id].params.revision == 2
        [new] = [a for a in mine.values() if a.id != first.id]
        assert new.state is AlertState.FIRING and new.subject == first.subject
        assert (new.params.previous_value, new.params.revision) == (first.params.value, 3)


def test_the_relative_change_of_a_figure() -> None:
    assert revision_watch.relative_change(2.0, 2.1) == pytest.approx(0.05)
    assert revision_watch.relative_change(-2.0, -1.0) == pytest.approx(0.5)
    assert revision_watch.relative_change(0.0, 0.1) == float("inf")  # from zero: any change is beyond
    assert revision_watch.relative_change(0.0, 0.0) == 0.0


async def test_a_history_revised_at_once_gets_a_bounded_number_of_alerts_and_one_log_line(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A re-published history (a rebasing) revises every figure: each is kept, and counted by
    figures.revised; the first MAX_ALERTS_PER_RUN get an alert, the rest one log line."""
    periods = [f"{y}-{m:02d}" for y in range(2018, 2024) for m in range(1, 13)]  # 72 closed months
    first = [ObservationIn(indicator="RETAIL_SALES", area="VN", period=p, value=100.0) for p in periods]
    await store.observations.ingest(Batch("nso", first))
    again = [ObservationIn(indicator="RETAIL_SALES", area="VN", period=p, value=150.0) for p in periods]
    result = await store.observations.ingest(Batch("nso", again))
    assert len(result.revised) == 72
    with caplog.at_level(logging.WARNING):
        judged = await revision_watch.watch(store, RulesSettings(), "nso", result.revised)
    assert len(judged) == 72 and all(w.reasons == ("threshold", "closed") for w in judged)
    assert len(await watched(store)) == revision_watch.MAX_ALERTS_PER_RUN == 50
    assert [r.getMessage() for r in caplog.records] == [
        "revision.watch: 72 revised figures of source nso are worth an alert; the first 50 get one"
    ]
