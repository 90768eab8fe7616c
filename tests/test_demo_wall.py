"""The demo on the wall: the demo's configuration (`cli/demo.py`) on the real simulator playing
its default scenario, through the real Service and its feed, and headless Chromium on /display.
The test moves one clock (the simulator's and the centre's) through the scenario's three minutes
and runs the collections the demo's schedules would run; each scenario event's alert is then
worded on the wall, in Vietnamese and in English. Screenshots are kept in the test's tmp dir
(pytest's basetemp) as artifacts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser import chromium, open_display
from tests.demokit import demo_service
from tests.simulator_fixtures import Clock

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

# What the ticker says for each scenario event, in each language (a part of each wording).
SHOWN = {
    "vi": [
        "Số liệu chính thức bị điều chỉnh",  # figures.revised
        "Điều chỉnh cần xem",  # revision.watch
        "chưa gửi báo cáo",  # report.late
        "khác số cả nước",  # crosscheck.provinces
        "Hai nguồn khác nhau",  # crosscheck.sources
        "Giá trị bất thường",  # anomaly.outlier
        "Nguồn mof",  # source.failing / source.down
        "Bộ đếm giảm",  # counter.decreased
    ],
    "en": [
        "Official figure revised",
        "Revision to watch",
        "has not sent its report",
        "not the national",
        "Two sources differ",
        "Outlier:",
        "Source mof",
        "Counter went down",
    ],
}


async def test_each_demo_scenario_is_worded_on_the_wall_in_both_languages(tmp_path: Path) -> None:
    pytest.importorskip("pysdmx")
    from playwright.async_api import expect

    async with chromium() as browser:
        clock = Clock()
        async with demo_service(tmp_path / "ops.db", clock) as service:
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
                plan |= {121: [n for n in everything if n != "province-04"], 178: ["nso-sdmx"]}
                plan |= {181: ["province-04"]}
                for second, names in sorted(plan.items()):
                    clock.set(start + timedelta(seconds=second))
                    await service.collector.run_many(names)
                    await asyncio.sleep(0.5)  # a few passes of the rules timer
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
