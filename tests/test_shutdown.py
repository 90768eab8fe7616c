"""A clean stop of `opscentre serve` (SIGTERM) during a history pull: runs in flight get
`[collector] shutdown_grace`, every run's end is recorded, and the log holds no traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from collectors.config import CollectorSettings, SourceSettings
from rules.after_run import Collector
from simulator import SimulatorConfig, start
from storage import RunOutcome, Store
from tests.servekit import AGENCIES, Served, query, serve_config
from tests.simulator_fixtures import DEMO_DAY

pytestmark = pytest.mark.slow


async def slow_pages(sim_url: str, ms: int) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.put(f"{sim_url}/_admin/faults", json={"endpoint": "/agencies/*", "kind": "latency", "ms": ms})
        r.raise_for_status()


async def stop_mid_pull(tmp_path: Path, *, grace: str, latency_ms: int) -> tuple[int, str, Path]:
    db = tmp_path / "ops.db"
    async with await start(SimulatorConfig(port=0, now=lambda: DEMO_DAY)) as sim:
        await slow_pages(sim.url, latency_ms)
        cfg = tmp_path / "ops.toml"
        cfg.write_text(serve_config(sim.url, db, grace=grace), encoding="utf-8")
        served = Served(cfg)
        try:
            # Every source has begun its pull and a few pages are stored: runs are in flight.
            await served.wait_for(
                "every source to begin and a few pages to be stored",
                lambda: (
                    len(query(db, "SELECT id FROM runs")) == len(AGENCIES)
                    and len(query(db, "SELECT id FROM ingests")) >= 3
                ),
            )
            assert query(db, "SELECT count(*) FROM runs WHERE outcome = 'running'")[0][0] > 0
            code = await served.stop()
        finally:
            served.kill()
    return code, served.output, db


async def test_sigterm_lets_runs_in_flight_finish_within_the_grace(tmp_path: Path) -> None:
    code, output, db = await stop_mid_pull(tmp_path, grace="120s", latency_ms=60)
    assert code == 0, output
    assert "stopped cleanly" in output
    assert "Traceback" not in output, output
    # The grace was long enough: every run in flight finished its pull, none was cut short.
    outcomes = query(db, "SELECT source, outcome FROM runs ORDER BY source")
    assert outcomes == [(a.lower(), "success") for a in sorted(AGENCIES)], output
    assert len(query(db, "SELECT source FROM source_state")) == len(AGENCIES)  # every cursor saved
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


async def test_sigterm_past_the_grace_records_every_run_as_ended(tmp_path: Path) -> None:
    code, output, db = await stop_mid_pull(tmp_path, grace="200ms", latency_ms=400)
    assert code == 0, output
    assert "stopped cleanly" in output
    assert "Traceback" not in output, output
    runs = query(db, "SELECT outcome, ended_at FROM runs")
    assert len(runs) == len(AGENCIES)
    assert all(outcome != "running" and ended is not None for outcome, ended in runs), runs
    assert {outcome for outcome, _ in runs} <= {"interrupted", "success"}
    assert "interrupted" in {outcome for outcome, _ in runs}  # 400 ms pages cannot all finish in 200 ms
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


async def test_a_run_cancelled_at_any_moment_ends_recorded_and_raises_only_the_cancellation(tmp_path: Path) -> None:
    """Whenever the cancellation lands (beginning the run, between pages, on the last page that
    also finishes it), the run ends recorded, and nothing but the cancellation comes out."""
    async with await start(SimulatorConfig(port=0, now=lambda: DEMO_DAY)) as sim:
        settings = CollectorSettings(retries=0)
        nso = SourceSettings(
            name="nso", kind="agency-json", url=f"{sim.url}/agencies/NSO/observations?page_size=300", every="1h"
        )
        store = await Store.open(tmp_path / "ops.db")
        try:
            async with Collector(store, [nso], settings) as collector:
                for step in range(40):
                    task = asyncio.create_task(collector.run("nso"))
                    for _ in range(step):  # let the run get this far before the cancellation
                        await asyncio.sleep(0)
                    await asyncio.sleep(step * 0.002)
                    task.cancel()
                    try:
                        ended = await task
                    except asyncio.CancelledError:
                        continue
                    assert ended.outcome is not RunOutcome.RUNNING
                await store.observations.reset_cursor("nso")
            runs = await store.runs.recent(limit=1000)
            assert len(runs) == 40
            assert [r.id for r in runs if r.outcome is RunOutcome.RUNNING or r.ended_at is None] == []
            outcomes = {r.outcome for r in runs}
            assert RunOutcome.INTERRUPTED in outcomes
        finally:
            await store.close()
