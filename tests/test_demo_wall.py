"""The demo after three minutes: the demo's configuration (`cli/demo.py`, all its sources) on the
real simulator playing its default scenario, through the real Service and its feed, and headless
Chromium on /display. The test moves one clock (the simulator's and the centre's) through the
scenario's three minutes and runs the collections the demo's schedules would run.

- Reports, by the reporter's clock: the late province (04) withholds its reports of the last 40
  days and delivers them at +150 s; every other province published on time, although the centre
  first collected those reports weeks after they were due (the demo judges reports due up to 35
  days before its first run). The feed's ``reporting`` query, ``opscentre reporting --config`` with
  the demo's settings, the console's provinces view and the wall's completeness strip agree on
  every indicator and name the late province alone: missing until it delivers, late after.
- Each scenario event's alert is worded on the wall, in Vietnamese and in English.

Screenshots are kept in the test's tmp dir (pytest's basetemp) as artifacts. One run of the
scenario serves every check: it is the suite's longest test."""

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
from tests.browser import chromium, open_display
from tests.conftest import run_cli
from tests.demokit import demo_service
from tests.feedkit import Client
from tests.simulator_fixtures import Clock

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

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


# What the ticker says for each scenario event, in each language (a part of each wording).
SHOWN = {
    "vi": [
        "Số liệu chính thức bị điều chỉnh",  # figures.revised
        "Điều chỉnh cần xem",  # revision.watch
        "khác số cả nước",  # crosscheck.provinces
        "Hai nguồn khác nhau",  # crosscheck.sources
        "Giá trị bất thường",  # anomaly.outlier
        "Nguồn Bộ Tài chính [mof]",  # source.failing / source.down: the agency named
        "Bộ đếm giảm",  # counter.decreased
    ],
    "en": [
        "Official figure revised",
        "Revision to watch",
        "not the national",
        "Two sources differ",
        "Outlier:",
        "Source Ministry of Finance [mof]",
        "Counter went down",
    ],
}


async def test_after_three_minutes_every_surface_agrees_and_the_wall_words_each_event(tmp_path: Path) -> None:
    pytest.importorskip("pysdmx")
    from playwright.async_api import expect

    db = tmp_path / "ops.db"
    # `opscentre reporting` on the demo's settings: the built-in configuration (the demo's sources)
    # with the demo's look-back.
    days = DEMO_LATE_LOOKBACK // timedelta(days=1)
    config = tmp_path / "demo.toml"
    config.write_text(builtin_text().replace("\n[rules]\n", f'\n[rules]\nlate_lookback = "{days}d"\n'), "utf-8")
    async with chromium() as browser:
        clock = Clock()
        async with demo_service(db, clock, every_source=True) as service:
            assert service.collector is not None and service.feed is not None
            async with open_display(browser, service.feed) as display:
                await display.wait_state("auth")
                await display.enter_token("demo-display")
                await display.wait_state("live")
                start = clock()
                everything = sorted(service.collector.sources)
                # The demo's polls over the scenario's three minutes (each source once a minute;
                # NSO, VNAT and the portal just after their events; the late province (04) at its
                # poll after it delivers at +150 s).
                plan = {1: everything, 45: ["nso"], 61: everything, 75: ["vnat"], 115: ["portal"]}
                plan |= {121: [n for n in everything if n != f"province-{WITHHELD}"], 178: ["nso-sdmx"]}
                plan |= {181: [f"province-{WITHHELD}"]}
                seen: dict[int, list[dict[str, Any]]] = {}
                for second, names in sorted(plan.items()):
                    clock.set(start + timedelta(seconds=second))
                    await service.collector.run_many(names)
                    await asyncio.sleep(0.5)  # a few passes of the rules timer
                    if second in (61, 181):
                        feed = await feed_rows(service.feed.url)
                        assert feed == cli_rows(config, db)  # the same rows, field by field
                        seen[second] = feed
                    if second == 61:  # the late province's reports are owed: its alert, in both languages
                        late = display.page.locator("#ticker .alert[data-alert-id] .msg")
                        await expect(late.filter(has_text="Tỉnh Cao Bằng chưa gửi báo cáo").first).to_be_visible()
                        await display.page.locator("#lang-toggle").click()
                        await expect(
                            late.filter(has_text="Tỉnh Cao Bằng has not sent its report").first
                        ).to_be_visible()
                        await display.page.locator("#lang-toggle").click()
                _reports_name_only_the_withheld_province(seen[61], seen[181])
                # The completeness strip, by the reporters' clocks: the late province alone is late
                # (it delivered at +150 s), every other report came on time, none is missing.
                chips = display.page.locator("#completeness .chip[data-indicator]")
                await expect(chips.filter(has_text="· 1 trễ hạn").first).to_be_visible(timeout=30_000)
                for text in await chips.all_inner_texts():
                    got, expected = text.split(": ", 1)[1].split(" ")[0].split("/")
                    assert got == expected, text
                    assert "trễ hạn" not in text or text.endswith("· 1 trễ hạn"), text
                # Alerts only, not the items counting the rest of a rule's alerts.
                ticker = display.page.locator("#ticker .alert[data-alert-id] .msg")
                for lang in ("vi", "en"):
                    if lang == "en":
                        await display.page.locator("#lang-toggle").click()
                    for text in SHOWN[lang]:
                        await expect(ticker.filter(has_text=text).first).to_be_visible(timeout=30_000)
                    await display.page.screenshot(path=str(tmp_path / f"demo-wall-{lang}.png"))
                assert display.errors == [], display.errors


def _reports_name_only_the_withheld_province(
    before_rows: list[dict[str, Any]], after_rows: list[dict[str, Any]]
) -> None:
    before, after = named(before_rows), named(after_rows)
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
    assert {t["clock"] for row in after_rows for t in row["reports"]} == {"published"}
    # The console's provinces view marks each province from the same rows: the late one alone.
    for row in map(ReportingRow.model_validate, after_rows):
        areas = {*row.missing, *row.late_areas, "01", "79"}
        marked = {a for a in areas if report_status(row, a) in ("report.late", "report.missing")}
        assert marked <= {WITHHELD}, (row.indicator, marked)
