"""The console's core driven as a user drives it (``App.run_test``), against a real feed server
over a real store on localhost, and the real simulator with a real collector for manual runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from console.app import OpscentreApp, parse_moment, step
from console.numbers import CENTRE_TZ, fmt_change, fmt_number
from console.state import key_text
from console.views.indicators import IndicatorsView
from console.widgets import fit_text
from feed.protocol import CollectCommand
from storage import Batch, ObservationIn, Store
from tests.conftest import run_cli
from tests.consolekit import (
    BEFORE_REVISION,
    CPI_REVISED,
    CPI_YOY,
    QUICK_PACE,
    QUICK_QUERIES,
    frozen_clock,
    seeded_server,
    token,
)
from tests.feedkit import feed_server

CPI_ROW = key_text(("CPI_YOY", "VN", "nso"))


# --- helpers ---------------------------------------------------------------------------------------


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Wait (bounded, generous: two noisy cores) until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


def table(app: OpscentreApp, table_id: str = "#indicators-table") -> DataTable[Any]:
    return app.query_one(table_id, DataTable)


def cell(app: OpscentreApp, row: str, column: str, table_id: str = "#indicators-table") -> str:
    return str(table(app, table_id).get_cell(row, column))


def rows(app: OpscentreApp, table_id: str = "#indicators-table") -> dict[str, tuple[str, ...]]:
    """Every row as the user sees it (plain text per column), by row key."""
    t = table(app, table_id)
    return {str(r.value): tuple(str(c) for c in t.get_row(r)) for r in t.rows}


def screen_text(app: OpscentreApp, selector: str) -> str:
    return str(app.query_one(selector).render())


async def settled(pilot: Pilot[Any], app: OpscentreApp) -> None:
    """The console has applied everything it was sent and asked (snapshot, catalogue, sparklines)."""
    await until(pilot, lambda: app.state.snapshots >= 1 and bool(app.state.catalogue.indicators), what="snapshot")
    busy = {"backfill", "reference", "travel", "provinces-history"}
    await until(
        pilot,
        lambda: not app._inbox and not any(w.group in busy and w.is_running for w in app.workers),
        what="quiet",
    )
    await pilot.pause(0.6)  # two batch intervals


async def ingest(store: Store, source: str, rows_: list[tuple[str, str, str, float]]) -> None:
    await store.observations.ingest(
        Batch(source, [ObservationIn(indicator=i, area=a, period=p, value=v) for i, a, p, v in rows_])
    )


@asynccontextmanager
async def console(url: str, role: str = "operator", **kw: Any) -> AsyncIterator[tuple[OpscentreApp, Pilot[Any]]]:
    app = OpscentreApp(url, token(role), backoff=(0.1, 0.5), pace=QUICK_PACE, **kw)
    app.animation_level = "none"  # a key press waits for the tabs' underline to stop sliding
    async with app.run_test(size=(120, 40)) as pilot:
        yield app, pilot


# --- pure pieces ---------------------------------------------------------------------------------


def test_each_language_writes_numbers_its_own_way() -> None:
    assert fmt_number(1234.5, 1, "vi") == "1.234,5"
    assert fmt_number(1234.5, 1, "en") == "1,234.5"
    assert fmt_number(-0.04, 1, "vi") == "0,0"  # no "-0,0"
    assert fmt_number(-1234567.891, 2, "en") == "-1,234,567.89"  # CLDR's minus sign, as the browser's Intl
    assert fmt_number(None) == "—"
    # A change says its direction in a symbol as well as its colour.
    assert fmt_change(0.11, 2, "vi") == "▲ +0,11"
    assert fmt_change(-0.3, 1, "en") == "▼ -0.3"
    assert fmt_change(0.0, 1, "en") == "= 0.0"


def test_moments_typed_for_time_travel() -> None:
    # Without a zone a typed moment is Vietnam time, as the console shows times.
    assert parse_moment("2026-11-15 07:00") == datetime(2026, 11, 15, 0, 0, tzinfo=UTC)
    assert parse_moment("2026-11-15T07:00:00+07:00") == datetime(2026, 11, 15, 0, 0, tzinfo=UTC)
    assert parse_moment("2026-11-15").astimezone(CENTRE_TZ).hour == 23  # a date: the end of that day
    with pytest.raises(ValueError):
        parse_moment("last tuesday")
    # A month back from 31 March is the end of February.
    assert step(datetime(2026, 3, 31, 12, tzinfo=UTC), -1, "month") == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert step(datetime(2026, 1, 15, tzinfo=UTC), -1, "month") == datetime(2025, 12, 15, tzinfo=UTC)


async def test_the_client_paces_its_queries_a_burst_then_the_rate() -> None:
    """The pilot tests below ask at ``QUICK_PACE``; the product's pace is this bucket's."""
    from console.client import PACE, Pace

    assert (Pace().rate, Pace().burst) == PACE
    pace = Pace(rate=50.0, burst=5.0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(5):  # the burst: at once
        await pace.take()
    assert loop.time() - began < 0.05
    for _ in range(5):  # then one every 1/50 s
        await pace.take()
    assert loop.time() - began >= 5 / 50 - 0.01


# --- against a real server -------------------------------------------------------------------------


async def test_the_table_fills_from_the_snapshot(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        expected = {
            key_text((o.indicator, o.area, o.source)) for o in (await server.store.snapshots.current()).observations
        }
        async with console(server.url) as (app, pilot):
            await pilot.press("2")
            await settled(pilot, app)
            shown = rows(app)
            assert set(shown) == expected
            # Named, valued and flagged from the feed alone: the revised CPI is official 3,27, marked R.
            # 120 columns: the name is cut where its column ends, and says so
            assert cell(app, CPI_ROW, "name") == "Chỉ số giá tiêu dùng so…"
            assert cell(app, CPI_ROW, "value") == "3,27"
            assert "R" in cell(app, CPI_ROW, "flags")
            # Its sparkline and change come from the series' history (the snapshot has only the newest).
            assert cell(app, CPI_ROW, "change") == fmt_change(CPI_REVISED - CPI_YOY[-2], 2, "vi")
            assert cell(app, CPI_ROW, "trend").strip() != ""
            status = screen_text(app, "#status")
            assert "operator-user (operator)" in status and "TRỰC TIẾP" in status
            # The finance ministry's source is failing: its row says so with "!" (not colour alone).
            mof = key_text(("BUDGET_REVENUE", "VN", "mof"))
            assert "!" in cell(app, mof, "flags")


async def test_a_manual_run_changes_that_row_and_no_other(tmp_path: Path) -> None:
    """An admin runs a source by hand from the console; the collector pulls the (simulated) central
    bank, which has revised one figure; exactly that row is redrawn, cell by cell."""
    import simulator
    from collectors.config import CollectorSettings, SourceSettings
    from rules.after_run import Collector
    from tests.simulator_fixtures import Clock

    async with await simulator.start(simulator.SimulatorConfig(port=0, now=Clock())) as sim:
        sbv = SourceSettings(name="sbv", kind="agency-json", url=f"{sim.url}/agencies/SBV/observations", every="1h")
        store = await Store.open(tmp_path / "ops.db")
        try:
            async with Collector(store, [sbv], CollectorSettings()) as collector:
                first = await collector.run("sbv")
                assert first.outcome == "success" and first.new > 0
                async with feed_server(
                    tmp_path / "ops.db", store=store, runs=collector, queries_per_minute=QUICK_QUERIES
                ) as server:
                    async with console(server.url, "admin") as (app, pilot):
                        await pilot.press("2")
                        await settled(pilot, app)
                        before = rows(app)
                        assert len(before) == len((await store.snapshots.current()).observations)

                        touched: list[tuple[str, str]] = []
                        t = table(app)
                        real_update, real_add, real_clear = t.update_cell, t.add_row, t.clear

                        def update_cell(row: Any, column: Any, value: Any, **kw: Any) -> None:
                            touched.append((str(row), str(column)))
                            real_update(row, column, value, **kw)

                        def add_row(*cells: Any, **kw: Any) -> Any:
                            touched.append((str(kw.get("key")), "*new row*"))
                            return real_add(*cells, **kw)

                        def clear(*a: Any, **kw: Any) -> Any:
                            touched.append(("*", "*cleared*"))
                            return real_clear(*a, **kw)

                        t.update_cell, t.add_row, t.clear = update_cell, add_row, clear  # type: ignore[method-assign,assignment]

                        (revised,) = sim.revise(1e-9, "/agencies/SBV/*")  # exactly one figure
                        row = key_text((revised[0], revised[1], "sbv"))
                        call = await app.feed.send_command(CollectCommand(source="sbv"))
                        done = await asyncio.wait_for(call.done, 120)
                        assert done.data.kind == "collect_done" and done.data.runs[0].revised == 1
                        await until(pilot, lambda: rows(app)[row] != before[row], what="the revised row")
                        await settled(pilot, app)

                        after = rows(app)
                        assert set(after) == set(before)
                        assert {k for k in after if after[k] != before[k]} == {row}
                        assert touched and {r for r, _ in touched} == {row}, touched
                        assert "R" in cell(app, row, "flags")
                        series = app.state.series[(revised[0], revised[1], "sbv")]
                        if series.latest.period == revised[2]:  # the newest figure itself was revised
                            decimals = app.state.decimals(revised[0])
                            assert cell(app, row, "value") == fmt_number(revised[3], decimals, "vi")
        finally:
            await store.close()


async def test_filter_as_you_type_category_tabs_and_sort(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        async with console(server.url) as (app, pilot):
            await pilot.press("2")
            await settled(pilot, app)
            total = len(rows(app))

            await pilot.press("slash")
            await pilot.press(*"tỷ giá")
            # As you type: "tỷ" alone already narrows the table; the whole phrase leaves one row.
            rate = {key_text(("USD_CENTRAL_RATE", "VN", "sbv"))}
            await until(pilot, lambda: set(rows(app)) == rate, what="the filter")
            # By code, by agency (case does not matter), several words all required.
            for text, expect in (("cpi_yoy", "CPI_YOY|"), ("SBV", "|sbv"), ("giá tiêu dùng nso", "CPI_")):
                app.query_one("#indicators-filter").value = text  # type: ignore[attr-defined]

                def filtered(expect: str = expect) -> bool:
                    shown = list(rows(app))
                    return bool(shown) and all(
                        expect in r if expect.startswith("|") else r.startswith(expect) for r in shown
                    )

                await until(pilot, filtered, what=f"the filter {text!r}")
            app.query_one("#indicators-filter").value = "SBV"  # type: ignore[attr-defined]
            await until(pilot, lambda: {r.split("|")[2] for r in rows(app)} == {"sbv"}, what="SBV's rows")
            await pilot.press("escape")
            app.query_one("#indicators-filter").value = ""  # type: ignore[attr-defined]
            await until(pilot, lambda: len(rows(app)) == total, what="the filter cleared")

            # A category tab shows that category only.
            view = app.query_one(IndicatorsView)
            await pilot.press("c")  # the next tab after "all"
            await until(pilot, lambda: view.category is not None, what="a category")
            while not rows(app):  # a category without figures yet shows an empty table
                await pilot.press("c")
                await pilot.pause(0.05)
            cats = {app.state.catalogue.indicators[r.split("|")[0]].category for r in rows(app)}
            assert cats == {view.category}
            while view.category is not None:
                await pilot.press("c")
                await pilot.pause(0.05)

            # Sort by value: press s until the value column, then S to reverse.
            while view.sort_column != "value":
                await pilot.press("s")
            values = [app.state.series[tuple(r.split("|"))].latest.value for r in rows(app)]  # type: ignore[index]
            assert values == sorted(values)
            assert "▲" in str(table(app).columns["value"].label)  # type: ignore[index]
            await pilot.press("S")
            values = [app.state.series[tuple(r.split("|"))].latest.value for r in rows(app)]  # type: ignore[index]
            assert values == sorted(values, reverse=True)
            # A click on a header sorts by it too.
            view.sort_by("name", reverse=False)
            names = [cell(app, r, "name").lower() for r in rows(app)]
            assert names == sorted(names)


async def test_the_console_resumes_after_a_server_restart(tmp_path: Path) -> None:
    from tests.consolekit import seed

    path = tmp_path / "ops.db"
    store = await Store.open(path)
    try:
        await seed(store)
        async with feed_server(path, store=store, queries_per_minute=QUICK_QUERIES) as first:
            port = first.port
            async with console(first.url) as (app, pilot):
                await pilot.press("2")
                await settled(pilot, app)
                assert cell(app, CPI_ROW, "value") == "3,27"

                await first.stop()  # 1001: going away
                await until(pilot, lambda: not app.state.connection.connected, what="disconnected")
                await until(pilot, lambda: "số liệu cũ từ" in screen_text(app, "#status"), what="stale since")
                # The figures stay on screen while disconnected: stale, not blank.
                assert cell(app, CPI_ROW, "value") == "3,27"

                await ingest(store, "nso", [("CPI_YOY", "VN", "2026-11", 3.4)])  # while the feed is down
                async with feed_server(path, store=store, port=port, queries_per_minute=QUICK_QUERIES):
                    await until(pilot, lambda: cell(app, CPI_ROW, "value") == "3,40", what="the missed figure")
                    assert app.feed.connects == 2
                    assert app.state.snapshots == 1  # resumed: only what was missed came, no new snapshot
                    assert cell(app, CPI_ROW, "period") == "2026-11"
                    assert "số liệu cũ" not in screen_text(app, "#status")
                    # And it stays live.
                    await ingest(store, "nso", [("CPI_YOY", "VN", "2026-11", 3.45)])
                    await until(pilot, lambda: cell(app, CPI_ROW, "value") == "3,45", what="a live change")
    finally:
        await store.close()


async def test_time_travel_shows_the_earlier_figure_under_a_banner(tmp_path: Path) -> None:
    with frozen_clock() as clock:
        async with seeded_server(tmp_path / "ops.db", clock=clock, collector=False) as (server, _):
            async with console(server.url) as (app, pilot):
                await pilot.press("2")
                await settled(pilot, app)
                assert cell(app, CPI_ROW, "value") == "3,27"
                banner = app.query_one("#banner")
                assert not banner.display

                await pilot.press("7")
                dialog_input = app.screen.query_one("#travel-input")
                dialog_input.value = BEFORE_REVISION.astimezone(CENTRE_TZ).strftime("%Y-%m-%d %H:%M")  # type: ignore[attr-defined]
                await pilot.press("enter")
                await until(pilot, lambda: app.state.as_of == BEFORE_REVISION, what="the past snapshot")
                await settled(pilot, app)
                assert banner.display
                text = screen_text(app, "#banner")
                assert "XEM QUÁ KHỨ" in text and "2026-11-15 07:00" in text and "phím 0" in text
                assert cell(app, CPI_ROW, "value") == fmt_number(CPI_YOY[-1], 2, "vi")  # 3,22: before the revision
                assert "R" not in cell(app, CPI_ROW, "flags")
                # The whole console travels: the overview shows the same past.
                await pilot.press("1")
                await pilot.pause(0.3)
                assert cell(app, CPI_ROW, "value", "#overview-key").startswith("3,22")

                await pilot.press("0")  # one key back to live
                await until(pilot, lambda: app.state.as_of is None and app.state.snapshots >= 3, what="live")
                await settled(pilot, app)
                assert not banner.display
                await pilot.press("2")
                await pilot.pause(0.3)
                assert cell(app, CPI_ROW, "value") == "3,27"

                # A day back from now, then a month back from there.
                await pilot.press("left_square_bracket")
                await until(pilot, lambda: app.state.as_of is not None, what="a day back")
                assert app.state.as_of == step(datetime.now(UTC), -1, "day")
                await pilot.press("left_curly_bracket")
                await until(pilot, lambda: app.state.as_of == step(step(datetime.now(UTC), -1, "day"), -1, "month"))
                assert app.query_one("#banner").display


async def test_language_toggle_changes_labels_and_number_format(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        async with console(server.url) as (app, pilot):
            await pilot.press("2")
            await settled(pilot, app)
            tabs = app.query_one("#tabs", TabbedContent)
            assert str(tabs.get_tab("indicators").label) == "Chỉ tiêu"
            usd = key_text(("USD_CENTRAL_RATE", "VN", "sbv"))
            assert cell(app, usd, "value") == "25.179"
            assert cell(app, CPI_ROW, "value") == "3,27"

            await pilot.press("l")
            await pilot.pause(0.3)
            assert str(tabs.get_tab("indicators").label) == "Indicators"
            assert str(table(app).columns["value"].label).startswith("Value")  # type: ignore[index]
            assert cell(app, usd, "value") == "25,179"
            assert cell(app, CPI_ROW, "value") == "3.27"
            assert cell(app, CPI_ROW, "name") == fit_text(app.state.catalogue.indicators["CPI_YOY"].name_en, 24)
            assert "LIVE" in screen_text(app, "#status")

            await pilot.press("l")
            await pilot.pause(0.3)
            assert cell(app, CPI_ROW, "value") == "3,27"
            assert str(tabs.get_tab("indicators").label) == "Chỉ tiêu"


async def test_pause_freezes_the_view_with_a_marker(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        async with console(server.url) as (app, pilot):
            await pilot.press("2")
            await settled(pilot, app)
            await pilot.press("p")
            await pilot.pause(0.3)
            assert "TẠM DỪNG" in screen_text(app, "#status")
            await ingest(server.store, "nso", [("CPI_YOY", "VN", "2026-11", 3.5)])
            await until(pilot, lambda: app.state.series[("CPI_YOY", "VN", "nso")].latest.value == 3.5)
            await pilot.pause(0.6)
            assert cell(app, CPI_ROW, "value") == "3,27"  # frozen
            await pilot.press("p")
            await until(pilot, lambda: cell(app, CPI_ROW, "value") == "3,50", what="unfrozen")
            assert "TẠM DỪNG" not in screen_text(app, "#status")


async def test_keys_are_remapped_by_id_and_every_action_is_in_the_palette(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        async with console(server.url, keys={"app.pause": "f5", "view.indicators": "f2"}) as (app, pilot):
            await settled(pilot, app)
            await pilot.press("f2")
            assert app.query_one("#tabs", TabbedContent).active == "indicators"
            await pilot.press("f5")
            assert app.state.paused
            await pilot.press("p")  # no longer the pause key
            assert app.state.paused
            from console.keys import KEYS

            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert {app.t(k.label) for k in KEYS} <= titles
            await pilot.press("question_mark")
            await pilot.pause(0.2)
            assert app.screen.query("HelpPanel")


def test_an_unknown_binding_id_in_the_configuration_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[console]\nkeys = { "app.pause" = "f5", "app.explode" = "x" }\n', encoding="utf-8")
    result = run_cli("check-config", str(bad))
    assert result.returncode == 2
    assert "console.keys" in result.stderr and "unknown binding id 'app.explode'" in result.stderr
    good = tmp_path / "good.toml"
    good.write_text('[console]\nlang = "en"\nkeys = { "app.pause" = "f5" }\n', encoding="utf-8")
    assert run_cli("check-config", str(good)).returncode == 0


def test_console_needs_a_token_outside_the_demo_and_never_takes_one_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSCENTRE_TOKEN", raising=False)
    config = tmp_path / "c.toml"
    config.write_text("[feed]\nport = 1\n", encoding="utf-8")
    result = run_cli("console", "--config", str(config))
    assert result.returncode == 2 and "a token is needed" in result.stderr
    result = run_cli("console", "--token", "x")
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    result = run_cli("console", "--token-file", str(empty))
    assert result.returncode == 2 and "is empty" in result.stderr


async def test_provinces_show_the_units_in_force_for_the_period_with_who_became_whom(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, seeded):
        async with console(server.url) as (app, pilot):
            await pilot.press("3")
            await settled(pilot, app)
            title = lambda: screen_text(app, "#provinces-title")  # noqa: E731
            assert "2026-10" in title() and "34 đơn vị" in title()
            shown = rows(app, "#provinces-table")
            assert set(shown) == {*seeded.provinces_now, "total"}
            # Ranked by value, the high and low thirds marked with a word and a symbol, an average for a rate.
            values = [float(r[3].replace(",", ".")) for k, r in shown.items() if k != "total"]
            assert values == sorted(values, reverse=True)
            assert shown[next(iter(shown))][4] == "▲ cao" and shown[list(shown)[-2]][4] == "▼ thấp"
            assert shown["total"][2] == "Trung bình"
            assert shown["total"][3] == fmt_number(sum(values) / len(values), 2, "vi")
            # Hà Nội took in Hà Tây in 2008 (not in our lineage); Phú Thọ took in Vĩnh Phúc and Hòa Bình in 2025.
            assert "17" in shown["25"][-1] and "26" in shown["25"][-1]

            await pilot.press("comma")  # the period before, as known: fetched unit by unit
            await until(pilot, lambda: "2025-05" in title(), what="an earlier period", timeout=120)
            shown = rows(app, "#provinces-table")
            assert set(shown) == {*seeded.provinces_before, "total"}
            assert "63 đơn vị" in title()
            assert shown["26"][-1].startswith("→ 25")  # Vĩnh Phúc became part of Phú Thọ
            await pilot.press("full_stop")
            await until(pilot, lambda: "2026-10" in title(), what="back to the newest period")


async def test_a_palette_command_of_a_view_opens_that_view_and_runs_there(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        async with console(server.url) as (app, pilot):
            await settled(pilot, app)
            (sort,) = [c for c in app.get_system_commands(app.screen) if "table.sort_reverse" in c.help]
            await sort.callback()
            await pilot.pause(0.3)
            assert app.query_one("#tabs", TabbedContent).active == "indicators"
            assert app.query_one(IndicatorsView).sort_reverse


async def test_a_refused_token_is_said_and_not_retried(tmp_path: Path) -> None:
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        app = OpscentreApp(server.url, "not-a-token-of-anyone-0123", backoff=(0.1, 0.2))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.state.connection.refused is not None, what="the refusal")
            assert "bị từ chối" in screen_text(app, "#status")
            await pilot.pause(1.0)  # several backoff periods: no new attempt
            assert not any(w.name == "feed" and w.is_running for w in app.workers)
            assert app.feed.connects == 0


async def test_a_keyed_table_redraws_a_changed_cell_and_keeps_the_others_drawn() -> None:
    """The cell-level cache drop must never leave a stale figure on screen."""
    from textual.app import App, ComposeResult

    from console.widgets import KeyedTable

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield KeyedTable(id="t")

    app = One()
    async with app.run_test(size=(40, 8)) as pilot:
        t = app.query_one(KeyedTable)
        t.add_column("k", key="k", width=4)
        t.add_column("v", key="v", width=8)
        for i in range(4):
            t.add_row(f"r{i}", f"{i}.0", key=f"r{i}")
        await pilot.pause()
        lines = lambda: [t.render_line(y).text for y in range(1, 5)]  # noqa: E731
        assert "1.0" in lines()[1]
        cached = len(t._cell_render_cache)
        t.update_cell("r1", "v", "99.5")
        await pilot.pause()
        drawn = lines()
        assert "99.5" in drawn[1] and "1.0" not in drawn[1]
        assert [("0.0" in drawn[0]), ("2.0" in drawn[2]), ("3.0" in drawn[3])] == [True, True, True]
        # Only that cell was rendered again (a plain DataTable renders all 10 cells and the header anew).
        assert len(t._cell_render_cache) - cached <= 2
