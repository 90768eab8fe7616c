"""Scenarios (simulator/scenarios.py): each step seen from the client side, on a clock the test moves."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator import SimulatorConfig
from simulator.scenarios import SCENARIOS, ScenarioError
from tests.conftest import ROOT
from tests.simulator_fixtures import CURRENT, Clock, pull_all, running

NSO = "/agencies/NSO/observations"


def latest(records: list[dict[str, Any]], indicator: str, area: str) -> dict[str, Any]:
    mine = [r for r in records if r["indicator"] == indicator and r["area"] == area]
    assert mine, f"no {indicator} {area}"
    return max(mine, key=lambda r: r["period"])


async def since(client: httpx.AsyncClient, path: str, after: str) -> tuple[list[dict[str, Any]], str]:
    """An incremental pull: its records and where the next one starts."""
    records, pages = await pull_all(client, path, updated_after=after)
    return records, pages[-1]["next_updated_after"]


async def applied(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/_admin/scenario")
    assert r.status_code == 200
    steps: list[dict[str, Any]] = r.json()["applied"]
    return steps


def sdmx_rows(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (r["INDICATOR"], r["REF_AREA"], r["TIME_PERIOD"]): float(r["OBS_VALUE"])
        for r in csv.DictReader(text.splitlines())
    }


async def test_revision_scenario_revises_an_official_figure_then_again() -> None:
    clock = Clock()
    async with running(clock, scenario="revision") as (_, client):
        history, pages = await pull_all(client, NSO)
        cursor = pages[-1]["next_updated_after"]
        before = latest([r for r in history if r["status"] == "official"], "CPI_YOY", "VN")
        clock.advance(seconds=39)
        assert (await since(client, NSO, cursor))[0] == []  # nothing yet
        clock.advance(seconds=1)
        revised, cursor = await since(client, NSO, cursor)
        assert [(r["indicator"], r["area"], r["period"], r["status"]) for r in revised] == [
            ("CPI_YOY", "VN", before["period"], "official")
        ]
        assert revised[0]["value"] == pytest.approx(before["value"] + 0.2)
        assert revised[0]["updated_at"] > before["updated_at"]
        step = (await applied(client))[0]
        assert step["action"] == "adjust" and f"{before['value']} -> {revised[0]['value']}" in step["result"]
        clock.advance(seconds=110)  # at 150 s: the same figure again
        again, _ = await since(client, NSO, cursor)
        assert [r["period"] for r in again] == [before["period"]]
        assert again[0]["value"] == pytest.approx(before["value"] + 0.1)


async def test_late_report_withholds_a_province_then_delivers_late() -> None:
    clock = Clock()
    async with running(clock, scenario="late-report") as (_, client):
        held, pages = await pull_all(client, "/provinces/04/observations")
        cursor = pages[-1]["next_updated_after"]
        normal, _ = await pull_all(client, "/provinces/11/observations")
        # the reports of the last 40 days are missing from 04, and from the SDMX too
        assert latest(held, "CPI_YOY", "04")["period"] < latest(normal, "CPI_YOY", "11")["period"]
        missing = latest(normal, "CPI_YOY", "11")["period"]
        sdmx = sdmx_rows((await client.get("/sdmx/NSO/data.csv")).text)
        assert ("CPI_YOY", "04", missing) not in sdmx and ("CPI_YOY", "11", missing) in sdmx
        clock.advance(seconds=150)
        late, _ = await since(client, "/provinces/04/observations", cursor)
        assert ("CPI_YOY", "04", missing) in {(r["indicator"], r["area"], r["period"]) for r in late}
        assert all(r["updated_at"] > pages[-1]["generated_at"] for r in late)  # stamped when delivered
        # What it had never published comes out now, late; a revision it withheld of a figure published
        # before, keeps that figure's first publication.
        before = {(r["indicator"], r["period"]) for r in held}
        assert all(r["published_at"] == r["updated_at"] for r in late if (r["indicator"], r["period"]) not in before)
        assert all(r["published_at"] < cursor for r in late if (r["indicator"], r["period"]) in before)
        assert [a["action"] for a in await applied(client)] == ["hold", "release"]


async def test_contradiction_makes_provinces_disagree_with_the_nation_then_corrects() -> None:
    clock = Clock()
    async with running(clock, scenario="contradiction") as (_, client):
        national, _ = await pull_all(client, "/agencies/CUS/observations")
        vn = latest(national, "EXPORTS", "VN")
        parts: dict[str, float] = {}
        for code in CURRENT:
            recs, pages = await pull_all(client, f"/provinces/{code}/observations")
            mine = [r for r in recs if r["indicator"] == "EXPORTS" and r["period"] == vn["period"]]
            parts[code] = mine[0]["value"]
            if code == "79":
                cursor79 = pages[-1]["next_updated_after"]
        excess = sum(parts.values()) - vn["value"]
        assert excess == pytest.approx(parts["79"] * 0.3 / 1.3, rel=0.01)  # 79's figure was inflated by 30 %
        clock.advance(seconds=240)
        corrected, _ = await since(client, "/provinces/79/observations", cursor79)
        fixed = [r for r in corrected if r["indicator"] == "EXPORTS" and r["period"] == vn["period"]]
        assert fixed and sum(parts.values()) - parts["79"] + fixed[0]["value"] == pytest.approx(vn["value"], abs=0.01)


async def test_source_mismatch_sdmx_disagrees_with_json_then_agrees() -> None:
    clock = Clock()
    async with running(clock, scenario="source-mismatch") as (_, client):
        json_recs, _ = await pull_all(client, NSO)
        sdmx = sdmx_rows((await client.get("/sdmx/NSO/data.csv")).text)
        vn = latest(json_recs, "RETAIL_SALES", "VN")
        key = ("RETAIL_SALES", "VN", vn["period"])
        assert sdmx[key] == pytest.approx(vn["value"] * 1.02, abs=0.01)
        others = [k for k in sdmx if k != key and k[1] == "VN" and k[0] == "CPI_YOY"]
        assert others  # everything else agrees
        cpi = {(r["indicator"], r["area"], r["period"]): r["value"] for r in json_recs}
        assert all(sdmx[k] == pytest.approx(cpi[k]) for k in others)
        stamp = "2026-11-23T12:00:01Z"  # after the scenario's start (the test's clock stands still)
        clock.advance(seconds=240)
        fixed = sdmx_rows((await client.get("/sdmx/NSO/data.csv", params={"updatedAfter": stamp})).text)
        assert fixed == {key: pytest.approx(vn["value"])}  # the correction reaches an incremental pull


async def test_outlier_and_outage_and_counter_drop_in_the_demo() -> None:
    clock = Clock()
    async with running(clock, scenario="demo") as (_, client):
        history, pages = await pull_all(client, "/agencies/VNAT/observations")
        cursor = pages[-1]["next_updated_after"]
        before = latest(history, "INTL_ARRIVALS", "VN")
        counter = (await client.get("/portal/counters")).json()["counters"]["PORTAL_DOSSIERS_SYNCED"]
        clock.advance(seconds=70)
        outlier, cursor = await since(client, "/agencies/VNAT/observations", cursor)
        assert [r["value"] for r in outlier] == [pytest.approx(before["value"] * 10, abs=0.1)]
        clock.advance(seconds=20)  # 90 s: the Ministry of Finance is down, and the fault is listed
        assert (await client.get("/agencies/MOF/observations")).status_code == 503
        faults = (await client.get("/_admin/faults")).json()["faults"]
        assert faults == [{"kind": "http_error", "endpoint": "/agencies/MOF/*", "count": None, "status": 503}]
        clock.advance(seconds=20)  # 110 s: a portal counter goes down
        dipped = (await client.get("/portal/counters")).json()["counters"]["PORTAL_DOSSIERS_SYNCED"]
        assert dipped < counter
        clock.advance(seconds=60)  # 170 s: the counter is right again
        assert (await client.get("/portal/counters")).json()["counters"]["PORTAL_DOSSIERS_SYNCED"] >= counter
        clock.advance(seconds=10)  # 180 s: MOF is back
        assert (await client.get("/agencies/MOF/observations")).status_code == 200
        assert (await client.get("/_admin/faults")).json()["faults"] == []
        clock.advance(seconds=20)  # 200 s: the outlier is corrected
        corrected, _ = await since(client, "/agencies/VNAT/observations", cursor)
        assert [r["value"] for r in corrected] == [before["value"]]


async def test_an_outage_cleared_by_hand_stays_cleared_and_the_next_cycle_takes_other_subjects() -> None:
    clock = Clock()
    async with running(clock, scenario="demo") as (_, client):
        clock.advance(seconds=90)
        assert (await client.get("/agencies/MOF/observations")).status_code == 503
        r = await client.delete("/_admin/faults")
        assert r.json()["cleared"] == 1
        assert (await client.get("/agencies/MOF/observations")).status_code == 200
        clock.advance(seconds=300)  # the second cycle: another ministry, province and figure
        assert (await client.get("/agencies/SBV/observations")).status_code == 503
        steps = await applied(client)
        second = [s for s in steps if s["cycle"] == 1]
        assert {s["params"].get("area") for s in second if s["action"] == "hold"} == {"11"}
        assert {s["params"]["indicator"] for s in second if s["at"] == 40 and s["action"] == "adjust"} == {"IIP_YOY"}
        state = (await client.get("/_admin/scenario")).json()
        assert state["scenario"] == "demo" and state["next"]["cycle"] == 1 and set(state["scenarios"]) == set(SCENARIOS)


async def test_demo_shows_every_kind_of_event_within_three_minutes() -> None:
    """The promise of the demo: by 180 s a revision, a late province, a contradiction, a source
    mismatch, an outlier and an outage (down and back) have all happened."""
    clock = Clock()
    async with running(clock, scenario="demo") as (_, client):
        clock.advance(seconds=180)
        done = {(s["action"], s["at"]) for s in await applied(client)}
        for step in SCENARIOS["demo"].steps:
            if step.at <= 180:
                assert (step.action, step.at) in done
        kinds = {a for a, _ in done}
        assert {"hold", "release", "adjust", "down", "up"} <= kinds


def test_an_unknown_scenario_is_refused_naming_the_known_ones() -> None:
    from simulator.server import Simulator

    with pytest.raises(ScenarioError, match=r"unknown scenario 'nope'.*demo"):
        Simulator(SimulatorConfig(scenario="nope"))


@pytest.mark.parametrize("args", [["--scenario", "nope"], ["--speed", "0"]])
def test_the_runner_refuses_a_bad_scenario_or_speed(args: list[str]) -> None:
    env = {**os.environ, "PYTHONUTF8": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "--port", "0", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert ("--scenario" in proc.stderr and "demo" in proc.stderr) or "--speed must be more than 0" in proc.stderr


DEMO_CONFIG = """
[database]
path = "{db}"

[feed]
port = 0
"""


def _demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    config = tmp_path / "demo.toml"
    config.write_text(DEMO_CONFIG.format(db=tmp_path / "demo.db"))
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "demo", "--config", str(config), "--sim-port", "0", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUTF8": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow  # `opscentre demo` in a process of its own
@pytest.mark.parametrize(("args", "expected"), [((), "demo"), (("--scenario", "none"), "none")])
def test_the_demo_plays_its_scenario_by_default(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    proc = _demo(tmp_path, *args)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl+C" in line:
                break
        text = "".join(lines)
        match = re.search(r"simulated agencies\s+(http://\S+)", text)
        assert match, text
        assert f"scenario            {expected}" in text
        state = httpx.get(f"{match[1]}/_admin/scenario", timeout=30).json()
        assert state["scenario"] == expected
        if expected == "demo":  # the steps at 0 s are done by the first request
            assert {"hold", "adjust"} <= {a["action"] for a in state["applied"]}
            assert "a province stops reporting" in text
        else:
            assert state["applied"] == [] and state["next"] is None
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, text + out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow  # `opscentre demo` in a process of its own
def test_the_demo_refuses_an_unknown_scenario(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--scenario", "nope")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "unknown scenario 'nope'" in out and "late-report" in out


async def test_an_incremental_sdmx_csv_pull_after_a_revision_gets_the_revised_figure(tmp_path: Path) -> None:
    """SDMX-CSV has no prepared time, so the collector resumes from the answer's Date header: the
    simulator's own clock must stamp it (it was the machine's, days after a test's or a sped-up
    simulator's instant, so every incremental pull after it fetched 0 records)."""
    pytest.importorskip("pysdmx")
    from collectors.config import CollectorSettings, SourceSettings
    from rules.after_run import Collector
    from storage import Store

    clock = Clock()
    async with running(clock, scenario="revision") as (sim, _):
        source = SourceSettings(
            name="nso-sdmx",
            kind="sdmx",
            format="sdmx-csv",
            url=f"{sim.url}/sdmx/NSO/data.csv",
            agency="NSO",
            every="5m",
        )
        async with await Store.open(tmp_path / "ops.db") as store:
            async with Collector(store, [source], CollectorSettings(retries=0)) as collector:
                first = await collector.run("nso-sdmx")
                assert first.outcome.value == "success" and first.new > 0
                clock.advance(seconds=40)  # an official national figure is revised
                again = await collector.run("nso-sdmx")
                assert again.outcome.value == "success"
                assert (again.fetched, again.revised) == (1, 1), "the incremental pull brings the revision"


@pytest.mark.slow  # the demo scenario through the server, three minutes on a moved clock
async def test_the_demo_raises_each_rule_within_three_minutes_through_the_server(tmp_path: Path) -> None:
    """The demo's configuration (`cli/demo.py`) on the real simulator playing its scenario, through
    the real Service, on one clock the test moves: by 180 s each scenario event has its alert."""
    pytest.importorskip("pysdmx")
    from datetime import timedelta

    from tests.demokit import demo_service

    clock = Clock()
    seen: dict[str, float] = {}  # rule -> the scenario second its alert was first open
    async with demo_service(tmp_path / "ops.db", clock) as service:
        store, collector = service.store, service.collector
        assert store is not None and collector is not None
        start = clock()
        everything = sorted(collector.sources)
        # every source once a minute, as the demo polls, and the portal and NSO more often
        plan = {1: everything, 45: ["nso"], 61: everything, 75: ["vnat"]}
        plan |= {115: ["portal"], 121: everything, 160: ["province-04"], 178: ["nso-sdmx"]}
        for second, names in sorted(plan.items()):
            clock.set(start + timedelta(seconds=second))
            await collector.run_many(names)
            await asyncio.sleep(0.5)  # a few timer passes
            for a in await store.alerts.listed(limit=100_000):
                if a.state.value in ("firing", "acknowledged"):
                    seen.setdefault(a.rule, second)
    promised = [
        "figures.revised",
        "revision.watch",
        "report.late",
        "crosscheck.provinces",
        "crosscheck.sources",
        "anomaly.outlier",
        "source.failing",
        "source.down",
        "counter.decreased",
    ]
    assert [r for r in promised if r not in seen] == [], seen
