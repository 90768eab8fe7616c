"""The console at 80×24 and 160×48 (issue 16, item 5), as a user reads it: the overview and the
indicators use the width they have (names, units and area names whole where they fit, cut with
"…" where they do not), sparklines and changes come from the series' history on the first
screen (and for a series that appears later), the collectors view names the province of a
province's own system, and a resize leaves the screen as a console started at that size draws it.

Against a real feed server over a real store (``tests/consolekit.py``), and for the collectors a
real collector on the real simulator. Screens are read as the terminal shows them: the lines the
compositor draws."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from collectors.config import CollectorSettings, SourceSettings
from console.app import OpscentreApp
from console.numbers import fmt_change
from console.widgets import fit_text, graphemes
from rules.after_run import Collector
from simulator import SimulatorConfig, start
from storage import Batch, ObservationIn, Store
from tests.consolekit import CPI_REVISED, CPI_YOY, MONTHS, NOW, QUICK_PACE, frozen_clock, seeded_server, token
from tests.feedkit import TOKENS, feed_server

RETAIL = "Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng"  # 55 cells, the longest seeded key name
FDI = "Vốn đầu tư trực tiếp nước ngoài đăng ký"  # cut at 28 it read "Vốn đầu tư trực tiếp nước ng"
FDI_VALUES = [2.1, 1.8, 3.4, 2.6, 2.9, 3.1, 2.2, 4.0, 3.3, 2.7, 3.8, 4.12]


def screen(app: OpscentreApp) -> list[str]:
    """The screen's lines as the terminal shows them."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


def line_with(app: OpscentreApp, text: str) -> str:
    found = [line for line in screen(app) if text in line]
    assert found, f"{text!r} is not on the screen:\n" + "\n".join(screen(app))
    return found[0]


async def until(pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await pilot.pause(0.05)


async def settled(pilot: Pilot[Any], app: OpscentreApp) -> None:
    """Everything sent and asked has been applied and drawn (snapshot, catalogue, histories)."""
    await until(pilot, lambda: app.state.snapshots >= 1 and app.state.catalogue.indicators, "the snapshot")
    busy = {"backfill", "reference", "travel"}
    await until(
        pilot, lambda: not app._inbox and not any(w.group in busy and w.is_running for w in app.workers), "quiet"
    )
    await pilot.pause(0.6)  # two batches


@asynccontextmanager
async def console(url: str, size: tuple[int, int]) -> AsyncIterator[tuple[OpscentreApp, Pilot[Any]]]:
    app = OpscentreApp(url, token("operator"), backoff=(0.1, 0.5), pace=QUICK_PACE)
    app.animation_level = "none"  # a key press waits for the tabs' underline to stop sliding
    async with app.run_test(size=size) as pilot:
        yield app, pilot


# --- text cut to a width ---------------------------------------------------------------------------


def test_a_name_is_cut_only_where_it_does_not_fit_and_never_inside_a_character() -> None:
    assert fit_text(FDI, 39) == FDI  # whole where it fits
    assert fit_text(FDI, 28) == "Vốn đầu tư trực tiếp nước n…"
    # Decomposed (a keyboard may send "ệ" as e + two marks): cut between characters, never between
    # a letter and its marks, and as wide as the room.
    decomposed = unicodedata.normalize("NFD", FDI)
    for width in range(2, 40):
        cut = fit_text(decomposed, width)
        kept = cut.removesuffix("…")
        assert decomposed.startswith(kept) and list(graphemes(decomposed))[: len(list(graphemes(kept)))] == list(
            graphemes(kept)
        )
        assert unicodedata.normalize("NFC", kept) == fit_text(FDI, width).removesuffix("…")
    assert list(graphemes(unicodedata.normalize("NFD", "ệ"))) == [unicodedata.normalize("NFD", "ệ")]


# --- the overview ----------------------------------------------------------------------------------


async def test_the_overview_at_160_columns_shows_whole_names_and_units_and_at_80_cuts_them_with_an_ellipsis(
    tmp_path: Path,
) -> None:
    with frozen_clock() as clock:
        async with seeded_server(tmp_path / "ops.db", clock=clock, collector=False) as (server, _):
            async with console(server.url, (160, 48)) as (app, pilot):
                await settled(pilot, app)
                row = line_with(app, RETAIL)  # whole, with its unit
                assert "612,5" in row and "nghìn tỷ đồng" in row and "▲ +14,7" in row
                cpi = line_with(app, "Chỉ số giá tiêu dùng so với cùng kỳ năm trước")
                assert "3,27" in cpi and "%" in cpi
                assert line_with(app, "Lượt truy cập Cổng Dịch vụ công quốc gia")  # a counter, whole
                # The key indicators and the counters one above the other, each as wide as the screen.
                key, counters = app.query_one("#overview-key"), app.query_one("#overview-counters")
                assert key.region.width == counters.region.width == 160 and counters.region.y > key.region.bottom - 1

            async with console(server.url, (80, 24)) as (app, pilot):
                await settled(pilot, app)
                row = line_with(app, "Tổng mức bán lẻ hàng")
                assert "…" in row and "612,5" in row and "▲ +14,7" in row
                cut = row.split("…")[0].strip()
                assert RETAIL.startswith(cut) and len(cut) > 20
                for table in app.query("#overview DataTable").results(DataTable):
                    assert table.max_scroll_x == 0, f"{table.id} is wider than the screen"


async def test_a_series_that_appears_after_start_gets_its_sparkline_and_change_from_its_history(
    tmp_path: Path,
) -> None:
    """Right after start (the demo's first pull still running), a key series comes by a delta that
    carries only its newest figure: its sparkline had one point and its change read "—" until a
    later figure. Its history is asked as soon as it is on screen."""
    with frozen_clock() as clock:
        async with seeded_server(tmp_path / "ops.db", clock=clock, collector=False) as (server, _):
            async with console(server.url, (160, 48)) as (app, pilot):
                await settled(pilot, app)
                assert not [line for line in screen(app) if FDI in line]
                records = [
                    ObservationIn(indicator="FDI_REGISTERED", area="VN", period=p, value=v)
                    for p, v in zip(MONTHS, FDI_VALUES, strict=True)
                ]
                await server.store.observations.ingest(Batch("nso", records))
                await until(pilot, lambda: any(FDI in line for line in screen(app)), "the new series is on screen")
                await settled(pilot, app)
                row = line_with(app, FDI)
                assert fmt_change(FDI_VALUES[-1] - FDI_VALUES[-2], 2, "vi") in row  # ▲ +0,32, not "—"
                bars = [c for c in row if c in "▁▂▃▄▅▆▇█"]
                assert len(bars) == len(FDI_VALUES), row
                # and the series already there on the first screen have theirs
                assert fmt_change(CPI_REVISED - CPI_YOY[-2], 2, "vi") in line_with(
                    app, "Chỉ số giá tiêu dùng so với cùng"
                )


# --- the indicators ---------------------------------------------------------------------------------


async def test_the_indicators_show_area_names_and_whole_units_where_they_fit(tmp_path: Path) -> None:
    with frozen_clock() as clock:
        async with seeded_server(tmp_path / "ops.db", clock=clock, collector=False) as (server, _):
            async with console(server.url, (160, 48)) as (app, pilot):
                await pilot.press("2")
                await settled(pilot, app)
                lines = screen(app)
                assert any("Thành phố Hà Nội" in line and "2026-10" in line for line in lines)
                # a code names the unit of the figure's period: 82 was Tiền Giang in May 2025
                table = app.query_one("#indicators-table", DataTable)
                assert table.max_scroll_x == 0  # nothing off the right edge
                await pilot.press("slash")
                app.query_one("#indicators-filter", Input).value = "hà giang"
                await until(pilot, lambda: table.row_count == 1, "filtered to Hà Giang")
                assert "Tỉnh Hà Giang" in line_with(app, "2025-05")  # a former unit, by its name
                app.query_one("#indicators-filter", Input).value = "thu ngân sách"
                await until(pilot, lambda: any("Tổng thu ngân sách" in line for line in screen(app)), "filtered again")
                assert "nghìn tỷ đồng" in line_with(app, "Toàn quốc")  # the unit whole (it read "nghìn tỷ đ")

            async with console(server.url, (80, 24)) as (app, pilot):
                await pilot.press("2")
                await settled(pilot, app)
                # no room for names: the codes, and the indicator's name takes what is left
                lines = [line for line in screen(app) if re.search(r"20\d\d-\d\d", line)]  # the table's rows
                assert lines and not any("Thành phố" in line or "Tỉnh " in line for line in lines)
                assert any(re.search(r"…  \d\d    20\d\d-\d\d ", line) for line in lines), "\n".join(lines)


# --- the collectors -------------------------------------------------------------------------------------


async def test_the_collectors_view_names_the_province_of_a_provincial_system(tmp_path: Path) -> None:
    """A province's own system is configured with no agency (that is how the late-report rule knows
    it): the view named nobody. It names the province its figures are of."""
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as sim:
        sources = [
            SourceSettings(name="nso", kind="agency-json", url=f"{sim.url}/agencies/NSO/observations", agency="NSO", every="1h"),
            SourceSettings(name="province-01", kind="agency-json", url=f"{sim.url}/provinces/01/observations", every="1h"),
        ]  # fmt: skip
        store = await Store.open(tmp_path / "ops.db")
        try:
            async with (
                Collector(store, sources, CollectorSettings(retries=0)) as collector,
                feed_server(tmp_path / "ops.db", store=store, runs=collector) as server,
            ):
                assert (await collector.run("province-01")).outcome.value == "success"
                app = OpscentreApp(server.url, TOKENS["operator"], lang="vi", backoff=(0.2, 1.0))
                async with app.run_test(size=(160, 48)) as pilot:
                    await until(pilot, lambda: len(app.state.sources) == 2 and app.state.series, "sources and figures")
                    await pilot.press("5")
                    await until(pilot, lambda: any("province-01" in line for line in screen(app)), "listed")
                    assert "Thành phố Hà Nội" in line_with(app, "province-01")
                    assert "Cục Thống kê" in line_with(app, "nso ")  # an agency by its name, as the alerts name it
                    table = app.query_one("#collectors-table", DataTable)
                    table.move_cursor(row=table.get_row_index("province-01"))
                    await pilot.pause(0.3)
                    assert "province-01 · agency-json · Thành phố Hà Nội" in line_with(app, "province-01 ·")
        finally:
            await store.close()


# --- resizing ----------------------------------------------------------------------------------------


@pytest.mark.slow  # four consoles and a dozen resizes: 30 s of the fast tier's two minutes
async def test_after_a_resize_each_view_reads_as_a_console_started_at_that_size(tmp_path: Path) -> None:
    """160×48 → 80×24 → 160×48, and the other way: every view is drawn again for the new width
    (nothing left from the old one, no table wider than the screen whose scrollbar's glyphs sat
    beside the sparklines), exactly as a console started at that size draws it."""
    with frozen_clock() as clock:
        async with seeded_server(tmp_path / "ops.db", clock=clock, collector=False) as (server, _):
            fresh: dict[tuple[str, tuple[int, int]], list[str]] = {}
            for size in ((80, 24), (160, 48)):
                async with console(server.url, size) as (app, pilot):
                    for view in "125":
                        await pilot.press(view)
                        await settled(pilot, app)
                        fresh[(view, size)] = screen(app)
            for start_size, other in (((160, 48), (80, 24)), ((80, 24), (160, 48))):
                async with console(server.url, start_size) as (app, pilot):
                    for view in "125":
                        await pilot.press(view)
                        await settled(pilot, app)
                        for size in (other, start_size):
                            await pilot.resize_terminal(*size)
                            await settled(pilot, app)
                            if view == "1":  # its tables as wide as the screen, not a cell more
                                for table in app.query("#overview DataTable").results(DataTable):
                                    assert table.max_scroll_x == 0, f"{table.id} at {size} is wider than the screen"
                            assert screen(app) == fresh[(view, size)], f"view {view} at {size} after a resize"
