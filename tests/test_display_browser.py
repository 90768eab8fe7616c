"""The wall display (/display) in a real headless Chromium against a real feed server over a real
SQLite store: the token form, tiles filling from the snapshot, live changes and alerts, a server
restart survived by resuming, English, staleness, and a wrong token. Last, against a scripted feed:
garbage and unknown messages, late and out-of-order figures, and the close codes 4008/4009/4403.

Skipped (with the reason) where playwright or the system Chromium is missing; see tests/browser.py.
Every wait is for a condition on the page, never for a length of time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from feed.server import STATIC
from storage import AlertParams, Batch, ObservationIn, ObservationStatus, Severity, Store
from tests.browser import Display, chromium, open_display, require_browser
from tests.feedkit import TOKENS, feed_server

if TYPE_CHECKING:
    from playwright.async_api import Browser

TOKEN = TOKENS["display"]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_browser()
    async with chromium() as b:
        yield b


# --- figures -------------------------------------------------------------------------------------------


def month(today: date, back: int) -> str:
    """The month ``back`` months before today's ("2026-10" for back=1 in November 2026)."""
    index = today.year * 12 + today.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def last_quarter(today: date) -> str:
    q = (today.month - 1) // 3  # the quarter before this one, 0 meaning last year's fourth
    return f"{today.year - 1}-Q4" if q == 0 else f"{today.year}-Q{q}"


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def ingest(
    store: Store, source: str, rows: list[tuple[str, str, float]], *, status: str = "official", **batch: object
) -> None:
    kind = ObservationStatus(status)
    records = [ObservationIn(indicator=i, area="VN", period=p, value=v, status=kind) for i, p, v in rows]
    result = await store.observations.ingest(Batch(source, records, **batch))  # type: ignore[arg-type]
    assert not result.rejected, result.rejected


CPI = [2.9, 3.0, 3.1, 3.05, 3.15, 3.22]  # the last six months, oldest first


async def seed(store: Store, now: datetime, *, usd_days_back: int = 1) -> None:
    """Recent figures for a few tiles and two live counters, as collectors would store them."""
    today = now.date()
    await ingest(store, "nso", [("CPI_YOY", month(today, 6 - i), v) for i, v in enumerate(CPI)])
    await ingest(
        store,
        "nso",
        [
            ("RETAIL_SALES", month(today, 2), 1180.0),
            ("RETAIL_SALES", month(today, 1), 1234.5),
            ("GDP_GROWTH", last_quarter(today), 7.4),
        ],
    )
    await ingest(store, "gdc", [("EXPORTS", month(today, 2), 38.5), ("EXPORTS", month(today, 1), 40.12)])
    await ingest(store, "sbv", [("USD_CENTRAL_RATE", (today - timedelta(days=usd_days_back)).isoformat(), 25123)])
    await ingest(
        store,
        "portal",
        [("PORTAL_VISITS", instant(now), 1234567), ("PORTAL_PAYMENT_AMOUNT", instant(now), 9876.5)],
    )


async def connect(display: Display) -> None:
    """Give the page its token through the form, and wait until it is live."""
    await display.wait_state("auth")
    await display.enter_token(TOKEN)
    await display.wait_state("live")


def assert_clean(display: Display) -> None:
    assert display.errors == [], display.errors
    for secret in TOKENS.values():
        assert display.urls_containing(secret[:12]) == []
    assert display.urls_containing("token") == []


# --- the tests -------------------------------------------------------------------------------------------


async def test_tiles_fill_from_the_feed_after_the_token_is_given(tmp_path: Path, browser: Browser) -> None:
    now = datetime.now(UTC)
    async with feed_server(tmp_path / "ops.db") as server:
        await seed(server.store, now)
        async with open_display(browser, server) as display:
            # No token stored yet: the form asks for it, and nothing is connected.
            await display.wait_state("auth")
            assert await display.page.locator("#token-form").is_visible()
            await connect(display)
            assert await display.page.locator("#auth").is_hidden()
            assert await display.stored_token() == TOKEN

            # Vietnamese by default: 1.234,5 — and every figure from the snapshot on its tile.
            await display.wait_tile_value("CPI_YOY", "3,22")
            await display.wait_tile_value("RETAIL_SALES", "1.234,5")
            await display.wait_tile_value("USD_CENTRAL_RATE", "25.123")
            await display.wait_tile_value("EXPORTS", "40,12")
            await display.wait_tile_value("GDP_GROWTH", "7,40")
            await display.wait_counter_value("PORTAL_VISITS", "1.234.567")
            await display.wait_counter_value("PORTAL_PAYMENT_AMOUNT", "9.876,5")

            cpi = display.tile("CPI_YOY")
            assert "Chỉ số giá tiêu dùng" in await cpi.locator(".name").inner_text()
            assert await cpi.locator(".unit").inner_text() == "%"
            period = month(now.date(), 1)
            assert await cpi.get_attribute("data-period") == period
            assert await cpi.locator(".period").inner_text() == f"Tháng {int(period[5:])}/{period[:4]}"
            # The sparkline and the change need the history, asked for after the snapshot.
            await display.wait_attribute(cpi.locator(".spark"), "data-points", str(len(CPI)))
            change = cpi.locator(".change")
            await display.wait_attribute(change, "data-dir", "up")
            assert (await change.inner_text()).startswith("▲ 0,07 điểm %")
            assert await cpi.get_attribute("data-stale") == "fresh"
            assert await cpi.locator(".age").inner_text() != ""
            # A tile with nothing yet says so rather than showing a stale zero.
            assert await display.tile("IMPORTS").locator(".value").inner_text() == "—"
            assert await display.tile("IMPORTS").get_attribute("data-stale") == "none"

            # The ticker says there is nothing open; the last message time is shown.
            assert await display.page.locator("#ticker [data-alert-id]").count() == 0
            assert await display.page.locator("#last-message").inner_text() != ""

            # The token went in the hello, never in a URL.
            hello = display.hellos()[0]
            assert hello["token"] == TOKEN
            assert set(hello["filter"]["indicators"]) >= {"CPI_YOY", "PORTAL_VISITS"}
            assert hello["filter"]["areas"] == ["VN"]
            assert "resume" not in hello
            assert_clean(display)


async def test_live_changes_and_alerts_reach_the_wall(tmp_path: Path, browser: Browser) -> None:
    now = datetime.now(UTC)
    today = now.date()
    async with feed_server(tmp_path / "ops.db") as server:
        await seed(server.store, now)
        async with open_display(browser, server) as display:
            await connect(display)
            await display.wait_tile_value("CPI_YOY", "3,22")
            cpi = display.tile("CPI_YOY")
            await display.wait_attribute(cpi.locator(".spark"), "data-points", str(len(CPI)))

            # A revision of the latest month (as a manual collection run would bring).
            await ingest(server.store, "nso", [("CPI_YOY", month(today, 1), 3.31)], status="provisional")
            await display.wait_tile_value("CPI_YOY", "3,31")
            await display.wait_attribute(cpi, "data-revision", "2")
            assert await cpi.get_attribute("data-status") == "provisional"
            assert await cpi.locator(".status").inner_text() == "SƠ BỘ · ĐÃ ĐIỀU CHỈNH"
            await display.wait_attribute(cpi.locator(".spark"), "data-points", str(len(CPI)))

            # A new period: the tile moves on and the sparkline grows by one.
            await ingest(server.store, "nso", [("RETAIL_SALES", month(today, 0), 1301.7)])
            await display.wait_tile_value("RETAIL_SALES", "1.301,7")
            retail = display.tile("RETAIL_SALES")
            assert await retail.get_attribute("data-period") == month(today, 0)
            await display.wait_attribute(retail.locator(".spark"), "data-points", "3")
            assert (await retail.locator(".change").inner_text()).startswith("▲ 67,2 so với Tháng ")

            # A second source reporting an older period does not replace the newer figure.
            await ingest(server.store, "mof", [("RETAIL_SALES", month(today, 3), 999.0)])
            await ingest(server.store, "gdc", [("EXPORTS", month(today, 0), 41.0)])
            await display.wait_tile_value("EXPORTS", "41,00")
            await display.wait_tile_value("RETAIL_SALES", "1.301,7")

            # A live counter counts up to its next reading.
            await ingest(server.store, "portal", [("PORTAL_VISITS", instant(now + timedelta(seconds=5)), 1240000)])
            await display.wait_counter_value("PORTAL_VISITS", "1.240.000")
            visits = display.counter("PORTAL_VISITS")
            assert (await visits.locator(".rate").inner_text()).startswith("+")

            # Alerts: shown with their severity, marked when acknowledged, gone when resolved.
            alert = await server.store.alerts.fire("stale_source", "mof", Severity.CRITICAL, "Nguồn MOF chậm 3 ngày")
            assert alert is not None
            item = display.page.locator(f'#ticker [data-alert-id="{alert.id}"]')
            await display.wait_attribute(item, "data-severity", "critical")
            assert "Nguồn MOF chậm 3 ngày" in await item.inner_text()
            await server.store.alerts.acknowledge(alert.id, "operator-user", "operator", "đang xử lý")
            await display.wait_attribute(item, "data-state", "acknowledged")
            await server.store.alerts.resolve("stale_source", "mof")
            await display.page.locator(f'#ticker [data-alert-id="{alert.id}"]').wait_for(state="detached")
            assert_clean(display)


async def test_a_server_restart_is_survived_by_resuming(tmp_path: Path, browser: Browser) -> None:
    now = datetime.now(UTC)
    today = now.date()
    async with feed_server(tmp_path / "ops.db") as first:
        store, port = first.store, first.port
        await seed(store, now)
        async with open_display(browser, first) as display:
            await connect(display)
            await display.wait_tile_value("CPI_YOY", "3,22")
            await display.wait_attribute(display.tile("CPI_YOY").locator(".spark"), "data-points", str(len(CPI)))
            assert await display.js("window.__opscentre.lastWelcome.resumed") is False

            await first.stop()  # clients are told 1001: going away
            await display.wait_state("reconnecting")

            # Figures collected while the feed server is down go straight into the store.
            await ingest(store, "nso", [("CPI_YOY", month(today, 0), 3.4)])
            await ingest(store, "portal", [("PORTAL_VISITS", instant(now + timedelta(seconds=10)), 1250000)])

            async with feed_server(tmp_path / "ops.db", store=store, port=port):
                await display.wait_state("live")
                await display.wait_until("() => window.__opscentre.lastWelcome?.resumed === true")
                await display.wait_attribute(display.page.locator("#conn"), "data-resumed", "true")
                # Only what was missed came, not a snapshot: and it is on the wall.
                await display.wait_tile_value("CPI_YOY", "3,40")
                await display.wait_counter_value("PORTAL_VISITS", "1.250.000")
                await display.wait_attribute(
                    display.tile("CPI_YOY").locator(".spark"), "data-points", str(len(CPI) + 1)
                )
                assert await display.tile("CPI_YOY").get_attribute("data-period") == month(today, 0)
                stats = await display.js("window.__opscentre.stats")
                assert stats["snapshots"] == 1 and stats["resumes"] == 1, stats

                # It asked to resume from where it was, with the same filter.
                first_hello, *later = display.hellos()
                resume = later[-1]["resume"]
                assert resume["epoch"] == store.epoch and resume["seq"] > 0
                assert later[-1]["filter"] == first_hello["filter"]

                # And it stays live: a change after the restart arrives as usual.
                await ingest(store, "nso", [("CPI_YOY", month(today, 0), 3.45)])
                await display.wait_tile_value("CPI_YOY", "3,45")
                assert_clean(display)


async def test_english_and_staleness(tmp_path: Path, browser: Browser) -> None:
    now = datetime.now(UTC)
    today = now.date()
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        # Late figures: the daily rate five days old (amber), imports from two years ago (red);
        # live counters last read a minute ago (amber) and ten minutes ago (red).
        await seed(store, now, usd_days_back=5)
        await ingest(store, "gdc", [("IMPORTS", month(today, 24), 30.5)])
        await ingest(store, "portal", [("PORTAL_CALLS", instant(now), 4321)], collected_at=now - timedelta(seconds=60))
        await ingest(
            store, "portal", [("PORTAL_FEEDBACK", instant(now), 765)], collected_at=now - timedelta(minutes=10)
        )
        async with open_display(browser, server) as display:
            await connect(display)
            await display.wait_tile_value("RETAIL_SALES", "1.234,5")

            await display.wait_attribute(display.tile("CPI_YOY"), "data-stale", "fresh")
            await display.wait_attribute(display.tile("GDP_GROWTH"), "data-stale", "fresh")
            usd = display.tile("USD_CENTRAL_RATE")
            await display.wait_attribute(usd, "data-stale", "amber")
            assert await usd.locator(".stale-note").inner_text() == "Chậm cập nhật"
            imports = display.tile("IMPORTS")
            await display.wait_attribute(imports, "data-stale", "red")
            assert await imports.locator(".stale-note").inner_text() == "Quá hạn"
            await display.wait_attribute(display.counter("PORTAL_CALLS"), "data-stale", "amber")
            await display.wait_attribute(display.counter("PORTAL_FEEDBACK"), "data-stale", "red")
            await display.wait_attribute(display.counter("PORTAL_VISITS"), "data-stale", "fresh")
            assert "phút trước" in await display.counter("PORTAL_FEEDBACK").locator(".age").inner_text()

            # Yesterday's rate arrives: the tile is fresh again.
            await ingest(store, "sbv", [("USD_CENTRAL_RATE", (today - timedelta(days=1)).isoformat(), 25100)])
            await display.wait_tile_value("USD_CENTRAL_RATE", "25.100")
            await display.wait_attribute(usd, "data-stale", "fresh")

            # Switch to English: names, units, number format, ages.
            await display.page.locator("#lang-toggle").click()
            await display.wait_tile_value("RETAIL_SALES", "1,234.5")
            assert await display.js("document.documentElement.lang") == "en"
            retail = display.tile("RETAIL_SALES")
            assert await retail.locator(".name").inner_text() == "Retail sales of goods and consumer services"
            assert await retail.locator(".unit").inner_text() == "trillion VND"
            assert await usd.locator(".value").inner_text() == "25,100"
            assert await display.counter("PORTAL_VISITS").locator(".value").inner_text() == "1,234,567"
            assert await imports.locator(".stale-note").inner_text() == "Overdue"
            assert "min ago" in await display.counter("PORTAL_FEEDBACK").locator(".age").inner_text()
            assert await display.page.locator("#lang-toggle").inner_text() == "VI"
            assert await display.page.locator("#conn .conn-label").inner_text() == "Live"

            # The choice and the token are remembered: after a reload, English and live, no form.
            await display.page.reload()
            await display.wait_state("live")
            await display.wait_tile_value("RETAIL_SALES", "1,234.5")
            assert await display.page.locator("#auth").is_hidden()

            await display.page.locator("#lang-toggle").click()
            await display.wait_tile_value("RETAIL_SALES", "1.234,5")
            assert await display.js("document.documentElement.lang") == "vi"
            assert_clean(display)


async def test_a_wrong_token_brings_the_form_back(tmp_path: Path, browser: Browser) -> None:
    wrong = "wrong-token-do-not-leak-42"
    async with feed_server(tmp_path / "ops.db") as server:
        await seed(server.store, datetime.now(UTC))
        async with open_display(browser, server) as display:
            await display.wait_state("auth")
            await display.enter_token(wrong)
            # Refused with 4401: no retry, the form again with the reason, the bad token forgotten.
            error = display.page.locator("#token-error")
            await error.wait_for(state="visible", timeout=15_000)
            assert "4401" in await error.inner_text()
            await display.wait_state("auth")
            assert await display.page.locator("#token-form").is_visible()
            assert await display.stored_token() is None
            assert len(display.hellos()) == 1  # it did not try again on its own

            # Nothing of the token in any URL the page asked for (page, script, style, feed).
            assert display.urls_containing(wrong[:10]) == []
            assert any(url.endswith("/feed") for url in display.urls)
            assert display.page.url == f"http://127.0.0.1:{server.port}/display"

            # The right token then works from the same form.
            await display.enter_token(TOKEN)
            await display.wait_state("live")
            await display.wait_tile_value("CPI_YOY", "3,22")
            assert_clean(display)


# --- a scripted feed: message orders and close codes a real server would not produce on demand --------


class ScriptedFeed:
    """Serves the real page and a /feed that plays one script per connection, so a test can send
    what the real server never would (garbage, unknown types, late and out-of-order figures)
    and close with any code. Scripts get the socket; hellos are kept."""

    def __init__(self, scripts: list[Callable[[ServerConnection], Awaitable[None]]]) -> None:
        self.scripts = scripts
        self.hellos: list[dict[str, Any]] = []
        self.proceed = [asyncio.Event() for _ in scripts]  # set by the test: the script may go on
        self.port = 0

    async def _handle(self, ws: ServerConnection) -> None:
        self.hellos.append(json.loads(await ws.recv()))
        index = len(self.hellos) - 1
        if index < len(self.scripts):
            await self.scripts[index](ws)
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:  # history queries and the like: left unanswered
                pass

    def _static(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/feed":
            return None
        if request.path not in STATIC:
            return Response(404, "Not Found", Headers([("Content-Length", "0")]), b"")
        name, content_type = STATIC[request.path]
        body = resources.files("feed.static").joinpath(name).read_bytes()
        headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return Response(200, "OK", headers, body)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ScriptedFeed]:
        async with serve(self._handle, "127.0.0.1", 0, process_request=self._static) as server:
            self.port = server.sockets[0].getsockname()[1]
            try:
                yield self
            finally:
                for event in self.proceed:  # a failed test must not leave scripts waiting forever
                    event.set()


def change(indicator: str, period: str, value: float, *, source: str = "nso", revision: int = 1, at: int = 0):
    collected = datetime(2026, 11, 23, 8, 0, tzinfo=UTC) + timedelta(minutes=at)
    return {
        "id": 1,
        "indicator": indicator,
        "area": "VN",
        "source": source,
        "period": period,
        "value": value,
        "status": "official",
        "revision": revision,
        "collected_at": collected.isoformat().replace("+00:00", "Z"),
    }


def welcome(epoch: str, seq: int, resumed: bool) -> str:
    return json.dumps(
        {"type": "welcome", "protocol": 1, "server_version": "test", "user": "display-user", "role": "display"}
        | {"epoch": epoch, "seq": seq, "resumed": resumed}
    )


def snapshot(epoch: str, seq: int, observations: list[dict[str, Any]]) -> str:
    return json.dumps(
        {"type": "snapshot", "epoch": epoch, "seq": seq, "filter": {}, "observations": observations}
        | {"alerts": [], "runs": []}
    )


def delta(epoch: str, seq: int, *changes: dict[str, Any]) -> str:
    return json.dumps({"type": "delta", "epoch": epoch, "seq": seq, "changes": list(changes)})


async def test_odd_messages_late_figures_and_close_codes(browser: Browser) -> None:
    feed: ScriptedFeed

    async def first(ws: ServerConnection) -> None:
        await ws.send(welcome("e1", 10, False))
        await ws.send(snapshot("e1", 10, [change("CPI_YOY", "2026-10", 3.2)]))
        # Nothing here may stop the page: not JSON, not an object, unknown types, missing fields.
        for odd in ("not json", "[1, 2]", '{"type": "mystery", "epoch": "e1", "seq": 999}', '{"type": "delta"}'):
            await ws.send(odd)
        # An older period arrives late: ignored. Another source, same period, collected later: shown.
        await ws.send(delta("e1", 11, change("CPI_YOY", "2026-09", 9.99)))
        await ws.send(delta("e1", 12, change("CPI_YOY", "2026-10", 3.3, source="mof", at=5)))
        await ws.send(
            json.dumps({"type": "heartbeat", "epoch": "e1", "seq": 14, "time": datetime.now(UTC).isoformat()})
        )
        await feed.proceed[0].wait()
        await ws.close(4008, "too slow")  # reconnect and resume

    async def second(ws: ServerConnection) -> None:
        await ws.send(welcome("e1", 17, True))
        await ws.send(delta("e1", 15, change("CPI_YOY", "2026-11", 3.4, at=1)))  # newest period wins
        await ws.send(delta("e1", 16, change("CPI_YOY", "2026-11", 3.45, revision=2, at=2)))
        await ws.send(delta("e1", 17, change("CPI_YOY", "2026-11", 3.1, revision=1, at=3)))  # an older revision
        await ws.send(delta("e1", 18, change("RETAIL_SALES", "2026-10", 1234.5)))
        await feed.proceed[1].wait()
        await ws.close(4009, "resync")

    async def third(ws: ServerConnection) -> None:
        # The server could not resume: a fresh snapshot from another database replaces everything.
        await ws.send(welcome("e2", 3, False))
        await ws.send(snapshot("e2", 3, [change("CPI_YOY", "2026-10", 2.0)]))
        await feed.proceed[2].wait()
        await ws.close(4403, "origin not allowed")  # final: the form, no retry

    feed = ScriptedFeed([first, second, third])
    async with feed.running():
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        try:
            page = await context.new_page()
            display = Display(page)
            await page.goto(f"http://127.0.0.1:{feed.port}/display")
            await connect(display)
            await display.wait_tile_value("CPI_YOY", "3,30")
            assert await display.tile("CPI_YOY").get_attribute("data-source") == "mof"
            assert (await display.js("window.__opscentre.stats"))["ignored"] >= 1
            await display.wait_until("() => window.__opscentre.position?.seq === 14")  # heartbeats count

            feed.proceed[0].set()
            await display.wait_tile_value("RETAIL_SALES", "1.234,5")
            assert await display.tile("CPI_YOY").locator(".value").inner_text() == "3,45"
            assert feed.hellos[1]["resume"] == {"epoch": "e1", "seq": 14}
            assert await display.page.locator("#conn").get_attribute("data-resumed") == "true"

            feed.proceed[1].set()
            await display.wait_tile_value("CPI_YOY", "2,00")
            await display.wait_tile_value("RETAIL_SALES", "—")
            assert feed.hellos[2]["resume"] == {"epoch": "e1", "seq": 18}
            assert await display.page.locator("#conn").get_attribute("data-resumed") == "false"

            feed.proceed[2].set()
            await display.wait_state("auth")
            error = display.page.locator("#token-error")
            await error.wait_for(state="visible")
            assert "4403" in await error.inner_text()
            assert await display.stored_token() == TOKEN  # the token was fine: kept for later
            assert len(feed.hellos) == 3
            assert display.errors == [], display.errors
        finally:
            await context.close()


async def test_a_manual_collection_run_changes_the_wall(tmp_path: Path, browser: Browser) -> None:
    """The real path: an admin asks the server for a collection run over the feed; the collector
    pulls the (simulated) statistics office; the wall shows the new figure."""
    import httpx

    from collectors.config import CollectorSettings, SourceSettings
    from rules.after_run import Collector
    from simulator import SimulatorConfig, start
    from tests.feedkit import client

    clock = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    async with await start(SimulatorConfig(port=0, now=lambda: clock)) as sim:
        nso = SourceSettings(name="nso", kind="agency-json", url=f"{sim.url}/agencies/NSO/observations", every="1h")
        store = await Store.open(tmp_path / "ops.db")
        try:
            async with Collector(store, [nso], CollectorSettings()) as collector:
                async with feed_server(tmp_path / "ops.db", store=store, runs=collector) as server:
                    async with open_display(browser, server) as display, client(server, "admin", hello={}) as admin:
                        await connect(display)
                        await admin.until("welcome")

                        async def collect(key: str) -> None:
                            await admin.send({"type": "command", "id": key, "idempotency_key": f"wall-test-{key}",
                                              "command": {"name": "collect", "source": "nso"}})  # fmt: skip
                            assert (await admin.until("result"))["status"] == "accepted"
                            done = await admin.until("result", timeout=60)
                            assert done["data"]["runs"][0]["outcome"] == "success"

                        await collect("first")
                        cpi = display.tile("CPI_YOY")
                        await display.wait_attribute(cpi, "data-period", "2026-10")
                        before = await cpi.locator(".value").inner_text()
                        assert before != "—"

                        # The statistics office revises its figures; the next manual run brings them in.
                        async with httpx.AsyncClient() as http:
                            fault = {"endpoint": "/agencies/NSO/*", "kind": "revise", "fraction": 1.0, "count": 1}
                            assert (await http.put(f"{sim.url}/_admin/faults", json=fault)).status_code < 300
                        await collect("second")
                        await display.wait_attribute(cpi, "data-revision", "2")
                        after = await cpi.locator(".value").inner_text()
                        latest = next(
                            o for o in (await store.snapshots.current()).observations if o.indicator == "CPI_YOY"
                        )
                        assert after != before and latest.revision == 2
                        assert_clean(display)
        finally:
            await store.close()


async def test_a_revision_is_never_shown_as_the_figure_it_revised(tmp_path: Path, browser: Browser) -> None:
    """1.111345 revised to 1.11 must not read "1,11" before and after: the tile shows the digits
    that differ, whether the feed says what was replaced or only this page saw it."""
    now = datetime.now(UTC)
    today = now.date()
    async with feed_server(tmp_path / "ops.db") as server:
        await seed(server.store, now)
        async with open_display(browser, server) as display:
            await connect(display)
            await display.wait_tile_value("CPI_YOY", "3,22")
            cpi = display.tile("CPI_YOY")
            await ingest(server.store, "nso", [("CPI_YOY", month(today, 1), 3.2212)])
            await display.wait_attribute(cpi, "data-revision", "2")
            await display.wait_tile_value("CPI_YOY", "3,221")
            await ingest(server.store, "nso", [("CPI_YOY", month(today, 1), 3.22)])  # back again
            await display.wait_attribute(cpi, "data-revision", "3")
            await display.wait_tile_value("CPI_YOY", "3,22")  # beside 3,221: no trailing zero is a digit that differs
            # An unrevised figure keeps its usual decimals.
            await ingest(server.store, "nso", [("CPI_YOY", month(today, 0), 3.3)])
            await display.wait_tile_value("CPI_YOY", "3,30")
            assert_clean(display)


async def test_a_revision_without_previous_value_is_told_apart_from_what_the_page_showed(browser: Browser) -> None:
    feed: ScriptedFeed

    async def only(ws: ServerConnection) -> None:
        await ws.send(welcome("e1", 10, False))
        await ws.send(snapshot("e1", 10, [change("RETAIL_SALES", "2026-10", 1234.54)]))
        await feed.proceed[0].wait()
        await ws.send(delta("e1", 11, change("RETAIL_SALES", "2026-10", 1234.51, revision=2, at=1)))

    feed = ScriptedFeed([only])
    async with feed.running():
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        try:
            page = await context.new_page()
            display = Display(page)
            await page.goto(f"http://127.0.0.1:{feed.port}/display")
            await connect(display)
            await display.wait_tile_value("RETAIL_SALES", "1.234,5")
            feed.proceed[0].set()
            await display.wait_attribute(display.tile("RETAIL_SALES"), "data-revision", "2")
            await display.wait_tile_value("RETAIL_SALES", "1.234,51")
            assert display.errors == [], display.errors
        finally:
            await context.close()


async def test_the_ticker_speaks_the_pages_language_and_never_quotes_errors(tmp_path: Path, browser: Browser) -> None:
    """Alerts are worded on the wall from their rule and typed params, in Vietnamese or English:
    never the server's Vietnamese in English mode, never an error's text or a URL (an old alert
    whose message quoted one included)."""
    from playwright.async_api import expect

    url_error = "ConnectError: GET https://nso.example.gov.vn/api/obs?from=2026%2F10 failed: [Errno 111]"
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        await seed(store, datetime.now(UTC))
        fired = {
            "failing": await store.alerts.fire(
                "source.failing", "nso", Severity.CRITICAL, "Nguồn nso bị ngắt mạch sau 5 lần lỗi liên tiếp",
                params=AlertParams(source="nso", failures=5, http_status=503), detail=url_error,
            ),
            "revised": await store.alerts.fire(
                "figures.revised", "nso", Severity.INFO, "Số liệu chính thức bị điều chỉnh: GDP_GROWTH VN 2026-Q3 7.4 → 7.55",
                params=AlertParams(source="nso", indicator="GDP_GROWTH", area="VN", period="2026-Q3", value=7.55,
                                   previous_value=7.4, count=1),
            ),
            "late": await store.alerts.fire(
                "report.late", "01", Severity.WARNING, "Thành phố Hà Nội chưa gửi báo cáo RETAIL_SALES kỳ 2026-10",
                params=AlertParams(area="01", indicator="RETAIL_SALES", period="2026-10", due="2026-11-20", count=1),
            ),
            "sources": await store.alerts.fire(
                "crosscheck.sources", "CPI_YOY/VN/2026-10", Severity.WARNING, "Hai nguồn khác nhau: CPI_YOY VN",
                params=AlertParams(source="nso", indicator="CPI_YOY", area="VN", period="2026-10", value=3.22,
                                   reference_value=3.25, reference_source="nso-sdmx"),
            ),
            "unknown": await store.alerts.fire(
                "anomaly.outlier", "IIP_YOY", Severity.WARNING, "Giá trị bất thường: IIP_YOY kỳ 2026-10",
                params=AlertParams(indicator="IIP_YOY", area="VN", period="2026-10", value=31.5),
            ),
            # As a server before structured alerts stored it: no params, the error in the message.
            "legacy": await store.alerts.fire("source.failing", "gdc", Severity.WARNING, url_error),
        }  # fmt: skip
        ids = {name: alert.id for name, alert in fired.items() if alert is not None}
        assert len(ids) == len(fired)
        # The server's texts, rendered from the one catalogue; the page words nothing itself.
        stored = {a.id: a for a in await store.alerts.listed()}
        expected: dict[str, dict[str, str]] = {
            "vi": {name: stored[i].message for name, i in ids.items()},
            "en": {name: stored[i].message_en or "" for name, i in ids.items()},
        }
        assert expected["en"]["failing"] == (
            "Source nso: circuit open after 5 failures in a row (the source answered HTTP 503)"
        )
        assert expected["vi"]["late"] == (
            "Thành phố Hà Nội chưa gửi báo cáo Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng, tháng 10/2026"
            " (hạn 20/11/2026)"
        )
        # Params too few for the catalogue (an outlier without its score): the server's own text, and
        # in English the rule, never the Vietnamese; an old alert that quoted an error: the rule alone.
        assert expected["en"]["unknown"] == "Alert anomaly.outlier: IIP_YOY"
        expected["vi"]["legacy"] = "Cảnh báo source.failing: gdc"
        assert expected["en"]["legacy"] == "Alert source.failing: gdc"
        async with open_display(browser, server) as display:
            await connect(display)
            for lang in ("vi", "en"):
                if lang == "en":
                    await display.page.locator("#lang-toggle").click()
                for name, text in expected[lang].items():
                    message = display.page.locator(f'#ticker [data-alert-id="{ids[name]}"] .msg')
                    await expect(message).to_have_text(text)
                ticker = await display.page.locator("#ticker").inner_text()
                for raw in ("://", "%2F", "Errno", "ConnectError"):
                    assert raw not in ticker, (lang, raw, ticker)
            assert_clean(display)


async def test_a_tile_whose_source_fails_says_so_with_the_time_of_its_last_good_figure(
    tmp_path: Path, browser: Browser
) -> None:
    """The real path: the statistics office's source starts failing (HTTP 503 from the simulator);
    its tiles keep their last good figure and say that the source fails and when that figure came,
    in either language; once a run succeeds again and the failing alert has cleared (one interval
    later: hysteresis), the sign goes."""
    import httpx
    from playwright.async_api import expect

    from collectors.config import CollectorSettings, SourceSettings
    from rules.after_run import Collector
    from simulator import SimulatorConfig, start
    from storage.clock import use_clock
    from tests.feedkit import client

    clock = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    async with await start(SimulatorConfig(port=0, now=lambda: clock)) as sim:
        nso = SourceSettings(name="nso", kind="agency-json", url=f"{sim.url}/agencies/NSO/observations", every="1h")
        store = await Store.open(tmp_path / "ops.db")
        try:
            async with Collector(store, [nso], CollectorSettings()) as collector:
                async with feed_server(tmp_path / "ops.db", store=store, runs=collector) as server:
                    async with open_display(browser, server) as display, client(server, "admin", hello={}) as admin:
                        await connect(display)
                        await admin.until("welcome")

                        async def collect(key: str, outcome: str) -> None:
                            await admin.send({"type": "command", "id": key, "idempotency_key": f"wall-fail-{key}",
                                              "command": {"name": "collect", "source": "nso"}})  # fmt: skip
                            assert (await admin.until("result"))["status"] == "accepted"
                            done = await admin.until("result", timeout=60)
                            assert done["data"]["runs"][0]["outcome"] == outcome

                        await collect("good", "success")
                        cpi = display.tile("CPI_YOY")
                        await display.wait_attribute(cpi, "data-period", "2026-10")
                        good = await cpi.locator(".value").inner_text()
                        assert await cpi.get_attribute("data-source-state") == ""
                        assert await cpi.locator(".source").inner_text() == "NSO"

                        async with httpx.AsyncClient() as http:
                            fault = {"endpoint": "/agencies/NSO/*", "kind": "http_error", "status": 503, "count": 100}
                            assert (await http.put(f"{sim.url}/_admin/faults", json=fault)).status_code < 300
                            await collect("bad", "failed")
                            await display.wait_attribute(cpi, "data-source-state", "failing")
                            # The last good figure stays, and says when it came (the centre's time).
                            latest = next(
                                o for o in (await store.snapshots.current()).observations if o.indicator == "CPI_YOY"
                            )
                            came = latest.collected_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M")
                            note = cpi.locator(".source-note")
                            await expect(note).to_have_text(re.compile(rf"^⚠ NSO lỗi · số liệu lúc {came}( \d+/\d+)?$"))
                            assert await cpi.locator(".value").inner_text() == good
                            await display.page.locator("#lang-toggle").click()
                            await expect(note).to_have_text(
                                re.compile(rf"^⚠ NSO failing · figure of {came}( \w+ \d+)?$")
                            )
                            # Another source's tile says nothing of it.
                            assert await display.tile("IMPORTS").get_attribute("data-source-state") in ("", None)

                            assert (await http.delete(f"{sim.url}/_admin/faults")).status_code < 300
                        await collect("again", "success")
                        # source.failing keeps firing for one interval (1 h) after a good run, so a flapping
                        # source does not flap; the timer pass one interval on resolves it and the sign goes.
                        with use_clock(lambda: datetime.now(UTC) + timedelta(hours=1)):
                            await store.alerts.tick()
                        await display.wait_attribute(cpi, "data-source-state", "")
                        await expect(cpi.locator(".source-note")).to_have_text("")
                        assert await cpi.locator(".source").is_visible()
                        assert_clean(display)
        finally:
            await store.close()


async def test_periods_are_written_one_way_on_a_tile(tmp_path: Path, browser: Browser) -> None:
    """A quarter as "Quý III/2026" and "so với Quý II/2026" on one tile, never "QII/2026" beside
    it; a month likewise ("Tháng 10/2026", "so với Tháng 9/2026", never "T9/2026")."""
    from playwright.async_api import expect

    async with feed_server(tmp_path / "ops.db") as server:
        await ingest(server.store, "nso", [("GDP_GROWTH", "2026-Q2", 7.1), ("GDP_GROWTH", "2026-Q3", 7.4)])
        async with open_display(browser, server) as display:
            await connect(display)
            gdp = display.tile("GDP_GROWTH")
            await display.wait_tile_value("GDP_GROWTH", "7,40")
            await expect(gdp.locator(".change")).to_have_text("▲ 0,30 điểm % so với Quý II/2026")
            assert await gdp.locator(".period").inner_text() == "Quý III/2026"
            assert not re.search(r"\bQ[IV]+/", await gdp.inner_text())
            await ingest(server.store, "nso", [("CPI_YOY", "2026-09", 3.1), ("CPI_YOY", "2026-10", 3.2)])
            cpi = display.tile("CPI_YOY")
            await expect(cpi.locator(".change")).to_have_text("▲ 0,10 điểm % so với Tháng 9/2026")
            assert await cpi.locator(".period").inner_text() == "Tháng 10/2026"
            await display.page.locator("#lang-toggle").click()
            await expect(gdp.locator(".change")).to_have_text("▲ 0.30 pp vs Q2 2026")
            await expect(cpi.locator(".change")).to_have_text("▲ 0.10 pp vs Sep 2026")
            assert await gdp.locator(".period").inner_text() == "Q3 2026"
            assert_clean(display)


def reporting_rows() -> list[dict[str, Any]]:
    """A reporting answer as the panel reads it: per indicator, the latest period due, with
    expected, received (on time + late) and late counts."""
    rows: list[dict[str, Any]] = [
        {"indicator": "RETAIL_SALES", "period": "2026-10", "due": "2026-11-20", "expected": 34, "received": 28,
         "on_time": 26, "late": 2, "missing": [f"{i:02d}" for i in range(6)], "not_due": False},
        {"indicator": "IIP_YOY", "period": "2026-10", "due": "2026-11-20", "expected": 34, "received": 10,
         "on_time": 10, "late": 0, "missing": [], "not_due": False},
        {"indicator": "CPI_YOY", "period": "2026-10", "due": "2026-11-06", "expected": 1, "received": 1,
         "on_time": 1, "late": 0, "missing": [], "not_due": False},
        {"indicator": "GDP_GROWTH", "period": "2026-Q4", "due": "2027-01-06", "expected": 1, "received": 0,
         "on_time": 0, "late": 0, "missing": [], "not_due": True},  # not due yet: not shown
    ]  # fmt: skip
    for code in ("EXPORTS", "IMPORTS", "FDI_REGISTERED", "BUDGET_REVENUE", "CREDIT_GROWTH", "INTL_ARRIVALS"):
        rows.append({"indicator": code, "period": "2026-10", "due": "2026-11-20", "expected": 34, "received": 34,
                     "on_time": 34, "late": 0, "missing": [], "not_due": False})  # fmt: skip
    return rows


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1366, 768), (1920, 1080), (3840, 2160)])
async def test_the_completeness_panel_shows_the_least_complete_reports_first(
    tmp_path: Path, browser: Browser, width: int, height: int
) -> None:
    """Against a feed that answers the reporting query: one chip per indicator, least complete
    first ("28/34 tỉnh, thành phố · 2 trễ hạn"), in either language; at 1280×720 those that do not
    fit are left out whole and counted; a feed that does not know the query: no panel."""
    from playwright.async_api import expect

    from tests.test_display_layout import MEASURE

    feed: ScriptedFeed
    asked: list[dict[str, Any]] = []

    async def answering(ws: ServerConnection) -> None:
        await ws.send(welcome("e1", 10, False))
        await ws.send(snapshot("e1", 10, [change("CPI_YOY", "2026-10", 3.2)]))

        async def resync_when_told() -> None:
            await feed.proceed[0].wait()
            await ws.close(4009, "resync")

        closer = asyncio.create_task(resync_when_told())
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "query" and msg["query"]["name"] == "reporting":
                    asked.append(msg)
                    data = {"kind": "reporting", "rows": reporting_rows()}
                    await ws.send(json.dumps({"type": "result", "id": msg["id"], "data": data}))
        await closer

    async def refusing(ws: ServerConnection) -> None:
        await ws.send(welcome("e2", 3, False))
        await ws.send(snapshot("e2", 3, []))
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "query" and msg["query"]["name"] == "reporting":
                    error = {"type": "error", "code": "bad_message", "id": msg["id"], "message": "unknown query"}
                    await ws.send(json.dumps(error))

    feed = ScriptedFeed([answering, refusing])
    async with feed.running():
        context = await browser.new_context(viewport={"width": width, "height": height})
        try:
            page = await context.new_page()
            display = Display(page)
            await page.goto(f"http://127.0.0.1:{feed.port}/display")
            await connect(display)
            panel = page.locator("#completeness")
            await expect(panel).to_be_visible()
            chips = panel.locator(".chip[data-indicator]")
            await expect(chips.first).to_have_text(
                "Chỉ số sản xuất toàn ngành công nghiệp Tháng 10/2026: 10/34 tỉnh, thành phố"
            )
            await expect(chips.nth(1)).to_have_text(
                "Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng Tháng 10/2026: 28/34 tỉnh, thành phố · 2 trễ hạn"
            )
            assert await chips.nth(0).get_attribute("data-level") == "low"
            assert await chips.nth(1).get_attribute("data-level") == "partial"
            assert await panel.locator('[data-indicator="GDP_GROWTH"]').count() == 0  # not due yet
            # Nine chips do not fit a small screen: the last ones are left out whole, and counted.
            hidden = await panel.locator(".chip[data-indicator][hidden]").count()
            if width <= 1366:
                assert hidden > 0
            if hidden:
                await expect(panel.locator(".chip.more")).to_have_text(f"+{hidden} chỉ tiêu")
            else:
                assert await panel.locator(".chip.more").is_hidden()
            await page.screenshot(path=str(tmp_path / f"completeness-{width}x{height}.png"))  # for a person
            assert await display.js(MEASURE) == []

            await page.locator("#lang-toggle").click()
            await expect(chips.nth(1)).to_have_text(
                "Retail sales of goods and consumer services Oct 2026: 28/34 provinces · 2 late"
            )
            assert await display.js(MEASURE) == []

            feed.proceed[0].set()  # the next server does not know the query: the panel goes
            await display.wait_until("() => window.__opscentre.lastWelcome?.epoch === 'e2'")
            await expect(panel).to_be_hidden()
            assert asked and display.errors == [], display.errors
        finally:
            await context.close()


async def test_the_demo_scenarios_revision_and_outage_reach_the_wall(tmp_path: Path, browser: Browser) -> None:
    """The demo's scenario on the simulator, its clock moved by the test to each step: the official
    figure revised at +40 s reads before → after on the wall; the ministry down at +90 s marks its
    tile and the ticker, in Vietnamese and English; back at +180 s, the sign goes."""
    import httpx
    from playwright.async_api import expect

    from collectors.config import CollectorSettings, SourceSettings
    from rules.after_run import Collector
    from storage.clock import use_clock
    from tests.feedkit import client
    from tests.simulator_fixtures import Clock, running

    clock = Clock()
    async with running(clock, scenario="demo") as (sim, _):
        sources = [
            SourceSettings(
                name=name, kind="agency-json", url=f"{sim.url}/agencies/{name.upper()}/observations", every="1h"
            )
            for name in ("nso", "mof")
        ]
        store = await Store.open(tmp_path / "ops.db")
        try:
            settings = CollectorSettings(retries=0)
            async with Collector(store, sources, settings) as collector:
                async with feed_server(tmp_path / "ops.db", store=store, runs=collector) as server:
                    async with open_display(browser, server) as display, client(server, "admin", hello={}) as admin:
                        await connect(display)
                        await admin.until("welcome")
                        runs = 0

                        async def collect(source: str, outcome: str) -> None:
                            nonlocal runs
                            runs += 1
                            await admin.send({"type": "command", "id": f"c{runs}", "idempotency_key": f"demo-wall-{runs}",
                                              "command": {"name": "collect", "source": source}})  # fmt: skip
                            assert (await admin.until("result"))["status"] == "accepted"
                            done = await admin.until("result", timeout=60)
                            assert done["data"]["runs"][0]["outcome"] == outcome

                        await collect("nso", "success")
                        await collect("mof", "success")
                        budget = display.tile("BUDGET_REVENUE")
                        await display.wait_attribute(budget, "data-source", "mof")
                        clock.advance(seconds=41)  # an official CPI figure is revised
                        await collect("nso", "success")
                        revised = display.page.locator(
                            "#ticker .alert .msg", has_text="Số liệu chính thức bị điều chỉnh"
                        )
                        await expect(revised).to_have_text(
                            re.compile(r"^Số liệu chính thức bị điều chỉnh: Chỉ số giá tiêu dùng so với cùng kỳ năm trước, "
                                       r"Toàn quốc, tháng \d+/\d{4}: -?\d+,\d+% → -?\d+,\d+% \(lần thu thập #\d+\)$")
                        )  # fmt: skip
                        # Before and after as the store has them, in Vietnamese figures.
                        alert = next(a for a in await store.alerts.listed() if a.rule == "figures.revised")
                        assert alert.params.previous_value is not None and alert.params.value is not None
                        text = await revised.inner_text()
                        for figure in (alert.params.previous_value, alert.params.value):
                            assert f"{figure:.2f}".replace(".", ",") in text, (figure, text)

                        clock.advance(seconds=50)  # +91 s: the ministry of finance's system is down
                        await collect("mof", "failed")
                        await display.wait_attribute(budget, "data-source-state", "failing")
                        await expect(budget.locator(".source-note")).to_have_text(
                            re.compile(r"^⚠ MOF lỗi · số liệu lúc ")
                        )
                        down = display.page.locator("#ticker .alert", has_text="Nguồn mof")
                        await expect(down.locator(".msg")).to_have_text(
                            "Nguồn mof bị lỗi (máy chủ nguồn trả lời mã HTTP 503)"
                        )

                        await display.page.locator("#lang-toggle").click()
                        await expect(budget.locator(".source-note")).to_have_text(
                            re.compile(r"^⚠ MOF failing · figure of ")
                        )
                        await expect(display.page.locator("#ticker .alert .msg", has_text="Source mof")).to_have_text(
                            "Source mof failed (the source answered HTTP 503)"
                        )
                        await expect(
                            display.page.locator("#ticker .alert .msg", has_text="Official figure revised")
                        ).to_have_text(
                            re.compile(
                                r"^Official figure revised: Consumer price index year on year, Nationwide, \w+ \d{4}: "
                            )
                        )

                        clock.advance(seconds=90)  # +181 s: it is back
                        await collect("mof", "success")
                        # source.failing keeps firing for one interval (1 h) after a good run (hysteresis);
                        # the timer pass one interval on resolves it and the sign goes.
                        with use_clock(lambda: datetime.now(UTC) + timedelta(hours=1)):
                            await store.alerts.tick()
                        await display.wait_attribute(budget, "data-source-state", "")
                        await expect(display.page.locator("#ticker .alert .msg", has_text="Source mof")).to_have_count(
                            0
                        )
                        async with httpx.AsyncClient() as http:
                            played = (await http.get(f"{sim.url}/_admin/scenario")).json()
                        assert played["scenario"] == "demo"
                        assert_clean(display)
        finally:
            await store.close()
