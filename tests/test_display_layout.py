"""The wall display's layout, measured from element boxes in a real headless Chromium at the four
screen sizes the centre has (1280×720, 1366×768, 1920×1080, 3840×2160): the page never scrolls,
every panel is on the screen, no two panels overlap, nothing inside a tile or counter spills out of
it, and no name is cut. Worst-case content: every tile and counter filled with long figures,
badges, staleness notes, and a ticker full of alerts, in both languages.

A screenshot of each size and language is kept in the test's tmp dir (pytest's basetemp) for a
person to look at; the assertions never depend on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from storage import AlertParams, Severity, Store
from tests.browser import chromium, open_display, require_browser
from tests.feedkit import feed_server
from tests.test_display_browser import connect, ingest, instant, last_quarter, month

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from tests.browser import Display

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SIZES = [(1280, 720), (1366, 768), (1920, 1080), (3840, 2160)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_browser()
    async with chromium() as b:
        yield b


# Long but real figures: the widest each tile will show (big numbers, negative changes).
FIGURES: dict[str, tuple[str, list[float]]] = {
    "CPI_YOY": ("nso", [3.12, 3.22]),
    "IIP_YOY": ("nso", [8.9, -10.4]),
    "RETAIL_SALES": ("nso", [1180.0, 12345.6]),
    "EXPORTS": ("gdc", [38.5, 140.12]),
    "IMPORTS": ("gdc", [139.01, 38.7]),
    "FDI_REGISTERED": ("mpi", [3.12, 13.88]),
    "BUDGET_REVENUE": ("mof", [1980.4, 2001.9]),
    "CREDIT_GROWTH": ("sbv", [11.51, -12.35]),
    "INTL_ARRIVALS": ("nso", [1520.3, 11752.4]),
}


async def fill(store: Store, now: datetime) -> None:
    """Every tile and counter with a figure; some provisional and revised (badges), one late."""
    today = now.date()
    for code, (source, values) in FIGURES.items():
        await ingest(store, source, [(code, month(today, 2 - i), v) for i, v in enumerate(values)])
    # Provisional, then revised: the longest badge ("SƠ BỘ · ĐÃ ĐIỀU CHỈNH").
    await ingest(store, "nso", [("RETAIL_SALES", month(today, 1), 12399.9)], status="provisional")
    await ingest(store, "gdc", [("EXPORTS", month(today, 1), 141.0)], status="estimated")
    quarter = last_quarter(today)
    await ingest(store, "nso", [("GDP_GROWTH", quarter, 7.4)])
    await ingest(store, "nso", [("GDP_GROWTH", quarter, 7.55)], status="provisional")
    await ingest(store, "nso", [("UNEMPLOYMENT_RATE", "2024-Q2", 2.27)])  # late: a red note
    await ingest(store, "sbv", [("USD_CENTRAL_RATE", (today - timedelta(days=5)).isoformat(), 25123)])
    counters = {
        "PORTAL_VISITS": 1_234_567_890,
        "PORTAL_ACCOUNTS": 23_456_789,
        "PORTAL_DOSSIERS_SYNCED": 987_654_321,
        "PORTAL_DOSSIERS_ONLINE": 123_456_789,
        "PORTAL_PAYMENTS": 98_765_432,
        "PORTAL_PAYMENT_AMOUNT": 123_456.7,
        "PORTAL_SERVICES": 4_567,
        "PORTAL_FEEDBACK": 345_678,
        "PORTAL_CALLS": 2_345_678,
        "EDOCS_EXCHANGED": 98_765_432,
    }
    earlier = now - timedelta(seconds=30)
    await ingest(store, "portal", [(c, instant(earlier), v * 0.99) for c, v in counters.items()])
    await ingest(store, "portal", [(c, instant(now), v) for c, v in counters.items()])
    # A failing source and a source that is down: their tiles and counters carry the note.
    await store.alerts.fire("source.failing", "nso", Severity.WARNING, "Nguồn nso lỗi 2 lần liên tiếp",
                           params=AlertParams(source="nso", failures=2))  # fmt: skip
    await store.alerts.fire("source.down", "portal", Severity.CRITICAL, "Nguồn portal ngừng hoạt động",
                           params=AlertParams(source="portal"))  # fmt: skip
    for i in range(8):
        await store.alerts.fire(
            "source.failing",
            f"province-{i:02d}",
            Severity.CRITICAL if i % 2 else Severity.WARNING,
            f"Nguồn province-{i:02d} bị ngắt mạch sau 5 lần lỗi liên tiếp (máy chủ nguồn trả lời mã HTTP 503)",
            params=AlertParams(source=f"province-{i:02d}", failures=5, http_status=503),
        )


# Measures the page and returns every problem found, as text a person can act on.
MEASURE = r"""
() => {
  const problems = [];
  const W = window.innerWidth, H = window.innerHeight, TOL = 1;
  const box = (el) => el.getBoundingClientRect();
  const name = (el) => {
    const d = el.dataset || {};
    const id = el.id ? `#${el.id}` : '';
    const cls = typeof el.className === 'string' && el.className ? `.${el.className.split(' ')[0]}` : '';
    const tag = d.indicator || d.counter ? `[${d.indicator || d.counter}]` : '';
    return `${el.tagName.toLowerCase()}${id}${cls}${tag}`;
  };
  const visible = (el) => { const r = box(el); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const inside = (a, b) => a.left >= b.left - TOL && a.top >= b.top - TOL && a.right <= b.right + TOL && a.bottom <= b.bottom + TOL;
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > TOL && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > TOL;
  const fmt = (r) => `[${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}×${Math.round(r.height)}]`;
  const screen = { left: 0, top: 0, right: W, bottom: H };

  const doc = document.documentElement;
  if (doc.scrollWidth > W + TOL || doc.scrollHeight > H + TOL) problems.push(`the page scrolls: ${doc.scrollWidth}×${doc.scrollHeight} in ${W}×${H}`);

  // Every panel on the screen.
  const panels = ['.topbar', '.brand', '#conn', '.clock-box', '.controls', '.board', '.tile', '.counters-panel',
                  '.counter', '.completeness-panel', '.ticker-bar', '.ticker-label', '#ticker'];
  for (const sel of panels) {
    for (const el of document.querySelectorAll(sel)) {
      if (!visible(el)) { if (sel !== '.completeness-panel') problems.push(`${name(el)} is not shown`); continue; }
      if (!inside(box(el), screen)) problems.push(`${name(el)} ${fmt(box(el))} is off the ${W}×${H} screen`);
    }
  }
  // No two of a kind overlap, nor the big regions.
  const groups = [
    ['.topbar', '.board', '.ticker-bar'],
    ['.tile', '.counters-panel', '.completeness-panel'],
    ['.counter'],
    ['.brand', '.status', '.clock-box', '.controls'],
  ];
  for (const group of groups) {
    const els = group.flatMap((s) => [...document.querySelectorAll(s)]).filter(visible);
    for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++) {
      if (overlap(box(els[i]), box(els[j]))) problems.push(`${name(els[i])} ${fmt(box(els[i]))} overlaps ${name(els[j])} ${fmt(box(els[j]))}`);
    }
  }
  // Nothing spills out of its tile or counter; the parts of a tile do not overlap each other.
  for (const container of document.querySelectorAll('.tile, .counter, .counters-panel, .completeness-panel')) {
    if (!visible(container)) continue;
    const outer = box(container);
    for (const el of container.querySelectorAll('*')) {
      if (!visible(el) || el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
      if (!inside(box(el), outer)) problems.push(`${name(el)} ${fmt(box(el))} spills out of ${name(container)} ${fmt(outer)}`);
    }
    if (container.classList.contains('tile')) {
      const parts = [...container.children].filter(visible);
      for (let i = 0; i < parts.length; i++) for (let j = i + 1; j < parts.length; j++) {
        if (overlap(box(parts[i]), box(parts[j]))) problems.push(`in ${name(container)}: ${name(parts[i])} overlaps ${name(parts[j])}`);
      }
    }
  }
  // No text cut: an element that clips (ellipsis, line clamp) must hold all of its text.
  for (const el of document.querySelectorAll('.topbar *, .tile *, .counter *, .counters-panel h2, .completeness-panel *, .ticker-label')) {
    if (!visible(el) || el.closest('svg')) continue;
    const style = getComputedStyle(el);
    if (style.overflow === 'visible' && style.overflowX === 'visible' && style.overflowY === 'visible') continue;
    if (el.scrollWidth > el.clientWidth + TOL || el.scrollHeight > el.clientHeight + TOL) {
      problems.push(`${name(el)} cuts its text "${el.textContent.slice(0, 60)}" (${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight})`);
    }
  }
  // A tile's name in full on at most two lines (wrapped, never cut with "…").
  for (const el of document.querySelectorAll('.tile .name')) {
    const lines = Math.round(box(el).height / parseFloat(getComputedStyle(el).lineHeight));
    if (lines > 2) problems.push(`${name(el.closest('.tile'))}'s name takes ${lines} lines: "${el.textContent}"`);
    if (el.textContent.includes('…')) problems.push(`${name(el.closest('.tile'))}'s name is cut: "${el.textContent}"`);
  }
  return problems;
}
"""


async def measure(display: Display, shot: Path) -> list[str]:
    # Layout settles after fonts and the history answers (sparklines, changes) came in.
    await display.wait_until("() => document.fonts.status === 'loaded'")
    await display.page.screenshot(path=str(shot), full_page=False)
    problems: list[Any] = await display.js(MEASURE)
    return problems


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_the_wall_fits_the_screen_with_nothing_cut_or_overlapping(
    tmp_path: Path, browser: Browser, width: int, height: int
) -> None:
    now = datetime.now(UTC)
    async with feed_server(tmp_path / "ops.db") as server:
        await fill(server.store, now)
        async with open_display(browser, server, width=width, height=height) as display:
            await connect(display)
            await display.wait_tile_value("RETAIL_SALES", "12.399,9")
            await display.wait_counter_value("PORTAL_VISITS", "1.234.567.890")
            await display.wait_attribute(display.tile("INTL_ARRIVALS").locator(".spark"), "data-points", "2")
            # All 10 alerts taken in; the 9 source.failing ones shown as a few and one summary item.
            await display.wait_until(
                "() => document.querySelector('#ticker').dataset.count === '10'"
                " && document.querySelector('#ticker [data-summary=\"source.failing\"]') !== null"
            )
            await display.wait_attribute(display.tile("CPI_YOY"), "data-source-state", "failing")
            problems = {"vi": await measure(display, tmp_path / f"display-{width}x{height}-vi.png")}

            await display.page.locator("#lang-toggle").click()
            await display.wait_tile_value("RETAIL_SALES", "12,399.9")
            problems["en"] = await measure(display, tmp_path / f"display-{width}x{height}-en.png")
            report = "\n".join(f"{lang}: {p}" for lang, found in problems.items() for p in found)
            assert not report, f"{report}\n(screenshots in {tmp_path})"
