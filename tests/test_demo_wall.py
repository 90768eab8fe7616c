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
from tests.simulator_fixtures import Clock, running

pytestmark = pytest.mark.timeout(420)

WANTED = {"nso", "nso-sdmx", "cus", "vnat", "mof", "portal"}
# What the ticker says for each scenario event, in each language (a part of each wording).
SHOWN = {
    "vi": [
        "Số liệu chính thức bị điều chỉnh",  # figures.revised
        "Số liệu bị điều chỉnh",  # revision.watch
        "chưa gửi báo cáo",  # report.late
        "khác số cả nước",  # crosscheck.provinces
        "Hai nguồn khác nhau",  # crosscheck.sources
        "Giá trị bất thường",  # anomaly.outlier
        "Nguồn mof",  # source.failing / source.down
        "Bộ đếm giảm",  # counter.decreased
    ],
    "en": [
        "Official figure revised",
        "Figure revised",
        "has not reported",
        "not the national",
        "Two sources disagree",
        "Outlier:",
        "Source mof",
        "Counter went down",
    ],
}


async def test_each_demo_scenario_is_worded_on_the_wall_in_both_languages(tmp_path: Path) -> None:
    pytest.importorskip("pysdmx")
    from playwright.async_api import expect

    from cli.config import load
    from cli.demo import demo_config
    from cli.runtime import Service
    from collectors.config import CollectorSettings
    from storage.clock import use_clock

    async with chromium() as browser:
        clock = Clock()
        with use_clock(clock):
            async with running(clock, scenario="demo") as (sim, _):
                base = demo_config(load(), int(sim.url.rsplit(":", 1)[1]))
                sources = [s for s in base.sources if s.name in WANTED or s.name.startswith("province-")]
                config = base.model_copy(
                    update={
                        "sources": sources,
                        "collector": CollectorSettings(retries=0, breaker_failures=base.collector.breaker_failures),
                        "feed": base.feed.model_copy(update={"port": 0}),
                        "rules": base.rules.model_copy(update={"every": timedelta(seconds=0.2)}),
                    }
                )
                service = Service(config, str(tmp_path / "ops.db"), schedule=False)
                await service.start()
                try:
                    assert service.collector is not None and service.feed is not None
                    async with open_display(browser, service.feed) as display:
                        await display.wait_state("auth")
                        await display.enter_token("demo-display")
                        await display.wait_state("live")
                        start = clock()
                        everything = [s.name for s in sources]
                        # The demo's polls over the scenario's three minutes (each source once a
                        # minute; NSO, VNAT and the portal just after their events). The province
                        # that withholds its reports (04) blanks the provinces' sum of the inflated
                        # exports (a partial sum says nothing: collectors/crosscheck.py) until it
                        # delivers at +150 s; its next poll, at +181 s, brings them and the sum
                        # then contradicts the national figure.
                        plan = {1: everything, 45: ["nso"], 61: everything, 75: ["vnat"], 115: ["portal"]}
                        plan |= {121: [n for n in everything if n != "province-04"], 178: ["nso-sdmx"]}
                        plan |= {181: ["province-04"]}
                        for second, names in sorted(plan.items()):
                            clock.set(start + timedelta(seconds=second))
                            await service.collector.run_many(names)
                            await asyncio.sleep(0.5)  # a few passes of the rules timer
                        # Alerts only, not the items counting the rest of a rule's alerts.
                        ticker = display.page.locator("#ticker .alert[data-alert-id] .msg")
                        for lang in ("vi", "en"):
                            if lang == "en":
                                await display.page.locator("#lang-toggle").click()
                            for text in SHOWN[lang]:
                                await expect(ticker.filter(has_text=text).first).to_be_visible(timeout=30_000)
                            await display.page.screenshot(path=str(tmp_path / f"demo-wall-{lang}.png"))
                        assert display.errors == [], display.errors
                finally:
                    await service.stop()
