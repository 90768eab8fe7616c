"""The wall's alert ticker under a flood: one rule with many open alerts must not hide another
rule's alert. A real feed server over a real SQLite store and headless Chromium on /display.

Skipped (with the reason) where playwright or the system Chromium is missing; see tests/browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storage import AlertParams, Severity
from storage.models import SilenceMatch
from tests.browser import chromium, open_display, require_browser
from tests.feedkit import TOKENS, feed_server

if TYPE_CHECKING:
    from playwright.async_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

FLOOD = 60


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_browser()
    async with chromium() as b:
        yield b


async def test_a_flood_of_one_rule_does_not_hide_another_rules_alert(tmp_path: Path, browser: Browser) -> None:
    """60 open revision.watch alerts, one province cross-check fired before them all (the oldest,
    same severity) and a critical alert muted by a silence: the cross-check is on screen, the
    revision alerts show a few and one item saying how many more (in vi and en), and the muted
    alert comes last, dimmed."""
    from playwright.async_api import expect

    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        other = await store.alerts.fire(
            "crosscheck.provinces", "EXPORTS/2026-10", Severity.WARNING, "EXPORTS 2026-10: tổng tỉnh khác số cả nước",
            params=AlertParams(indicator="EXPORTS", period="2026-10", value=52.4, reference_value=40.1,
                               reference_source="gdc", count=63),
        )  # fmt: skip
        assert other is not None
        for i in range(FLOOD):
            period = f"{2020 + i // 12}-{i % 12 + 1:02d}"
            fired = await store.alerts.fire(
                "revision.watch", f"CPI_YOY/04/{period}/province-04", Severity.WARNING, "Số liệu bị điều chỉnh",
                params=AlertParams(indicator="CPI_YOY", area="04", period=period, source="province-04",
                                   value=3.1, previous_value=3.0, revision=1, reason="closed"),
            )  # fmt: skip
            assert fired is not None
        muted = await store.alerts.fire(
            "source.down", "mof", Severity.CRITICAL, "Nguồn mof ngừng hoạt động", params=AlertParams(source="mof")
        )
        assert muted is not None
        await store.alerts.silence(
            SilenceMatch(source="mof"), datetime.now(UTC) + timedelta(hours=1), "bảo trì", "admin-user", "admin"
        )

        async with open_display(browser, server) as display:
            await display.wait_state("auth")
            await display.enter_token(TOKENS["display"])
            await display.wait_state("live")
            ticker = display.page.locator("#ticker")
            await expect(ticker).to_have_attribute("data-count", str(FLOOD + 2))
            item = ticker.locator(f'[data-alert-id="{other.id}"]')
            await expect(item).to_be_visible()
            # Early in the ticker (which scrolls through what does not fit the screen's width):
            # before any second revision alert (each rule's first alert comes before any rule's second).
            order = await ticker.locator(".alert").evaluate_all(
                "(items) => items.map((e) => e.dataset.alertId ? e.dataset.rule : `summary:${e.dataset.summary}`)"
            )
            assert order.index("crosscheck.provinces") < 2, order

            revisions = ticker.locator('.alert[data-rule="revision.watch"][data-alert-id]')
            few = await revisions.count()
            assert 1 <= few <= 3, few
            summary = ticker.locator('.alert[data-summary="revision.watch"] .msg')
            await expect(summary).to_have_text(f"và {FLOOD - few} cảnh báo sửa số liệu khác")

            # The muted alert: last of all, dimmed, even though it is the only critical one.
            last = ticker.locator(".alert").last
            await expect(last).to_have_attribute("data-alert-id", str(muted.id))
            await expect(last).to_have_attribute("data-muted", "silenced")
            opacity = await last.evaluate("(e) => Number(getComputedStyle(e).opacity)")
            assert opacity < 1, opacity

            await display.page.locator("#lang-toggle").click()
            await expect(summary).to_have_text(f"and {FLOOD - few} more revision alerts")
            await expect(item.locator(".msg")).to_have_text(re.compile("not the national"))
            assert display.errors == [], display.errors
