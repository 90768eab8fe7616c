"""The rules run in the server: after each collection run and on the `[rules] every` timer.

The demo's scenario on the real simulator, through the real ``Service`` and its collector, on one
clock the test moves (the simulator's and the centre's): a province that reports late, a province
figure inflated by 30 % and the SDMX two per cent above the JSON each raise their alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.config import load
from cli.demo import demo_config
from cli.runtime import Service
from collectors import pipeline
from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules import crosschecks, reporting
from rules.after_run import Collector
from storage import NATION, Alert, AlertState, Store
from storage.clock import use_clock
from tests.simulator_fixtures import Clock, running

pytest.importorskip("pysdmx")

# Two minutes before October 2026's monthly reports fall due (the end of 25 November): the
# centre watches from before the due moment, so a report still missing after it is late.
T0 = datetime(2026, 11, 25, 23, 58, tzinfo=UTC)
WANTED = {"nso", "cus", "nso-sdmx"}  # RETAIL_SALES (JSON and SDMX), EXPORTS national; provinces below


async def until(store: Store, found: Callable[[list[Alert]], bool], what: str, timeout: float = 60) -> list[Alert]:
    """Poll the store's alerts until ``found``; a bounded wait (the timers run on real time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        alerts = await store.alerts.listed(limit=100_000)
        if found(alerts):
            return alerts
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not seen; alerts {[(a.rule, a.subject, a.state) for a in alerts]}")
        await asyncio.sleep(0.1)


def one(alerts: list[Alert], rule: str, subject: str) -> Alert:
    [alert] = [a for a in alerts if a.rule == rule and a.subject == subject]
    return alert


@pytest.mark.slow  # the demo scenario through the server, three minutes on a moved clock
async def test_the_demo_scenario_raises_its_alerts_through_the_server(tmp_path: Path) -> None:
    clock = Clock(T0)
    with use_clock(clock):
        async with running(clock, scenario="demo") as (sim, _):
            base = demo_config(load(), int(sim.url.rsplit(":", 1)[1]))
            sources = [
                s.model_copy(update={"enabled": True})
                for s in base.sources
                if s.name in WANTED or s.name.startswith("province-")
            ]
            config = base.model_copy(
                update={
                    "sources": sources,
                    "collector": CollectorSettings(retries=0),
                    "feed": base.feed.model_copy(update={"port": 0}),
                    "rules": RulesSettings(every=timedelta(seconds=0.5)),
                }
            )
            service = Service(config, str(tmp_path / "ops.db"), schedule=False)
            await service.start()
            try:
                store, collector = service.store, service.collector
                assert store is not None and collector is not None
                names = [s.name for s in sources]

                clock.advance(seconds=1)  # 04 withholds October, 79's exports are up 30 %, the SDMX 2 %
                runs = await collector.run_many(names)
                assert {r.outcome.value for r in runs} == {"success"}, [(r.source, r.error) for r in runs]
                alerts = await store.alerts.listed(limit=100_000)
                # The SDMX differs from the JSON: held pending for one SDMX poll, as polling lag would be.
                mismatch = one(alerts, crosschecks.SOURCES, "RETAIL_SALES/VN/2026-10")
                assert mismatch.state is AlertState.PENDING
                assert not [a for a in alerts if a.rule == reporting.REPORT_LATE], "nothing is due yet"
                # 04's October is missing, yet the 33 others already add up to more than the nation:
                # the inflated province shows at once, saying how many have reported.
                early = one(alerts, crosschecks.PROVINCES, "EXPORTS/2026-10")
                assert (early.params.count, early.params.expected) == (33, 34)
                assert early.params.value is not None and early.params.reference_value is not None
                assert early.params.value > early.params.reference_value
                assert "33/34" in early.message and "đã vượt" in early.message

                clock.set(T0 + timedelta(seconds=130))  # 26 November 00:00:10: October was due
                alerts = await until(
                    store,
                    lambda a: any(x.rule == reporting.REPORT_LATE and x.subject == "04" for x in a),
                    "the rules timer names the late province",
                )
                late = one(alerts, reporting.REPORT_LATE, "04")
                assert late.state is AlertState.FIRING
                assert late.params.area == "04" and late.params.period == "2026-10" and late.params.due == "2026-11-25"
                assert "Cao Bằng" in late.message
                provinces_late = {a.params.area for a in alerts if a.rule == reporting.REPORT_LATE and a.params.area}
                assert provinces_late == {"04"}, "only the province that withholds is late"

                clock.set(T0 + timedelta(seconds=160))  # 04 has delivered (late)
                [run] = await collector.run_many(["province-04"])
                assert run.outcome.value == "success" and run.new > 0
                alerts = await store.alerts.listed(limit=100_000)  # the run's own rules pass: no timer needed
                assert "04" not in {a.subject for a in alerts if a.rule == reporting.REPORT_LATE}
                contradiction = one(alerts, crosschecks.PROVINCES, "EXPORTS/2026-10")
                assert contradiction.state is AlertState.FIRING
                national = [
                    f for f in await crosschecks.latest_figures(store, "EXPORTS", "2026-10") if f.area == NATION
                ]
                [province] = [
                    f
                    for f in await crosschecks.latest_figures(store, "EXPORTS", "2026-10")
                    if f.area == "79" and f.source == "province-79"
                ]
                p = contradiction.params
                assert p.reference_value == min(national, key=lambda f: f.source).value
                assert p.value is not None and p.value > p.reference_value  # the provinces add up to more
                assert p.reference_digest is not None and len(p.reference_digest) == 64
                assert (p.count, p.expected) == (34, 34)
                assert contradiction.detail is not None and province.digest is not None
                assert f"79 {province.value!r} (province-79, sha256:{province.digest[:12]})" in contradiction.detail

                # Past one SDMX poll (5 minutes) the disagreement still stands: E1's tick fires it.
                clock.set(T0 + timedelta(seconds=305))
                alerts = await until(
                    store,
                    lambda a: one(a, crosschecks.SOURCES, "RETAIL_SALES/VN/2026-10").state is AlertState.FIRING,
                    "the source-vs-source alert fires after its 'for'",
                )
                m = one(alerts, crosschecks.SOURCES, "RETAIL_SALES/VN/2026-10").params
                assert {m.source, m.reference_source} == {"nso", "nso-sdmx"}
                assert m.value is not None and m.reference_value is not None
                sdmx, json = (m.value, m.reference_value) if m.source == "nso-sdmx" else (m.reference_value, m.value)
                assert sdmx == pytest.approx(json * 1.02, rel=0.001)
                assert m.payload_digest and m.reference_digest and m.payload_digest != m.reference_digest
            finally:
                await service.stop()


async def test_a_rule_that_fails_is_logged_and_the_run_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fault injection (no real input makes a rule raise): the run keeps its outcome, the other
    rules still run, and the failure is one log line naming the rule and the source."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(reporting, "check_late", broken)
    clock = Clock(datetime(2010, 2, 23, 12, 0, tzinfo=UTC))
    with use_clock(clock):
        async with running(clock) as (sim, _):
            source = SourceSettings(
                name="nso", kind="agency-json", url=f"{sim.url}/agencies/NSO/observations", every="1m"
            )
            store = await Store.open(tmp_path / "ops.db")
            try:
                async with Collector(store, [source], CollectorSettings(retries=0)) as collector:
                    collector.rules = RulesSettings()
                    with caplog.at_level(logging.ERROR):
                        run = await collector.run("nso")
                    assert run.outcome.value == "success" and run.new > 0
                    lines = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
                    assert lines == ["rule report.late failed (source nso): RuntimeError('boom')"]
            finally:
                await store.close()


async def test_the_rules_run_after_a_run_only_where_the_composition_root_hangs_them(tmp_path: Path) -> None:
    """collectors/ knows no rules: its bare pipeline records a failed run and raises nothing; the
    collector cli/runtime.py builds (rules/after_run.py) raises the source's alert for the same run."""
    down = [SourceSettings(name="gone", kind="agency-json", url="http://127.0.0.1:9/observations", every="1m")]
    async with await Store.open(tmp_path / "ops.db") as store:
        async with pipeline.Collector(store, down, CollectorSettings(retries=0)) as bare:
            [run] = await bare.run_many(["gone"])
        assert run.outcome.value == "failed"
        assert await store.alerts.listed() == []
        async with Collector(store, down, CollectorSettings(retries=0)) as ruled:
            [run] = await ruled.run_many(["gone"])
        assert run.outcome.value == "failed"
        assert [(a.rule, a.subject) for a in await store.alerts.listed()] == [("source.failing", "gone")]
