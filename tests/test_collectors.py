"""Collectors against the real simulator over localhost: history then increments, revisions,
every fault kind, the circuit breaker, no overlapping runs, and the scheduler staying alive."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.breaker import BreakerState
from collectors.config import CollectorSettings, SourceSettings
from collectors.scheduler import Scheduler
from rules.after_run import Collector
from simulator import SimulatorConfig, start
from storage import AlertState, RunOutcome, RunTrigger, Store
from storage.clock import ManualClock, use_clock

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def fast_settings(**kw: Any) -> CollectorSettings:
    defaults: dict[str, Any] = {
        "retries": 1,
        "backoff_initial": timedelta(milliseconds=10),
        "backoff_max": timedelta(milliseconds=50),
        "breaker_failures": 3,
        "breaker_reset": timedelta(seconds=60),
    }
    return CollectorSettings(**{**defaults, **kw})


def source(base: str, name: str, path: str, **kw: Any) -> SourceSettings:
    return SourceSettings(
        name=name, kind=kw.pop("kind", "agency-json"), url=f"{base}{path}", every=kw.pop("every", "1h"), **kw
    )


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as s:
        yield s


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "ops.db")
    yield s
    await s.close()


async def fault(sim: Any, **spec: Any) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.put(f"{sim.url}/_admin/faults", json=spec)
        assert response.status_code in (200, 201, 204), response.text


async def clear(sim: Any) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.delete(f"{sim.url}/_admin/faults")).status_code in (200, 204)


async def test_first_run_pulls_history_second_only_what_changed_and_revisions_keep_the_old_value(
    sim: Any, store: Store
) -> None:
    nso = source(sim.url, "nso", "/agencies/NSO/observations")
    async with Collector(store, [nso], fast_settings()) as collector:
        first = await collector.run("nso")
        assert first.outcome is RunOutcome.SUCCESS, first.error
        assert first.new > 500 and first.fetched == first.new + first.unchanged and first.rejected == 0
        history = await store.observations.history("CPI_YOY", "VN")
        assert history[0].period <= "2017-01" and history[-1].period == "2026-10"
        assert await store.observations.cursor("nso") is not None

        second = await collector.run("nso")
        assert second.outcome is RunOutcome.SUCCESS
        assert second.new == 0 and second.revised == 0 and second.fetched < first.fetched / 10

        await fault(sim, endpoint="/agencies/NSO/*", kind="revise", fraction=0.2)
        third = await collector.run("nso")
        assert third.outcome is RunOutcome.SUCCESS
        assert third.revised > 0 and third.new == 0
        revised = next(o for o in await store.observations.of_run(third.id) if o.revision > 1)
        revisions = await store.observations.revisions(revised.indicator, revised.area, revised.period, "nso")
        assert len(revisions) >= 2 and revisions[-1].value == revised.value and revisions[-2].value != revised.value
        assert revisions[-2].run_id == first.id  # the earlier figure is kept, with its provenance


@pytest.mark.parametrize(
    ("spec", "outcome", "error"),
    [
        ({"kind": "latency", "ms": 300}, RunOutcome.SUCCESS, None),
        ({"kind": "timeout"}, RunOutcome.FAILED, "timed out"),
        ({"kind": "http_error", "status": 503}, RunOutcome.FAILED, "HTTP 503"),
        ({"kind": "http_error", "status": 404}, RunOutcome.FAILED, "HTTP 404"),
        ({"kind": "malformed"}, RunOutcome.FAILED, "not valid JSON"),
        ({"kind": "schema"}, RunOutcome.PARTIAL, "records rejected"),
        ({"kind": "oversized", "bytes": 3_000_000}, RunOutcome.FAILED, "cap"),
        ({"kind": "refused"}, RunOutcome.FAILED, "cannot reach"),
        ({"kind": "duplicate"}, RunOutcome.PARTIAL, "duplicate"),
    ],
)
async def test_each_fault_gives_the_right_outcome_stores_no_bad_value_and_spares_other_sources(
    sim: Any, store: Store, spec: dict[str, Any], outcome: RunOutcome, error: str | None
) -> None:
    victim = source(sim.url, "vss", "/agencies/VSS/observations", timeout="1s", max_bytes=2_000_000)
    bystander = source(sim.url, "sbv", "/agencies/SBV/observations")
    await fault(sim, endpoint="/agencies/VSS/*", **spec)
    async with Collector(store, [victim, bystander], fast_settings()) as collector:
        runs = {r.source: r for r in await collector.run_many(["vss", "sbv"], RunTrigger.SCHEDULE)}
    run = runs["vss"]
    assert run.outcome is outcome, run.error
    if error:
        assert run.error is not None and error in run.error
    assert runs["sbv"].outcome is RunOutcome.SUCCESS and runs["sbv"].new > 0
    if outcome is RunOutcome.FAILED:
        assert run.new == 0 and run.revised == 0
        assert await store.observations.of_run(run.id) == []
        alerts = {(a.rule, a.subject) for a in await store.alerts.listed()}
        assert ("source.failing", "vss") in alerts
    # Nothing stored is invalid: every figure is a known indicator in force, finite, with provenance.
    for o in await store.observations.of_run(run.id):
        assert o.payload_digest is not None and o.value == o.value
    assert await store.audit.dangling_references() == []
    if outcome is RunOutcome.PARTIAL:
        assert run.rejected > 0 and run.new > 0
        assert ("source.rejected", "vss") in {(a.rule, a.subject) for a in await store.alerts.listed()}
        reasons = [
            r.reason
            for log in await store.observations.ingest_log(run.id)
            for r in await store.observations.rejections(log.id)
        ]
        assert len(reasons) == run.rejected


async def test_transient_errors_are_retried_and_then_succeed(sim: Any, store: Store) -> None:
    await fault(sim, endpoint="/agencies/SBV/*", kind="http_error", status=503, count=1)
    async with Collector(
        store, [source(sim.url, "sbv", "/agencies/SBV/observations")], fast_settings(retries=2)
    ) as collector:
        run = await collector.run("sbv")
    assert run.outcome is RunOutcome.SUCCESS and run.new > 0


async def test_a_dead_source_trips_its_circuit_and_recovers_when_the_upstream_returns(tmp_path: Path) -> None:
    sim = await start(SimulatorConfig(port=0, now=lambda: NOW))
    port = sim.port
    src = source(sim.url, "evn", "/agencies/EVN/observations", timeout="1s")
    await sim.stop()  # the upstream is gone: connections are refused
    settings = fast_settings(breaker_failures=2, breaker_reset=timedelta(milliseconds=300))
    clock = ManualClock(NOW)  # the alerts' clock; the breaker's reset runs on real time
    with use_clock(clock):
        async with await Store.open(tmp_path / "ops.db") as store, Collector(store, [src], settings) as collector:
            outcomes = [(await collector.run("evn")).outcome for _ in range(4)]
            assert outcomes == [RunOutcome.FAILED, RunOutcome.FAILED, RunOutcome.SKIPPED, RunOutcome.SKIPPED]
            assert collector.breaker_state("evn") is BreakerState.OPEN
            alerts = {a.rule: a for a in await store.alerts.listed()}
            assert alerts["source.down"].severity.value == "critical"
            # one page, not two: the failing-source alert is muted by the source being down
            assert alerts["source.failing"].inhibited_by == alerts["source.down"].id

            async with await start(SimulatorConfig(port=port, now=lambda: NOW)):
                await asyncio.sleep(0.35)  # let the reset period pass (the probe then goes through)
                probe = await collector.run("evn")
                assert probe.outcome is RunOutcome.SUCCESS and probe.new > 0
                assert collector.breaker_state("evn") is BreakerState.CLOSED
            open_ = {a.rule: a for a in await store.alerts.listed()}
            assert "source.down" not in open_  # resolved by the good run
            # source.failing keeps firing for one interval of the source (1 h): hysteresis
            assert open_["source.failing"].state is AlertState.FIRING
            clock.advance(timedelta(minutes=59))
            await store.alerts.tick()
            assert "source.failing" in {a.rule for a in await store.alerts.listed()}
            clock.advance(timedelta(minutes=1))
            await store.alerts.tick()
            assert not [a for a in await store.alerts.listed() if a.rule == "source.failing"]  # resolved


async def test_two_triggers_of_one_source_never_overlap(sim: Any, store: Store) -> None:
    await fault(sim, endpoint="/agencies/MOIT/*", kind="latency", ms=200)
    async with Collector(store, [source(sim.url, "moit", "/agencies/MOIT/observations")], fast_settings()) as collector:
        runs = await asyncio.gather(
            collector.run("moit", RunTrigger.SCHEDULE),
            collector.run("moit", RunTrigger.MANUAL, "admin"),
            collector.run("moit", RunTrigger.MANUAL, "admin"),
        )
    spans = sorted((r.started_at, r.ended_at) for r in runs)
    for (_, end), (start_next, _) in itertools.pairwise(spans):
        assert end is not None and end <= start_next
    assert all(r.outcome is RunOutcome.SUCCESS for r in runs)


async def test_sdmx_source_through_the_pipeline(sim: Any, store: Store) -> None:
    pytest.importorskip("pysdmx")
    for fmt, path in (("sdmx-csv", "/sdmx/NSO/data.csv"), ("sdmx-ml", "/sdmx/NSO/data.xml")):
        src = source(sim.url, f"nso-{fmt}", path, kind="sdmx", format=fmt)
        async with Collector(store, [src], fast_settings()) as collector:
            run = await collector.run(src.name)
        assert run.outcome is RunOutcome.SUCCESS, run.error
        assert run.new > 100
    a = {(o.period, o.value) for o in await store.observations.history("CPI_YOY", "VN", source="nso-sdmx-csv")}
    b = {(o.period, o.value) for o in await store.observations.history("CPI_YOY", "VN", source="nso-sdmx-ml")}
    assert a == b and len(a) > 50


async def test_portal_counters_and_a_province_with_the_merger(sim: Any, store: Store) -> None:
    portal = source(sim.url, "portal", "/portal/counters", kind="portal", every="5s")
    province = source(sim.url, "province-08", "/provinces/08/observations")
    async with Collector(store, [portal, province], fast_settings()) as collector:
        runs = await collector.run_many(["portal", "province-08"])
    assert all(r.outcome is RunOutcome.SUCCESS for r in runs), [r.error for r in runs]
    visits = await store.observations.history("PORTAL_VISITS", "VN")
    assert len(visits) == 1 and visits[0].value > 100_000_000
    before = await store.observations.history("RETAIL_SALES", "02")  # Hà Giang, before the merger
    after = await store.observations.history("RETAIL_SALES", "08")
    assert before and before[-1].period <= "2025-06"
    assert after and after[-1].period > "2025-06"


async def test_the_scheduler_keeps_running_through_failures(sim: Any, store: Store) -> None:
    await fault(sim, endpoint="/agencies/MOH/*", kind="http_error", status=500)
    good = source(sim.url, "portal", "/portal/counters", kind="portal", every="0.2s")
    bad = source(sim.url, "moh", "/agencies/MOH/observations", every="0.2s")
    async with Collector(store, [good, bad], fast_settings(retries=0, breaker_failures=100)) as collector:
        scheduler = Scheduler(collector)
        scheduler.start()
        try:
            for _ in range(200):
                runs = await store.runs.recent(limit=100)
                if (
                    sum(r.source == "portal" and r.outcome is RunOutcome.SUCCESS for r in runs) >= 3
                    and sum(r.source == "moh" and r.outcome is RunOutcome.FAILED for r in runs) >= 3
                ):
                    break
                await asyncio.sleep(0.1)
            assert scheduler.running
        finally:
            scheduler.shutdown()
            await collector.shutdown(grace=5)
    runs = await store.runs.recent(limit=100)
    assert sum(r.source == "portal" and r.outcome is RunOutcome.SUCCESS for r in runs) >= 3
    assert sum(r.source == "moh" and r.outcome is RunOutcome.FAILED for r in runs) >= 3
