"""Test helpers for the wall display (/display) in a real headless Chromium, driven by playwright.

Chromium is the system's (Debian's ``chromium`` package), never a browser build that playwright
downloads: the centre's machines and CI have no internet. Without playwright or Chromium, the
tests that need them are skipped with the reason.

    async with chromium() as browser, open_display(browser, server) as display:
        await display.enter_token(TOKENS["display"])
        await display.wait_tile_value("CPI_YOY", "3,22")
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Locator, Page, WebSocket

    from feed.server import FeedServer

TIMEOUT_MS = 15_000  # every wait is for a condition, with room for a slow CI machine
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",  # runs as root in containers and CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    """The system Chromium: $OPSCENTRE_CHROMIUM, else the first one installed."""
    given = os.environ.get("OPSCENTRE_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def require_browser() -> str:
    """Skip the calling test unless playwright and a Chromium are installed; the Chromium's path."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set OPSCENTRE_CHROMIUM)")
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless system Chromium."""
    path = require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


def display_url(server: FeedServer) -> str:
    return f"http://127.0.0.1:{server.port}/display"


class Display:
    """One browser page showing the wall display, and everything it did: every URL it asked for,
    every frame it sent on the feed, every script error."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.urls: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.errors: list[str] = []  # uncaught exceptions, and what the page itself logged as an error
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", self._on_websocket)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._on_console)

    def _on_console(self, msg: ConsoleMessage) -> None:
        # Chromium itself logs a failed WebSocket connection (the server is down): expected, not ours.
        if msg.type == "error" and "opscentre" in msg.text:
            self.errors.append(f"console: {msg.text}")

    def _on_websocket(self, ws: WebSocket) -> None:
        self.urls.append(ws.url)
        ws.on("framesent", self._on_frame_sent)

    def _on_frame_sent(self, payload: str | bytes) -> None:
        try:
            self.sent.append(json.loads(payload))
        except ValueError:
            self.sent.append({"raw": payload})

    def hellos(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("type") == "hello"]

    # --- finding things -----------------------------------------------------------------------------

    def tile(self, indicator: str) -> Locator:
        return self.page.locator(f'.tile[data-indicator="{indicator}"]')  # not the completeness chip

    def counter(self, code: str) -> Locator:
        return self.page.locator(f'[data-counter="{code}"]')

    async def js(self, expression: str) -> Any:
        return await self.page.evaluate(expression)

    # --- waiting for things -------------------------------------------------------------------------

    async def wait_tile_value(self, indicator: str, text: str, timeout: float = TIMEOUT_MS) -> None:
        """Wait until the tile of ``indicator`` shows ``text`` as its value (as written on the wall,
        e.g. "3,22" in Vietnamese)."""
        await wait_tile_value(self.page, indicator, text, timeout)

    async def wait_counter_value(self, code: str, text: str, timeout: float = TIMEOUT_MS) -> None:
        """Wait until the live counter ``code`` has counted up to ``text``."""
        from playwright.async_api import expect

        await expect(self.counter(code).locator(".value")).to_have_text(text, timeout=timeout)

    async def wait_state(self, state: str, timeout: float = TIMEOUT_MS) -> None:
        """Wait for the connection state: connecting, live, reconnecting or auth."""
        from playwright.async_api import expect

        await expect(self.page.locator("#conn")).to_have_attribute("data-state", state, timeout=timeout)

    async def wait_attribute(self, locator: Locator, name: str, value: str, timeout: float = TIMEOUT_MS) -> None:
        from playwright.async_api import expect

        await expect(locator).to_have_attribute(name, value, timeout=timeout)

    async def wait_until(self, expression: str, arg: Any = None, timeout: float = TIMEOUT_MS) -> None:
        """Wait until the JavaScript ``expression`` (a function of ``arg``) is truthy in the page."""
        await self.page.wait_for_function(expression, arg=arg, timeout=timeout)

    # --- doing things -------------------------------------------------------------------------------

    async def enter_token(self, token: str) -> None:
        """Type the token into the form the page shows, and send it."""
        from playwright.async_api import expect

        form = self.page.locator("#token-form")
        await expect(form).to_be_visible(timeout=TIMEOUT_MS)
        await self.page.locator("#token-input").fill(token)
        await form.locator('button[type="submit"]').click()

    async def stored_token(self) -> str | None:
        return await self.page.evaluate("() => window.localStorage.getItem('opscentre.token')")

    def urls_containing(self, text: str) -> list[str]:
        return [u for u in [self.page.url, *self.urls] if text in u]


async def wait_tile_value(page: Page, indicator: str, text: str, timeout: float = TIMEOUT_MS) -> None:
    """Wait until the display in ``page`` shows ``text`` as the value of ``indicator``'s tile."""
    from playwright.async_api import expect

    await expect(page.locator(f'.tile[data-indicator="{indicator}"] .value')).to_have_text(text, timeout=timeout)


@asynccontextmanager
async def open_display(
    browser: Browser, server: FeedServer, *, width: int = 1920, height: int = 1080
) -> AsyncIterator[Display]:
    """A new browser context (empty storage: no token yet) showing the server's /display page,
    sized like the centre's wall screens."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh"
    )
    try:
        page = await context.new_page()
        display = Display(page)
        await page.goto(display_url(server))
        yield display
    finally:
        await context.close()
