"""The demo's reports, judged by the reporter's clock: the demo's configuration (`cli/demo.py`, all its
sources) on the real simulator playing its default scenario, through the real Service and its feed,
on one clock the test moves. Its late province (04) withholds its reports of the last 40 days and
delivers them at +150 s; every other province published on time, although the centre first
collected those reports weeks after they were due (the demo judges reports due up to 35 days before
its first run). The feed's ``reporting`` query (what the wall page's completeness strip and the
console's provinces view show) and ``opscentre reporting --config`` with the demo's settings agree
on every indicator, and name the late province alone: missing until it delivers, late after."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from cli.config import builtin_text
from cli.demo import DEMO_LATE_LOOKBACK
from console.views.provinces import report_status
from feed.protocol import SERVER_MESSAGE, ReportingData, ReportingRow, Result
from tests.conftest import run_cli
from tests.demokit import demo_service
from tests.feedkit import Client
from tests.simulator_fixtures import Clock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

WITHHELD = "04"  # the demo's late province on its first cycle (simulator/scenarios.py)


async def feed_rows(url: str) -> list[dict[str, Any]]:
    """The feed's ``reporting`` query as the wall page asks it (every indicator), as the demo's display."""
    headers = {"Authorization": "Bearer demo-display"}
    async with connect(url, additional_headers=headers, compression=None) as ws:
        c = Client(ws)
        await c.send({"type": "hello"})
        await c.send({"type": "query", "id": "r", "query": {"name": "reporting"}})
        [*_, msg] = await c.collect_until(lambda m: m["type"] == "result" and m.get("id") == "r", timeout=60)
    result = SERVER_MESSAGE.validate_python(msg)
    assert isinstance(result, Result) and isinstance(result.data, ReportingData)
    return [row.model_dump(mode="json") for row in result.data.rows]


def cli_rows(config: Path, db: Path) -> list[dict[str, Any]]:
    done = run_cli("reporting", "--config", str(config), "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def named(rows: list[dict[str, Any]]) -> dict[str, tuple[list[str], list[str]]]:
    """Per indicator: the parties missing, and those late."""
    return {r["indicator"]: (r["missing"], r["late_areas"]) for r in rows}


async def test_after_three_minutes_every_surface_names_only_the_withheld_province(tmp_path: Path) -> None:
    pytest.importorskip("pysdmx")
    db = tmp_path / "ops.db"
    # `opscentre reporting` on the demo's settings: the built-in configuration (the demo's sources)
    # with the demo's look-back.
    days = DEMO_LATE_LOOKBACK // timedelta(days=1)
    config = tmp_path / "demo.toml"
    config.write_text(builtin_text().replace("\n[rules]\n", f'\n[rules]\nlate_lookback = "{days}d"\n'), "utf-8")
    clock = Clock()
    async with demo_service(db, clock, every_source=True) as service:
        assert service.collector is not None and service.feed is not None
        start = clock()
        everything = sorted(service.collector.sources)
        # The demo's polls (every source once a minute); the late province's own system is polled
        # after it delivers at +150 s.
        plan = {1: everything, 61: everything, 121: [n for n in everything if n != f"province-{WITHHELD}"]}
        plan |= {178: everything}
        seen: dict[int, list[dict[str, Any]]] = {}
        for second, names in sorted(plan.items()):
            clock.set(start + timedelta(seconds=second))
            await service.collector.run_many(names)
            await asyncio.sleep(0.5)  # a few passes of the rules timer
            if second in (61, 178):
                feed = await feed_rows(service.feed.url)
                assert feed == cli_rows(config, db)  # the same rows, field by field
                seen[second] = feed

    before, after = named(seen[61]), named(seen[178])
    monthly = ("RETAIL_SALES", "CPI_YOY", "EXPORTS", "BUDGET_REVENUE", "TRAFFIC_ACCIDENTS")
    # Before it delivers: the late province is missing from every report it withheld, nobody is late.
    assert {i: who for i, who in before.items() if who != ([], [])} == {
        i: ([WITHHELD], []) for i, who in before.items() if who != ([], [])
    }
    assert all(before[i] == ([WITHHELD], []) for i in monthly), {i: before[i] for i in monthly}
    # After: it is late on those same reports, and nobody is missing.
    assert {i: who for i, who in after.items() if who != ([], [])} == {
        i: ([], [WITHHELD]) for i, who in before.items() if who != ([], [])
    }
    # Every report on the reporter's own clock: each demo source says when it published.
    assert {t["clock"] for row in seen[178] for t in row["reports"]} == {"published"}
    # The console's provinces view marks each province from the same rows: the late one alone.
    for row in map(ReportingRow.model_validate, seen[178]):
        areas = {*row.missing, *row.late_areas, "01", "79"}
        marked = {a for a in areas if report_status(row, a) in ("report.late", "report.missing")}
        assert marked <= {WITHHELD}, (row.indicator, marked)
