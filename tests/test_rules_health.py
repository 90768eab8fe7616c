"""Collector health and stale data, on the real simulator and a clock the test moves: a source that
is down (``source.down``) mutes its own failing, late-report and stale alerts and resolves when it is
back; a flapping source is one alert, never resolved in between; a source without a good run for k
intervals is stale (``data.stale``), not before; a portal counter that goes down fires
(``counter.decreased``) with before and after; ``/metrics`` counts the open alerts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules import reporting, source_health
from rules.after_run import Collector
from rules.evaluation import rules_timer
from storage import Alert, AlertState, RunOutcome, Severity, Store
from storage.clock import to_text, use_clock
from tests.feedkit import feed_server
from tests.simulator_fixtures import Clock, running
from tests.test_rules_reporting import RULES, START, provinces

FAILING = "source.failing"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def fault(sim: Any, **spec: Any) -> None:
    """A fault through the simulator's admin API, as an operator would inject it."""
    async with httpx.AsyncClient() as http:
        response = await http.put(f"{sim.url}/_admin/faults", json=spec)
        assert response.status_code in (200, 201, 204), response.text


async def clear(sim: Any) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.delete(f"{sim.url}/_admin/faults")).status_code in (200, 204)


def agency(base: str, name: str = "mof", **kw: Any) -> SourceSettings:
    return SourceSettings(
        name=name, kind="agency-json", url=f"{base}/agencies/{name.upper()}/observations", agency=name.upper(), **kw
    )


async def open_alerts(store: Store) -> dict[tuple[str, str], Alert]:
    return {(a.rule, a.subject): a for a in await store.alerts.listed(limit=100_000)}


async def states(store: Store, alert: Alert) -> list[str]:
    return [state.value for _, state, _, _ in await store.alerts.transitions(alert.id)]


async def until_probe(collector: Collector, name: str, timeout: float = 30) -> RunOutcome:
    """Run ``name`` until its breaker lets a probe through (its reset is on real time); a bounded wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = await collector.run(name)
        if run.outcome is not RunOutcome.SKIPPED:
            return run.outcome
        assert loop.time() < deadline, f"{name}: its breaker never let a probe through"
        await asyncio.sleep(0.05)


# --- source.down ----------------------------------------------------------------------------------------


async def test_a_downed_source_fires_mutes_its_own_late_report_and_stale_alerts_and_resolves_when_back(
    tmp_path: Path,
) -> None:
    clock = Clock(START)
    settings = CollectorSettings(retries=0, breaker_failures=2, breaker_reset=timedelta(seconds=0.3))
    with use_clock(clock):
        async with running(clock) as (sim, _):
            sources = provinces(sim.url)
            names = sorted(s.name for s in sources)
            async with await Store.open(tmp_path / "ops.db") as store, Collector(store, sources, settings) as collector:
                await collector.run_many(names)  # the centre watches from before January's reports
                clock.advance(days=13)
                await collector.run_many(names)  # every province reports January
                clock.advance(days=28)  # 23 March: February's reports are out, but 04's system is down
                await fault(sim, endpoint="/provinces/04/*", kind="http_error", status=503)
                assert {r.outcome for r in await collector.run_many(["province-04", "province-04"])} == {
                    RunOutcome.FAILED
                }
                alerts = await open_alerts(store)
                down = alerts[(source_health.SOURCE_DOWN, "province-04")]
                assert down.state is AlertState.FIRING and down.severity is Severity.CRITICAL
                good = await source_health.last_good(store, "province-04")
                assert good is not None
                p = down.params
                assert (p.source, p.area, p.failures, p.last_good) == ("province-04", "04", 2, to_text(good))
                assert alerts[(FAILING, "province-04")].inhibited_by == down.id  # one page, not two

                clock.advance(days=4)  # February was due by the end of 25 March
                await collector.run_many([n for n in names if n != "province-04"])  # the others are fresh
                await reporting.check_late(store, RULES, clock())
                stale = await source_health.check_stale(store, RULES, sources, clock(), watching_since=START)
                assert stale == ["province-04"]
                alerts = await open_alerts(store)
                late, old = alerts[(reporting.REPORT_LATE, "04")], alerts[(source_health.DATA_STALE, "province-04")]
                assert late.state is AlertState.FIRING and old.state is AlertState.FIRING
                assert late.inhibited_by == down.id and old.inhibited_by == down.id  # its own: muted
                assert old.params.last_good == to_text(good) and old.params.count is not None
                assert old.params.count >= RULES.stale_intervals
                others = [a for (rule, _), a in alerts.items() if rule == reporting.REPORT_LATE and a.id != late.id]
                assert all(a.inhibited_by is None for a in others)  # not another province's

                await clear(sim)  # the system is back: the next probe succeeds
                assert await until_probe(collector, "province-04") is RunOutcome.SUCCESS
                await reporting.check_late(store, RULES, clock())
                alerts = await open_alerts(store)
                assert (source_health.SOURCE_DOWN, "province-04") not in alerts
                assert (source_health.DATA_STALE, "province-04") not in alerts
                assert (reporting.REPORT_LATE, "04") not in alerts
                assert await states(store, down) == ["firing", "resolved"]


# --- source.failing: hysteresis -------------------------------------------------------------------------


async def test_a_flapping_source_is_one_alert_never_resolved_in_between(tmp_path: Path) -> None:
    clock = Clock(T0)
    with use_clock(clock):
        async with running(clock) as (sim, _):
            src = agency(sim.url, every="1m")
            async with (
                await Store.open(tmp_path / "ops.db") as store,
                Collector(store, [src], CollectorSettings(retries=0)) as collector,
            ):
                outcomes = []
                for step in range(4):  # fail, succeed, fail, succeed: 10 s apart, within one interval
                    if step % 2 == 0:
                        await fault(sim, endpoint="/agencies/MOF/*", kind="http_error", status=503)
                    else:
                        await clear(sim)
                    outcomes.append((await collector.run("mof")).outcome)
                    await store.alerts.tick()
                    clock.advance(seconds=10)
                assert outcomes == [RunOutcome.FAILED, RunOutcome.SUCCESS] * 2
                [alert] = [a for a in await store.alerts.listed(open_only=False) if a.rule == FAILING]
                assert alert.state is AlertState.FIRING
                assert await states(store, alert) == ["firing"]  # never resolved in between

                clock.advance(seconds=40)  # 50 s after the last good run: still within its interval
                await store.alerts.tick()
                assert (FAILING, "mof") in await open_alerts(store)
                clock.advance(seconds=11)  # one interval (1 min) clear: resolved
                await store.alerts.tick()
                assert (FAILING, "mof") not in await open_alerts(store)
                [alert] = [a for a in await store.alerts.listed(open_only=False) if a.rule == FAILING]
                assert await states(store, alert) == ["firing", "resolved"]


# --- data.stale -----------------------------------------------------------------------------------------


async def test_a_stale_source_fires_after_k_intervals_on_the_timer_not_before(tmp_path: Path) -> None:
    clock = Clock(T0)
    rules = RulesSettings(every=timedelta(seconds=0.05), stale_intervals=3)
    with use_clock(clock):
        async with running(clock) as (sim, _):
            polled = agency(sim.url, "mof", every="1m")
            never = agency(sim.url, "sbv", every="2m")  # configured, but its scheduler never runs it
            async with (
                await Store.open(tmp_path / "ops.db") as store,
                Collector(store, [polled, never], CollectorSettings(retries=0)) as collector,
            ):
                timer = asyncio.create_task(rules_timer(store, rules, [polled, never]))
                try:
                    assert (await collector.run("mof")).outcome is RunOutcome.SUCCESS
                    good = await source_health.last_good(store, "mof")
                    assert good == T0
                    await fault(sim, endpoint="/agencies/MOF/*", kind="http_error", status=503)
                    clock.advance(seconds=30)
                    assert (await collector.run("mof")).outcome is RunOutcome.FAILED

                    clock.set(T0 + timedelta(minutes=3))  # exactly k intervals: not yet
                    await passes(store, 3)
                    assert (source_health.DATA_STALE, "mof") not in await open_alerts(store)
                    clock.set(T0 + timedelta(minutes=3, seconds=1))
                    stale = await until(store, (source_health.DATA_STALE, "mof"))
                    assert stale.state is AlertState.FIRING and stale.severity is Severity.WARNING
                    p = stale.params
                    assert (p.source, p.agency, p.count, p.last_good) == ("mof", "MOF", 3, to_text(T0))
                    # muted by the failing source (it says why the data is stale)
                    assert stale.inhibited_by == (await open_alerts(store))[(FAILING, "mof")].id
                    assert (source_health.DATA_STALE, "sbv") not in await open_alerts(store)  # 2-minute interval

                    clock.set(T0 + timedelta(minutes=6, seconds=1))  # sbv: never a good run in 3 × 2 min
                    never_ran = await until(store, (source_health.DATA_STALE, "sbv"))
                    assert never_ran.params.last_good is None and never_ran.params.count == 3
                    assert never_ran.inhibited_by is None  # nothing else says so: this is the page

                    await clear(sim)
                    assert (await collector.run("mof")).outcome is RunOutcome.SUCCESS  # a good run: fresh
                    assert (source_health.DATA_STALE, "mof") not in await open_alerts(store)
                    await passes(store, 3)
                    assert (source_health.DATA_STALE, "mof") not in await open_alerts(store)  # the timer agrees
                finally:
                    timer.cancel()
                    await asyncio.gather(timer, return_exceptions=True)


async def passes(store: Store, n: int) -> None:
    """Let the rules timer (every 0.05 s) make at least ``n`` passes on the current clock."""
    for _ in range(n):
        await asyncio.sleep(0.1)


async def until(store: Store, key: tuple[str, str], timeout: float = 30) -> Alert:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (found := (await open_alerts(store)).get(key)) is None:
        assert loop.time() < deadline, f"{key}: no alert"
        await asyncio.sleep(0.05)
    return found


# --- counter.decreased ----------------------------------------------------------------------------------


async def test_a_portal_counter_that_goes_down_fires_with_before_and_after(tmp_path: Path) -> None:
    clock = Clock(T0)
    subject = "PORTAL_DOSSIERS_SYNCED/VN"
    with use_clock(clock):
        async with running(clock, scenario="counter-drop") as (sim, _):  # x0.9 at +110 s, right at +170 s
            portal = SourceSettings(name="portal", kind="portal", url=f"{sim.url}/portal/counters", every="5s")
            async with (
                await Store.open(tmp_path / "ops.db") as store,
                Collector(store, [portal], CollectorSettings(retries=0)) as collector,
            ):

                async def read(at: int) -> dict[tuple[str, str], Alert]:
                    clock.set(T0 + timedelta(seconds=at))
                    assert (await collector.run("portal")).outcome is RunOutcome.SUCCESS
                    return await open_alerts(store)

                assert not [k for k in await read(100) if k[0] == source_health.COUNTER_DECREASED]
                [before] = [
                    o for o in await store.observations.history("PORTAL_DOSSIERS_SYNCED", "VN") if o.source == "portal"
                ]
                dipped = (await read(111))[(source_health.COUNTER_DECREASED, subject)]
                after = (await store.observations.history("PORTAL_DOSSIERS_SYNCED", "VN"))[-1]
                assert after.value < before.value
                p = dipped.params
                assert (p.indicator, p.area, p.source) == ("PORTAL_DOSSIERS_SYNCED", "VN", "portal")
                assert (p.previous_value, p.value, p.period) == (before.value, after.value, after.period)
                assert dipped.state is AlertState.FIRING and dipped.severity is Severity.WARNING
                # only the counter that went down: every other counter, and the provinces' split, rose
                assert [k for k in await open_alerts(store) if k[0] == source_health.COUNTER_DECREASED] == [
                    (source_health.COUNTER_DECREASED, subject)
                ]

                still = (await read(140))[(source_health.COUNTER_DECREASED, subject)]  # still low, though it grew
                assert still.id == dipped.id and still.params.previous_value == before.value
                assert (source_health.COUNTER_DECREASED, subject) not in await read(171)  # right again: resolved
                assert await states(store, dipped) == ["firing", "resolved"]


# --- /metrics ---------------------------------------------------------------------------------------------


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Store, str]]:
    async with feed_server(tmp_path / "ops.db") as server:
        yield server.store, f"http://127.0.0.1:{server.port}/metrics"


async def test_metrics_count_the_open_alerts_by_state_and_severity(served: tuple[Store, str]) -> None:
    store, url = served
    for subject in ("mof", "sbv"):
        await store.alerts.fire(
            source_health.SOURCE_DOWN, subject, Severity.CRITICAL, f"Nguồn {subject} ngừng hoạt động"
        )
    await store.alerts.fire(source_health.DATA_STALE, "vss", Severity.WARNING, "cũ", pending=True)
    acked = await store.alerts.fire(source_health.COUNTER_DECREASED, "PORTAL_VISITS/VN", Severity.WARNING, "giảm")
    assert acked is not None
    await store.alerts.acknowledge(acked.id, "operator", "operator", "đang xem")
    await store.alerts.fire(FAILING, "evn", Severity.WARNING, "lỗi")
    await store.alerts.resolve(FAILING, "evn")  # resolved: no longer counted
    async with httpx.AsyncClient() as http:
        text = (await http.get(url)).text
        assert 'opscentre_alerts{severity="critical",state="firing"} 2.0' in text
        assert 'opscentre_alerts{severity="warning",state="pending"} 1.0' in text
        assert 'opscentre_alerts{severity="warning",state="acknowledged"} 1.0' in text
        assert 'opscentre_alerts{severity="warning",state="firing"} 0.0' in text
        assert 'state="resolved"' not in text
        await store.alerts.resolve(source_health.SOURCE_DOWN, "mof")
        text = (await http.get(url)).text  # counted again on each scrape
        assert 'opscentre_alerts{severity="critical",state="firing"} 1.0' in text


def test_a_sources_interval_is_its_every_or_the_gap_of_its_crontab() -> None:
    every = SourceSettings(name="a", kind="agency-json", url="http://127.0.0.1:1/x", every="15m")
    quarter = SourceSettings(name="b", kind="agency-json", url="http://127.0.0.1:1/x", cron="*/15 * * * *")
    daily = SourceSettings(name="c", kind="agency-json", url="http://127.0.0.1:1/x", cron="0 6 * * *")
    assert source_health.interval_of(every, T0) == timedelta(minutes=15)
    assert source_health.interval_of(quarter, T0) == timedelta(minutes=15)
    assert source_health.interval_of(daily, T0) == timedelta(days=1)
