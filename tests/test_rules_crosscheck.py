"""Cross-checks on the real simulator: provinces against the nation, a derived figure against its
parts, and the statistics office's JSON against its SDMX. Each alert names both figures and the
payload each came from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules import crosschecks
from rules.after_run import Collector
from storage import NATION, Store
from storage.clock import use_clock
from tests.simulator_fixtures import CURRENT, Clock, running

pytest.importorskip("pysdmx")

NOW = datetime(2010, 2, 23, 12, 0, tzinfo=UTC)  # January 2010's monthly figures are out
RULES = RulesSettings()


def sources(base: str) -> list[SourceSettings]:
    out = [
        SourceSettings(name="nso", kind="agency-json", url=f"{base}/agencies/NSO/observations", every="1m"),
        SourceSettings(name="nso-sdmx", kind="sdmx", format="sdmx-csv", url=f"{base}/sdmx/NSO/data.csv", every="5m"),
    ]
    return out + [
        SourceSettings(name=f"province-{c}", kind="agency-json", url=f"{base}/provinces/{c}/observations", every="1m")
        for c in CURRENT
    ]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Store, Collector, Any, Clock]]:
    clock = Clock(NOW)
    with use_clock(clock):
        async with running(clock) as (sim, _):
            store = await Store.open(tmp_path / "ops.db")
            try:
                async with Collector(store, sources(sim.url), CollectorSettings(retries=0)) as collector:
                    await collector.run_many(sorted(collector.sources))
                    yield store, collector, sim, clock
            finally:
                await store.close()


def test_formulas_of_the_catalogue_are_understood() -> None:
    assert crosschecks.parse_formula("derived:EXPORTS-IMPORTS") == [(1, "EXPORTS"), (-1, "IMPORTS")]
    assert crosschecks.parse_formula("A + B - C") == [(1, "A"), (1, "B"), (-1, "C")]
    with pytest.raises(ValueError, match="sums and differences"):
        crosschecks.parse_formula("A*B")


async def test_figures_that_agree_raise_nothing(world: tuple[Store, Collector, Any, Clock]) -> None:
    store, *_ = world
    retail = await store.reference.indicator("RETAIL_SALES")
    assert retail is not None
    assert await crosschecks.check_provinces(store, retail, "2010-01", RULES) is True
    await crosschecks.check_all(store, RULES)
    assert [a for a in await store.alerts.listed() if a.rule.startswith("crosscheck.")] == []


async def test_an_inflated_province_figure_contradicts_the_nation(
    world: tuple[Store, Collector, Any, Clock],
) -> None:
    store, collector, sim, _ = world
    sim.revise(1.0, "/provinces/01/*")
    run = await collector.run("province-01")
    assert run.revised > 0
    retail = await store.reference.indicator("RETAIL_SALES")
    assert retail is not None
    # The simulator revises a province's figure by about 1 %; Hà Nội is a tenth of the nation.
    strict = RulesSettings(tolerance=0.0001)
    own = {f"province-{c}" for c in CURRENT}  # a province's report is its own, not the SDMX's copy
    assert await crosschecks.check_provinces(store, retail, "2010-01", strict, province_sources=own) is False
    [alert] = [
        a
        for a in await store.alerts.listed()
        if a.rule == crosschecks.PROVINCES and a.subject == "RETAIL_SALES/2010-01"
    ]
    national = [f for f in await crosschecks.latest_figures(store, "RETAIL_SALES", "2010-01") if f.area == NATION]
    assert alert.params.reference_value == min(national, key=lambda f: f.source).value
    assert alert.params.reference_digest is not None and len(alert.params.reference_digest) == 64
    assert alert.params.value is not None and alert.params.value != alert.params.reference_value
    assert alert.params.count == 63
    assert alert.detail is not None and "01 " in alert.detail and "sha256:" in alert.detail
    assert str(alert.params.reference_value).split(".")[0] in alert.message


async def test_json_and_sdmx_of_one_series_disagreeing_raise_a_source_alert(
    world: tuple[Store, Collector, Any, Clock],
) -> None:
    store, collector, sim, clock = world
    sim.revise(0.5, "/agencies/NSO/*")
    await collector.run("nso")  # the JSON has the new figures; the SDMX is pulled every 5 minutes
    await crosschecks.check_all(store, RULES)
    alerts = [a for a in await store.alerts.listed() if a.rule == crosschecks.SOURCES]
    assert alerts
    a = alerts[0]
    assert {a.params.source, a.params.reference_source} == {"nso", "nso-sdmx"}
    assert a.params.value != a.params.reference_value
    assert (
        a.params.payload_digest and a.params.reference_digest and a.params.payload_digest != a.params.reference_digest
    )

    clock.advance(minutes=5)
    # A full pull: the simulator's SDMX does not list revised figures under updatedAfter (reported).
    await store.observations.reset_cursor("nso-sdmx")
    caught_up = await collector.run("nso-sdmx")  # the SDMX catches up: the sources agree again
    await crosschecks.check_all(store, RULES)
    left = [a for a in await store.alerts.listed() if a.rule == crosschecks.SOURCES]
    assert left == [], [
        caught_up,
        *(f for f in await crosschecks.latest_figures(store, "IIP_YOY", "2010-01") if f.area == NATION),
    ]


async def test_a_derived_figure_is_checked_against_its_formula(store: Store) -> None:
    from storage import Batch, ObservationIn

    def obs(code: str, value: float) -> ObservationIn:
        return ObservationIn(indicator=code, area=NATION, period="2024-05", value=value)

    await store.observations.ingest(
        Batch("cus", [obs("EXPORTS", 35.2), obs("IMPORTS", 33.1), obs("TRADE_BALANCE", 2.1)])
    )
    balance = await store.reference.indicator("TRADE_BALANCE")
    assert balance is not None
    assert await crosschecks.check_derived(store, balance, "2024-05", RULES) is True
    await store.observations.ingest(Batch("cus", [obs("TRADE_BALANCE", 3.4)]))
    assert await crosschecks.check_derived(store, balance, "2024-05", RULES) is False
    [alert] = [a for a in await store.alerts.listed() if a.rule == crosschecks.DERIVED]
    assert alert.params.value == 3.4 and alert.params.reference_value == pytest.approx(2.1)
    assert alert.params.payload_digest is None  # ingested without a payload: nothing to point at


async def test_a_partial_sum_of_the_provinces_alerts_only_once_it_exceeds_the_nation(store: Store) -> None:
    """Provinces still to report can only add to a sum of figures that are not negative: a partial
    sum below the nation says nothing, one above it is already a contradiction."""
    from datetime import date

    from storage import Batch, ObservationIn

    provinces = [a.code for a in await store.reference.areas_in_force(date(2025, 10, 31))]
    assert len(provinces) == 34

    def obs(area: str, value: float) -> ObservationIn:
        return ObservationIn(indicator="EXPORTS", area=area, period="2025-10", value=value)

    await store.observations.ingest(Batch("cus", [obs(NATION, 340.0)]))
    exports = await store.reference.indicator("EXPORTS")
    assert exports is not None
    first = [obs(code, 9.0) for code in provinces[:30]]  # 30 of 34 so far: 270 of 340
    await store.observations.ingest(Batch("provinces", first))
    assert await crosschecks.check_provinces(store, exports, "2025-10", RULES) is None
    assert [a for a in await store.alerts.listed() if a.rule == crosschecks.PROVINCES] == []

    await store.observations.ingest(
        Batch("provinces", [obs(provinces[0], 90.0)])
    )  # one keyed in ten times too large: 351
    assert await crosschecks.check_provinces(store, exports, "2025-10", RULES) is False
    [alert] = [a for a in await store.alerts.listed() if a.rule == crosschecks.PROVINCES]
    assert (alert.params.count, alert.params.expected) == (30, 34)
    assert alert.params.value == pytest.approx(351.0) and alert.params.reference_value == 340.0
    assert "30/34" in alert.message

    await store.observations.ingest(
        Batch("provinces", [obs(provinces[0], 9.0)])
    )  # corrected: the partial sum says nothing again
    assert await crosschecks.check_provinces(store, exports, "2025-10", RULES) is None
    assert [a for a in await store.alerts.listed() if a.rule == crosschecks.PROVINCES] == []
