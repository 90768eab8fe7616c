"""Anomalies: a figure outside its band (``anomaly.band``) and a change unlike the series' past
ones (``anomaly.outlier``), on the real simulator; the modified z-score itself; bad settings refused.

The clock is the demo day (23 November 2026): October's CPI (2.68) is the newest, provisional.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from collectors.config import CollectorSettings, IndicatorRules, RulesSettings, SourceSettings
from rules import anomalies
from rules.after_run import Collector
from rules.evaluation import evaluate_rules
from simulator import scenarios
from simulator.scenarios import Scenario, Step
from storage import Alert, AlertState, Severity, Store
from storage.clock import use_clock
from tests.conftest import run_cli
from tests.simulator_fixtures import Clock, running


@asynccontextmanager
async def centre(
    tmp_path: Path, scenario: str, rules: RulesSettings, agency: str = "NSO", provinces: tuple[str, ...] = ()
) -> AsyncIterator[tuple[Store, Collector, Clock]]:
    """The simulator playing ``scenario`` and a collector of one agency's system (or of provinces'
    own systems), on one clock."""
    clock = Clock()
    with use_clock(clock):
        async with running(clock, scenario=scenario) as (sim, _):
            sources = [
                SourceSettings(name=f"province-{c}", kind="agency-json", url=f"{sim.url}/provinces/{c}/observations",
                               every="1m")
                for c in provinces
            ] or [
                SourceSettings(
                    name=agency.lower(),
                    kind="agency-json",
                    url=f"{sim.url}/agencies/{agency}/observations",
                    every="1m",
                    agency=agency,
                )
            ]  # fmt: skip
            store = await Store.open(tmp_path / "ops.db")
            try:
                async with Collector(store, sources, CollectorSettings(retries=0)) as collector:
                    collector.rules = rules
                    yield store, collector, clock
            finally:
                await store.close()


async def collect(collector: Collector) -> None:
    for run in await collector.run_many(collector.sources):
        assert run.outcome.value == "success", run.error


async def of_rule(store: Store, rule: str, *, open_only: bool = True) -> list[Alert]:
    return [a for a in await store.alerts.listed(open_only=open_only, limit=100_000) if a.rule == rule]


# --- the modified z-score ------------------------------------------------------------------------------


def test_the_modified_z_score_of_iglewicz_and_hoaglin() -> None:
    history = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # median 3.5, MAD 1.5
    assert anomalies.modified_z(history, 10.0) == pytest.approx(0.6745 * 6.5 / 1.5)
    assert anomalies.modified_z(history, -3.0) == pytest.approx(-0.6745 * 6.5 / 1.5)  # either way
    assert anomalies.modified_z(history, 3.5) == 0.0


def test_too_little_history_or_a_flat_one_gives_no_score() -> None:
    assert anomalies.modified_z([1.0, 2.0, 3.0, 4.0, 5.0], 100.0) is None  # 5 changes: fewer than 6
    assert anomalies.modified_z([0.5] * 12, 100.0) is None  # flat: no spread to judge a change by


def test_a_zero_mad_gives_no_score() -> None:
    # More than half the changes equal (a count that mostly stays put, a rate held for months): no
    # typical change to measure one against. A province's daily cases going 1 -> 0 is not news.
    assert anomalies.modified_z([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0], -1.0) is None


def test_float_noise_is_no_spread() -> None:
    # A stock growing by 0.001 a month: its differences differ by float noise only (1e-17), so the
    # MAD must be 0 (no score), not 1e-17 (a score of 1e14 for the next 0.002).
    values = [round(0.2 + 0.001 * k, 3) for k in range(30)] + [0.231]
    series = [(f"{2000 + k // 12}-{k % 12 + 1:02d}", v) for k, v in enumerate(values)]
    [(_, value, previous, z)] = anomalies.score_series(series, [series[-1][0]], 36)
    assert (value, previous) == (0.231, 0.229) and z is None


def test_a_series_scores_each_period_against_the_changes_before_it() -> None:
    series = [(f"2026-{m:02d}", v) for m, v in enumerate([10, 11, 10, 12, 11, 12, 13, 130, 13], start=1)]
    scored = {p: (v, prev, z) for p, v, prev, z in anomalies.score_series(series, ["2026-08", "2026-02"], 6)}
    value, previous, z = scored["2026-08"]
    assert (value, previous) == (130, 13) and z is not None and z > 50
    assert scored["2026-02"][2] is None  # one change before it: no score
    assert anomalies.score_series(series, ["2026-01"], 6) == []  # the first period has no change


# --- outliers on the real simulator --------------------------------------------------------------------


async def test_a_figure_keyed_ten_times_too_large_fires_and_resolves_when_corrected(tmp_path: Path) -> None:
    # The demo's outlier scenario: at 70 s the newest international arrivals x 10, at 200 s corrected.
    async with centre(tmp_path, "outlier", RulesSettings(), agency="VNAT") as (store, collector, clock):
        await collect(collector)
        assert await of_rule(store, anomalies.ANOMALY_OUTLIER) == [], "the history's newest periods are ordinary"
        [(period,)] = await store.read_rows(
            "SELECT max(period) FROM observations WHERE indicator = 'INTL_ARRIVALS' AND area = 'VN'"
        )
        [before] = [o for o in await store.observations.history("INTL_ARRIVALS", "VN", since=period)]

        clock.advance(seconds=70)
        await collect(collector)
        [alert] = await of_rule(store, anomalies.ANOMALY_OUTLIER)
        p = alert.params
        assert alert.subject == f"INTL_ARRIVALS/VN/{period}" and alert.state is AlertState.FIRING
        assert alert.severity is Severity.WARNING
        assert p.value == pytest.approx(before.value * 10, rel=1e-3) and p.source == "vnat"
        previous = [o for o in await store.observations.history("INTL_ARRIVALS", "VN") if o.period < period][-1]
        assert p.previous_value == previous.value  # the previous period's figure
        assert p.score is not None and p.score > 5 and p.threshold == 5.0

        clock.advance(seconds=130)  # at 200 s the figure is corrected
        await collect(collector)
        assert await of_rule(store, anomalies.ANOMALY_OUTLIER) == []
        [resolved] = await of_rule(store, anomalies.ANOMALY_OUTLIER, open_only=False)
        assert resolved.id == alert.id and resolved.state is AlertState.RESOLVED


async def test_a_first_pull_judges_no_history_and_no_former_province(tmp_path: Path) -> None:
    """What the centre did not watch arrive is not news: a first pull brings years of history (the
    lumpy foreign investment of Đồng Tháp, 82, has changes that score beyond 5 among its newest),
    and a province merged in 2025 (Bạc Liêu, 95, whose history Cà Mau's system serves) keeps a last
    figure (CPI 4.83 % of June 2025) that says nothing about now."""
    async with centre(tmp_path, "none", RulesSettings(), provinces=("82", "96")) as (store, collector, _):
        await collect(collector)
        assert [a.subject for a in await of_rule(store, anomalies.ANOMALY_OUTLIER)] == []
        assert [a.subject for a in await of_rule(store, anomalies.ANOMALY_BAND)] == []
        await evaluate_rules(store, RulesSettings(), list(collector.sources.values()))  # the timer pass
        assert [a.subject for a in await of_rule(store, anomalies.ANOMALY_BAND)] == []


# --- bands on the real simulator -----------------------------------------------------------------------


def cpi_steps() -> Scenario:
    cpi = {"indicator": "CPI_YOY", "area": "VN", "status": "provisional"}
    return Scenario(
        "test-band",
        "October's CPI up past 4.5, then past 6, then corrected",
        (
            Step(10, "adjust", "CPI 2.68 -> 4.68", {**cpi, "points": 2.0}),
            Step(20, "adjust", "CPI 4.68 -> 6.18", {**cpi, "points": 1.5}),
            Step(30, "restore", "CPI back to 2.68", {"indicator": "CPI_YOY", "area": "VN"}),
        ),
    )


async def test_the_newest_figure_beyond_a_band_fires_with_its_severity_and_resolves_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(scenarios.SCENARIOS, "test-band", cpi_steps())
    async with centre(tmp_path, "test-band", RulesSettings()) as (store, collector, clock):
        await collect(collector)
        assert await of_rule(store, anomalies.ANOMALY_BAND) == [], "2.68 % is inside the built-in CPI band"

        clock.advance(seconds=10)
        await collect(collector)
        [warning] = await of_rule(store, anomalies.ANOMALY_BAND)
        assert warning.subject == "CPI_YOY/VN" and warning.severity is Severity.WARNING
        p = warning.params
        assert (p.indicator, p.area, p.period, p.source) == ("CPI_YOY", "VN", "2026-10", "nso")
        assert (p.value, p.threshold, p.reason) == (4.68, 4.5, "warning_high")

        clock.advance(seconds=10)
        await collect(collector)
        [critical] = await of_rule(store, anomalies.ANOMALY_BAND)
        assert critical.id == warning.id and critical.severity is Severity.CRITICAL
        assert (critical.params.value, critical.params.threshold, critical.params.reason) == (
            6.18,
            6.0,
            "critical_high",
        )

        clock.advance(seconds=10)
        await collect(collector)
        assert await of_rule(store, anomalies.ANOMALY_BAND) == []


async def test_a_configured_band_replaces_the_built_in_one_and_the_timer_pass_applies_it(tmp_path: Path) -> None:
    async with centre(tmp_path, "none", RulesSettings()) as (store, collector, _):
        await collect(collector)
        assert await of_rule(store, anomalies.ANOMALY_BAND) == []
        # [rules.indicators.CPI_YOY] warning_low = 3: the built-in band (4.5, 6) is gone with it.
        own = RulesSettings(indicators={"CPI_YOY": IndicatorRules(warning_low=3.0)})
        await evaluate_rules(store, own, list(collector.sources.values()))
        [low] = await of_rule(store, anomalies.ANOMALY_BAND)
        assert (low.params.value, low.params.threshold, low.params.reason) == (2.68, 3.0, "warning_low")
        assert anomalies.band_of(own, "CPI_YOY") == anomalies.Band(warning_low=3.0)
        assert anomalies.band_of(own, "GDP_GROWTH") == anomalies.DEFAULT_BANDS["GDP_GROWTH"]


def test_a_value_on_each_side_of_each_limit() -> None:
    band = anomalies.Band(critical_low=0.0, warning_low=1.0, warning_high=4.5, critical_high=6.0)
    assert anomalies.outside(band, 4.5) is None and anomalies.outside(band, 1.0) is None  # the limits are inside
    assert anomalies.outside(band, 4.6) == (Severity.WARNING, "warning_high", 4.5)
    assert anomalies.outside(band, 6.1) == (Severity.CRITICAL, "critical_high", 6.0)
    assert anomalies.outside(band, 0.5) == (Severity.WARNING, "warning_low", 1.0)
    assert anomalies.outside(band, -0.1) == (Severity.CRITICAL, "critical_low", 0.0)


# --- bad settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (
            "[rules.indicators.CPI_YOY]\nwarning_high = 6.0\ncritical_high = 4.5\n",
            "rules.indicators.CPI_YOY: bands must nest: critical_low < warning_low < warning_high < critical_high"
            " (got warning_high 6.0, critical_high 4.5)",
        ),
        (
            "[rules.indicators.IIP_YOY]\nwarning_low = 5.0\nwarning_high = 1.0\n",
            "rules.indicators.IIP_YOY: bands must nest",
        ),
        (
            "[rules.indicators.CPI_YOY]\nwarning_high = 6.0\ncritical_high = 6.0\n",  # a warning that never shows
            "rules.indicators.CPI_YOY: bands must nest",
        ),
        ("[rules.indicators.GDP_GROWTH]\ncritical_low = nan\n", "rules.indicators.GDP_GROWTH.critical_low: "),
        ("[rules.indicators.CPI_YOY]\nwarning_high = inf\n", "rules.indicators.CPI_YOY.warning_high: "),
        ("[rules]\noutlier_z = 0\n", "rules.outlier_z: Input should be greater than 0 (got 0)"),
        ("[rules]\noutlier_z = -2.5\n", "rules.outlier_z: Input should be greater than 0"),
        ("[rules]\noutlier_z = inf\n", "rules.outlier_z: "),
        ("[rules]\noutlier_history = 5\n", "rules.outlier_history: Input should be greater than or equal to 6"),
        ("[rules]\nrevision_threshold = -0.1\n", "rules.revision_threshold: "),
        ("[rules]\nrepeated_revisions = 1\n", "rules.repeated_revisions: "),
        ("[rules.indicators.NO_SUCH]\nwarning_high = 1.0\n", "rules.indicators.NO_SUCH: unknown indicator"),
    ],
)
def test_check_config_refuses_bad_rule_settings_naming_the_key(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "ops.toml"
    path.write_text(toml, encoding="utf-8")
    result = run_cli("check-config", str(path))
    assert result.returncode == 2, result.stdout
    assert "invalid configuration" in result.stderr and problem in result.stderr, result.stderr
