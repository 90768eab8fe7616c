"""Every screen of the console pinned as an SVG (pytest-textual-snapshot), at 80×24 and 160×48, in
Vietnamese and English, on the same data every run: the console on a real feed server over a real
store, seeded by ``tests/consolekit.py`` under a frozen wall clock.

A change to a screen fails here with a report (``snapshot_report.html``) showing the old and new
screens side by side; when the change is meant, accept it with
``.venv/bin/python -m pytest tests/test_console_snapshots.py --snapshot-update`` and commit the
SVGs under ``tests/__snapshots__/``.

Before each screenshot the console is given time to settle: connected, the snapshot, catalogue
and sources applied, and then the screen unchanged over several batches (the answers to the
queries a view makes, such as the drill-down's history and provenance, arrive after it opens).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from console.app import OpscentreApp
from console.views.drilldown import DrilldownView
from tests.consolekit import BEFORE_REVISION, ServerThread, frozen_clock, token

pytestmark = pytest.mark.snapshot

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
LANGS = ("vi", "en")
CPI = ("CPI_YOY", "VN", "nso")  # the series revised on the demo day


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """One seeded server for the module; the wall clock stays frozen while its tests run."""
    with frozen_clock() as clock, ServerThread(tmp_path_factory.mktemp("console") / "ops.db", clock=clock) as srv:
        yield srv


def ready(app: OpscentreApp) -> bool:
    state = app.state
    return (
        state.connection.connected
        and bool(state.series)
        and bool(state.catalogue.indicators)
        and bool(state.sources)
        and not app._inbox  # nothing queued for the next batch
    )


async def settle(pilot: Pilot[Any], timeout: float = 20.0) -> None:
    """Wait until the screen stays the same over three batches in a row (or ``timeout``)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    last, same = "", 0
    while time.monotonic() < deadline and same < 3:
        await pilot.pause(0.25)
        screen = app.export_screenshot()
        same = same + 1 if screen == last else 0
        last = screen


async def connected(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OpscentreApp)
    deadline = time.monotonic() + 30
    while not ready(app):
        assert time.monotonic() < deadline, "the console did not fill from the feed within 30 s"
        await asyncio.sleep(0.05)


Step = Callable[[Pilot[Any]], Awaitable[None]]


def keys(*pressed: str) -> Step:
    async def go(pilot: Pilot[Any]) -> None:
        await pilot.press(*pressed)

    return go


async def drilldown(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OpscentreApp)
    app.drilldown(CPI)
    # Its answers first (the series, then the figure's provenance): on a loaded machine they can
    # come after the screen has looked still for a while, and so after the screenshot.
    view = app.query_one(DrilldownView)
    deadline = time.monotonic() + 30
    while view.loads < 1 or view.loading or view.provenance is None:
        assert time.monotonic() < deadline, "the drill-down did not load within 30 s"
        await asyncio.sleep(0.05)
    await settle(pilot)
    # At 80×24 the view is taller than the screen, and where it is scrolled when its answers have
    # arrived depends on their timing (focusing the revisions table scrolls it into view): the
    # screenshot is taken from the top, as an operator would read it.
    app.query_one("#drilldown-body").scroll_home(animate=False)


async def time_travel(pilot: Pilot[Any]) -> None:
    """Back to before October's CPI was revised: the overview shows the earlier figure under the banner."""
    app = pilot.app
    assert isinstance(app, OpscentreApp)
    app.travel(BEFORE_REVISION)
    deadline = time.monotonic() + 30
    while app.state.as_of is None or not app.state.series:
        assert time.monotonic() < deadline, "no as-of snapshot within 30 s"
        await asyncio.sleep(0.05)


async def resized(pilot: Pilot[Any]) -> None:
    """The overview at the other size, then back: drawn as at the start, nothing left over."""
    await pilot.press("1")
    await settle(pilot)
    width, height = pilot.app.size
    await pilot.resize_terminal(*(SIZES["80x24"] if width > 80 else SIZES["160x48"]))
    await settle(pilot)
    await pilot.resize_terminal(width, height)


SCREENS: dict[str, Step] = {
    "overview": keys("1"),
    "overview_resized": resized,
    "indicators": keys("2"),
    "provinces": keys("3"),
    "alerts": keys("4"),
    "silences": keys("4", "n"),
    "collectors": keys("5"),
    "drilldown": drilldown,
    "time_travel": time_travel,
    "help": keys("question_mark"),
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare: Any, server: ServerThread, screen: str, size: str, lang: str) -> None:
    app = OpscentreApp(server.url, token("admin"), lang=lang)

    async def run_before(pilot: Pilot[Any]) -> None:
        await connected(pilot)
        await SCREENS[screen](pilot)
        await settle(pilot)
        if screen == "drilldown":  # settled, then read from the top: a late focus may have scrolled it again
            app.query_one("#drilldown-body").scroll_home(animate=False)
            await settle(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


def test_snapshots_show_the_data(server: ServerThread) -> None:
    """The baselines are worth keeping only if they show figures, not a "connecting…" screen."""
    folder = Path(__file__).parent / "__snapshots__" / Path(__file__).stem
    if not folder.is_dir():
        pytest.skip("no baselines yet: run with --snapshot-update")
    overview = (folder / "test_screen[overview-160x48-en].svg").read_text(encoding="utf-8")
    assert "Consumer" in overview or "CPI" in overview
    travel = (folder / "test_screen[time_travel-160x48-en].svg").read_text(encoding="utf-8")
    assert "3.22" in travel
    drill = (folder / "test_screen[drilldown-160x48-en].svg").read_text(encoding="utf-8")
    assert "3.27" in drill and "3.22" in drill
