"""The late-report rule after a run judges again only what the run touched, with the alerts a full
pass gives: two real stores fed the same runs on the same clock, one evaluated as the serving
process does (``RulesState`` kept between passes), one with a full pass each time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules import crosschecks, reporting
from rules.after_run import Collector
from rules.evaluation import RulesState, evaluate_rules
from storage import NATION, Batch, ObservationIn, RunOutcome, RunTrigger, Store
from storage.clock import ManualClock, use_clock
from tests.simulator_fixtures import Clock, running
from tests.test_rules_reporting import START, provinces

RULES = RulesSettings()
SOURCES = [SourceSettings(name="prov", kind="agency-json", url="http://127.0.0.1:9/prov", every="15m")]
CODES = ["RETAIL_SALES", "NEW_ENTERPRISES", "TRAFFIC_ACCIDENTS"]


def figures(code: str, period: str, areas: Sequence[str], skip: Sequence[str] = ()) -> list[ObservationIn]:
    """One indicator's period: each province's figure, and the nation's as their sum."""
    own = [
        ObservationIn(indicator=code, area=a, period=period, value=float(10 + i))
        for i, a in enumerate(areas)
        if a not in skip
    ]
    total = sum(10.0 + i for i in range(len(areas)))
    return [*own, ObservationIn(indicator=code, area=NATION, period=period, value=total)]


def seen(alerts: Sequence[Any]) -> list[tuple[object, ...]]:
    """What a user sees of the alerts (not the ids or times, which differ between two stores)."""
    return sorted(
        (a.rule, a.subject, a.state.value, a.severity.value, a.message, a.params.model_dump_json()) for a in alerts
    )


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store, ManualClock]]:
    clock = ManualClock(datetime(2030, 2, 10, 12, tzinfo=UTC))
    with use_clock(clock):
        incremental = await Store.open(tmp_path / "incremental.db")
        full = await Store.open(tmp_path / "full.db")
        try:
            yield incremental, full, clock
        finally:
            await incremental.close()
            await full.close()


async def test_runs_judged_incrementally_give_the_alerts_of_a_full_pass(
    stores: tuple[Store, Store, ManualClock],
) -> None:
    incremental, full, clock = stores
    areas = [a.code for a in await incremental.reference.areas_in_force(date(2030, 1, 31))]
    x, y = areas[3], areas[7]
    state = RulesState()

    async def run(recs: list[ObservationIn]) -> None:
        """One run of the source into both stores, then the rules after it: incremental, and full."""
        touched = sorted({r.indicator for r in recs})
        for store, kept in ((incremental, state), (full, None)):
            started = await store.runs.start("prov", RunTrigger.SCHEDULE)
            result = await store.observations.ingest(Batch("prov", recs, run_id=started.id))
            await store.runs.finish(started.id, RunOutcome.SUCCESS, fetched=len(recs), new=result.new)
            inds = [i for i in await store.reference.indicators() if i.code in touched]
            periods = {c: sorted({r.period for r in recs if r.indicator == c}) for c in touched}
            await evaluate_rules(
                store, RULES, SOURCES, source="prov", indicators=inds, periods=periods, run_id=started.id, state=kept
            )
        assert seen(await incremental.alerts.listed()) == seen(await full.alerts.listed())

    async def timer() -> None:
        await evaluate_rules(incremental, RULES, SOURCES, state=state)
        await evaluate_rules(full, RULES, SOURCES)
        assert seen(await incremental.alerts.listed()) == seen(await full.alerts.listed())

    async def late(store: Store) -> set[str]:
        return {a.subject for a in await store.alerts.listed() if a.rule == reporting.REPORT_LATE}

    # 10 February: December and January come in, except x's retail sales and y's new enterprises
    # for January (not due until the end of 25 February).
    await run(
        [r for c in CODES for r in figures(c, "2029-12", areas)]
        + figures(CODES[0], "2030-01", areas, skip=[x])
        + figures(CODES[1], "2030-01", areas, skip=[y])
        + figures(CODES[2], "2030-01", areas)
    )
    assert await late(incremental) == set()
    clock.advance(timedelta(days=17))  # 27 February: January is due; the timer pass finds both late
    await timer()
    assert await late(incremental) == {x, y}

    await run(figures(CODES[0], "2030-01", [x]))  # x reports: resolved after that run, no timer pass
    assert await late(incremental) == {y}
    await run(figures(CODES[2], "2030-01", areas[:5]))  # a run of another indicator: y still owes
    assert await late(incremental) == {y}

    # 27 March: February is due and nobody sent it; no timer pass, but a run of one indicator: the
    # other indicators' kept January rows are read again, since time has moved them on.
    clock.advance(timedelta(days=28))
    await run(figures(CODES[2], "2030-02", areas))
    owners = {i.owner for i in await incremental.reference.indicators() if i.code in CODES[:2]}  # the national figures'
    assert await late(incremental) == set(areas) | owners
    await run(figures(CODES[0], "2030-02", areas) + figures(CODES[1], "2030-02", areas))
    assert await late(incremental) == set()
    await timer()


async def test_a_run_reads_again_only_the_indicators_it_touched(
    stores: tuple[Store, Store, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes the pass after a run cheap: the other indicators' completeness is kept."""
    store, _, clock = stores
    areas = [a.code for a in await store.reference.areas_in_force(date(2030, 1, 31))]
    started = await store.runs.start("prov", RunTrigger.SCHEDULE)
    await store.observations.ingest(
        Batch("prov", [r for c in CODES for r in figures(c, "2030-01", areas)], run_id=started.id)
    )
    await store.runs.finish(started.id, RunOutcome.SUCCESS)
    state = RulesState()
    await reporting.check_late(store, RULES, clock(), state=state.late)  # the timer's full pass
    asked: list[str] = []
    read_rows = store.read_rows

    async def recording(sql: str, params: Sequence[object] = ()) -> list[Any]:
        if "FROM observations WHERE indicator = ?" in sql:
            asked.append(str(params[0]))
        return await read_rows(sql, params)

    monkeypatch.setattr(store, "read_rows", recording)
    await reporting.check_late(store, RULES, clock(), state=state.late, touched=[CODES[1]])
    assert set(asked) == {CODES[1]}


async def test_a_late_report_arriving_resolves_its_alert_after_its_run(tmp_path: Path) -> None:
    """On the real simulator, as the serving process runs it: the rules timer's pass finds the
    province late; its own run (the rules after it, with the Collector's kept state) resolves it."""
    clock = Clock(START)
    with use_clock(clock):
        async with running(clock) as (sim, _):
            store = await Store.open(tmp_path / "ops.db")
            try:
                async with Collector(store, provinces(sim.url), CollectorSettings(retries=0)) as collector:
                    collector.rules = RULES
                    names = sorted(collector.sources)
                    await collector.run_many(names)
                    clock.advance(days=13)  # 23 February: every province has published January
                    silent = "province-04"
                    await collector.run_many([n for n in names if n != silent])
                    clock.advance(days=4)  # 27 February: January was due by the end of the 25th
                    await evaluate_rules(store, RULES, list(collector.sources.values()), state=collector.rules_state)
                    late = {a.subject for a in await store.alerts.listed() if a.rule == reporting.REPORT_LATE}
                    assert "04" in late
                    clock.advance(days=1)
                    await collector.run(silent)
                    after = {a.subject for a in await store.alerts.listed() if a.rule == reporting.REPORT_LATE}
                    assert after == late - {"04"}
            finally:
                await store.close()


async def test_two_sources_compared_where_a_run_carried_figures_give_the_alerts_of_a_full_pass(
    stores: tuple[Store, Store, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a run, two sources' figures are compared in the areas it carried only (another area's
    figures did not change with it): the same alerts as comparing every area, once the timer pass
    (``tick``) has fired what fell due meanwhile; and only those areas are read."""
    incremental, full, clock = stores
    a, b, c = [x.code for x in await incremental.reference.areas_in_force(date(2030, 1, 31))][:3]
    code, period = CODES[0], "2030-01"
    sources = [
        SourceSettings(name=n, kind="agency-json", url=f"http://127.0.0.1:9/{n}", every="15m") for n in ("one", "two")
    ]
    state = RulesState()
    asked: list[list[str]] = []

    async def run(source: str, values: dict[str, float]) -> set[tuple[str, str]]:
        """One run of ``source`` into both stores, the rules after it (the areas it carried, or
        every area), the timer pass; returns the crosscheck.sources alerts firing."""
        recs = [ObservationIn(indicator=code, area=area, period=period, value=v) for area, v in values.items()]
        for store, kept in ((incremental, state), (full, None)):
            started = await store.runs.start(source, RunTrigger.SCHEDULE)
            result = await store.observations.ingest(Batch(source, recs, run_id=started.id))
            await store.runs.finish(started.id, RunOutcome.SUCCESS, fetched=len(recs), new=result.new)
            await evaluate_rules(
                store, RULES, sources, source=source, indicators=store.reference.listed([code]),
                periods={code: [period]}, run_id=started.id, state=kept,
                areas={code: set(values)} if kept is not None else None,
            )  # fmt: skip
            await store.alerts.tick()
        alerts = await incremental.alerts.listed()
        assert seen(alerts) == seen(await full.alerts.listed())
        return {(x.subject, x.state.value) for x in alerts if x.rule == crosschecks.SOURCES}

    latest = crosschecks.latest_figures

    async def recording(store: Store, indicator: str, period: str, areas: Sequence[str] | None = None) -> Any:
        if store is incremental:
            asked.append(sorted(areas or ["every area"]))
        return await latest(store, indicator, period, areas)

    monkeypatch.setattr(crosschecks, "latest_figures", recording)
    assert await run("one", {a: 100.0, b: 200.0, c: 300.0}) == set()
    assert await run("two", {a: 100.0, b: 250.0}) == {(f"{code}/{b}/{period}", "pending")}  # polling lag: 15 min
    clock.advance(timedelta(minutes=20))
    asked.clear()
    # A run that carried c alone: b's disagreement still fires once its `for` has passed (the tick).
    assert await run("one", {c: 300.0}) == {(f"{code}/{b}/{period}", "firing")}
    assert asked == [sorted([NATION, c])], "the nation's figure (none: no province read) and the run's area"
    assert await run("two", {b: 200.0}) == set()  # b agrees again
    assert await run("one", {a: 120.0}) == {(f"{code}/{a}/{period}", "pending")}
