"""The console's operator views (alerts, collectors, drill-down), driven with ``App.run_test``
against a real feed server over a real SQLite store, with a real collector pulling the real
simulator over localhost. Every wait is for a condition on the screen or the state, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from collectors.config import CollectorSettings, SourceSettings
from console.app import OpscentreApp
from feed.protocol import Heartbeat
from feed.server import FeedServer
from rules.after_run import Collector
from simulator import Simulator, SimulatorConfig, start
from storage import Severity, Store
from storage.models import AlertParams
from tests.feedkit import TOKENS, feed_server

pytestmark = pytest.mark.timeout(180)

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
SOURCES = {"nso": "NSO", "sbv": "SBV", "mof": "MOF"}


@dataclass
class Centre:
    server: FeedServer
    sim: Simulator
    store: Store
    collector: Collector


@asynccontextmanager
async def centre(tmp_path: Path) -> AsyncIterator[Centre]:
    """The simulated agencies, a collector for three of them (nothing scheduled: runs are manual),
    and the feed server, all on free ports."""
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as sim:
        sources = [
            SourceSettings(
                name=name,
                kind="agency-json",
                url=f"{sim.url}/agencies/{agency}/observations",
                agency=agency,
                every="1h",
            )
            for name, agency in SOURCES.items()
        ]
        store = await Store.open(tmp_path / "ops.db")
        try:
            async with Collector(store, sources, CollectorSettings(retries=0, breaker_failures=2)) as collector:
                async with feed_server(tmp_path / "ops.db", store=store, runs=collector) as server:
                    yield Centre(server, sim, store, collector)
        finally:
            await store.close()


def console(c: Centre, role: str, lang: str = "en") -> OpscentreApp:
    app = OpscentreApp(c.server.url, TOKENS[role], lang=lang, backoff=(0.2, 1.0))
    app.animation_level = "none"  # a key press waits for the tabs' underline to stop sliding
    return app


async def until(pilot: Pilot[None], condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait (bounded) until ``condition()`` holds, letting the app run meanwhile."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await pilot.pause(0.05)


def rows(app: OpscentreApp, table_id: str) -> dict[str, list[str]]:
    """A table's rows as plain text, by row key."""
    table = app.query_one(table_id, DataTable)
    return {str(k.value): [str(c) for c in table.get_row(k)] for k in table.rows}


def rows_order(app: OpscentreApp) -> list[str]:
    return [str(k.value) for k in app.query_one("#alerts-table", DataTable).rows]


def mof_id(app: OpscentreApp) -> int:
    return next(a.id for a in app.state.alerts.values() if a.subject == "mof" and a.rule == "source.failing")


def text_of(app: OpscentreApp, widget_id: str) -> str:
    from textual.widgets import Static

    return str(app.query_one(widget_id, Static).content)


async def fail(c: Centre, source: str, agency: str, status: int = 503, count: int | None = None) -> None:
    """The agency's system answers ``status`` (``count`` times, or until cleared); one run of
    ``source`` fails and opens an alert."""
    async with httpx.AsyncClient() as http:
        fault = {"endpoint": f"/agencies/{agency}/*", "kind": "http_error", "status": status}
        if count is not None:
            fault["count"] = count
        assert (await http.put(f"{c.sim.url}/_admin/faults", json=fault)).status_code < 300
    run = await c.collector.run(source)
    assert run.outcome.value == "failed", run


# --- alerts -------------------------------------------------------------------------------------------


async def test_an_acknowledgement_made_on_one_console_appears_on_a_second(tmp_path: Path) -> None:
    async with centre(tmp_path) as c:
        first, second = console(c, "operator", "en"), console(c, "operator", "vi")
        async with first.run_test(size=(120, 36)) as p1, second.run_test(size=(80, 24)) as p2:
            for pilot, app in ((p1, first), (p2, second)):
                await until(pilot, lambda app=app: app.state.snapshots > 0, "the console has its snapshot")  # type: ignore[misc]
                await pilot.press("4")
            await fail(c, "mof", "MOF")
            alert = next(a for a in await c.store.alerts.listed() if a.rule == "source.failing")
            key = str(alert.id)
            for pilot, app in ((p1, first), (p2, second)):
                await until(pilot, lambda app=app: key in rows(app, "#alerts-table"), "the alert is listed")  # type: ignore[misc]
            # Worded from its rule and parameters in each console's language (with the agency's name once the
            # catalogue's answer is in: under load it may come after the alert); state and severity in words.
            for pilot, app, name in ((p1, first, "Ministry of Finance"), (p2, second, "Bộ Tài chính")):
                await until(pilot, lambda app=app, name=name: name in rows(app, "#alerts-table")[key][-1], "named")  # type: ignore[misc]
            row1, row2 = rows(first, "#alerts-table")[key], rows(second, "#alerts-table")[key]
            assert (
                "▲ WARNING" in row1[0]
                and "! firing" in row1[1]
                and "Source Ministry of Finance [mof] failed (the source" in row1[-1]
            )
            assert (
                "▲ CẢNH BÁO" in row2[0]
                and "! đang báo" in row2[1]
                and "Nguồn Bộ Tài chính [mof] bị lỗi (máy chủ nguồn" in row2[-1]
            )

            first.query_one("#alerts-table", DataTable).focus()
            await p1.press("a")
            await until(p1, lambda: first.screen.id == "ack-dialog", "the note dialog is open")
            await p1.press(*"called MOF IT desk")
            await p1.press("enter")

            def acknowledged_on_second() -> bool:
                held = second.state.alerts.get(alert.id)
                return (
                    held is not None and held.state == "acknowledged" and "✓" in rows(second, "#alerts-table")[key][1]
                )

            await until(p2, acknowledged_on_second, "the second console shows the acknowledgement")
            held = second.state.alerts[alert.id]
            assert held.acknowledged_by == "operator-user" and held.ack_note == "called MOF IT desk"
            second.query_one("#alerts-table", DataTable).focus()
            await until(p2, lambda: "called MOF IT desk" in text_of(second, "#alerts-info"), "the note is shown")
            assert "✓ đã xác nhận" in rows(second, "#alerts-table")[key][1]
            assert "acknowledged" in text_of(first, "#alerts-notice")


# --- collectors -----------------------------------------------------------------------------------------


def footer_keys(app: OpscentreApp) -> dict[str, bool]:
    """The footer's keys by action: True if enabled (a disabled one is shown greyed out)."""
    from textual.widgets._footer import FooterKey

    return {k.action: not k.has_class("-disabled") for k in app.screen.query(FooterKey)}


async def test_a_display_console_has_run_actions_disabled_and_a_forced_command_is_refused(tmp_path: Path) -> None:
    from console.views.alerts import AlertsView
    from console.views.collectors import CollectorsView
    from feed.protocol import CollectCommand

    async with centre(tmp_path) as c:
        app = console(c, "display", "en")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0 and app.state.sources, "snapshot and sources")
            await pilot.press("5")
            view = app.query_one(CollectorsView)
            await until(pilot, lambda: set(rows(app, "#collectors-table")) == set(SOURCES), "every source listed")
            keys = footer_keys(app)
            assert keys["run_source"] is False and keys["run_agency"] is False and keys["run_all"] is False
            assert "needs the admin role (you: display)" in text_of(app, "#collectors-bar")
            await pilot.press("A")  # the key does nothing: no dialog
            await pilot.pause(0.2)
            assert app.screen.id != "confirm-dialog"

            view.collect(CollectCommand(all=True))  # sent anyway: the server refuses, the view says so
            await until(pilot, lambda: "Refused" in text_of(app, "#collectors-progress"), "the refusal is shown")
            assert "the display role may not collect; it needs admin" in text_of(app, "#collectors-progress")

            # Acknowledging too: greyed out, and refused (and said so) when sent anyway.
            await fail(c, "mof", "MOF")
            await pilot.press("4")
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 1, "the alert is listed")
            assert footer_keys(app)["acknowledge"] is False
            await pilot.press("a")
            await pilot.pause(0.2)
            assert app.screen.id != "ack-dialog"
            alerts = app.query_one(AlertsView)
            alerts.acknowledge(mof_id(app), "forced")
            await until(pilot, lambda: "Refused" in text_of(app, "#alerts-notice"), "the refusal is shown")
            assert "the display role may not acknowledge; it needs operator" in text_of(app, "#alerts-notice")
        assert [(r.source, r.trigger.value) for r in await c.store.runs.recent()] == [("mof", "schedule")]  # ours only
        refused = [e for e in await c.store.audit.entries() if e.action.endswith(".refused")]
        assert sorted((e.action, e.actor, e.role) for e in refused) == [
            ("acknowledge.refused", "display-user", "display"),
            ("collect.refused", "display-user", "display"),
        ]


async def test_an_admin_console_runs_a_source_after_confirming_and_sees_progress_and_result(tmp_path: Path) -> None:
    async with centre(tmp_path) as c:
        app = console(c, "admin", "en")
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0 and app.state.sources, "snapshot and sources")
            await pilot.press("5")
            await until(pilot, lambda: "sbv" in rows(app, "#collectors-table"), "sources listed")
            assert rows(app, "#collectors-table")["sbv"][3] == "never run"
            keys = footer_keys(app)
            assert keys["run_source"] and keys["run_agency"] and keys["run_all"]
            table = app.query_one("#collectors-table", DataTable)
            table.move_cursor(row=table.get_row_index("sbv"))
            await pilot.press("r")
            await until(pilot, lambda: app.screen.id == "confirm-dialog", "the confirmation is asked")
            assert "Run a collection of source sbv now?" in str(app.screen.query_one("#confirm-question").content)  # type: ignore[attr-defined]
            await pilot.press("n")  # cancelled: nothing runs
            await until(pilot, lambda: app.screen.id != "confirm-dialog", "the dialog is gone")
            await pilot.pause(0.3)
            assert await c.store.runs.recent() == []

            # The central bank's system is slow this once: the run is seen running before it ends.
            async with httpx.AsyncClient() as http:
                slow = {"endpoint": "/agencies/SBV/*", "kind": "latency", "ms": 3000, "count": 1}
                assert (await http.put(f"{c.sim.url}/_admin/faults", json=slow)).status_code < 300
            await pilot.press("r")
            await until(pilot, lambda: app.screen.id == "confirm-dialog", "the confirmation is asked again")
            await pilot.click("#confirm-yes")
            await until(pilot, lambda: "⟳ running" in text_of(app, "#collectors-progress"), "the run seen started")
            assert "0/1 finished" in text_of(app, "#collectors-progress")
            assert rows(app, "#collectors-table")["sbv"][3] == "⟳ running"
            await until(pilot, lambda: "Done: 1 of 1 runs succeeded" in text_of(app, "#collectors-progress"), "done")
            progress = text_of(app, "#collectors-progress")
            assert "Collecting 1 sources: sbv" in progress and "✓ success" in progress and " new" in progress
            runs = await c.store.runs.recent()
            assert [(r.source, r.trigger.value, r.requested_by, r.outcome.value) for r in runs] == [
                ("sbv", "manual", "admin-user", "success")
            ]
            # The row follows the run: outcome, latency, figures; the circuit is closed.
            await until(pilot, lambda: "success" in rows(app, "#collectors-table")["sbv"][3], "the row shows the run")
            row = rows(app, "#collectors-table")["sbv"]
            assert row[2] == "● closed" and row[5].endswith(" ms") and row[6] == f"{runs[0].new}/0/0"

            # Every source of an agency: the selected source's agency, confirmed with y.
            table.move_cursor(row=table.get_row_index("nso"))
            await pilot.press("g")
            await until(pilot, lambda: app.screen.id == "confirm-dialog", "the confirmation is asked")
            assert "every source of agency NSO" in str(app.screen.query_one("#confirm-question").content)  # type: ignore[attr-defined]
            await pilot.press("y")

            def nso_done() -> bool:
                progress = text_of(app, "#collectors-progress")
                return "Collecting 1 sources: nso" in progress and "Done: 1 of 1 runs succeeded" in progress

            await until(pilot, nso_done, "the agency's run done")
            assert {(r.source, r.requested_by) for r in await c.store.runs.recent()} == {
                ("sbv", "admin-user"),
                ("nso", "admin-user"),
            }


# --- drill-down ---------------------------------------------------------------------------------------


async def test_the_drill_down_of_a_figure_shows_every_revision_and_the_digest_of_the_bytes_served(
    tmp_path: Path,
) -> None:
    import hashlib
    import json

    from console.numbers import fmt_time
    from console.views.drilldown import DrilldownView

    async with centre(tmp_path) as c:
        first = await c.collector.run("nso")
        assert first.outcome.value == "success", first
        # The statistics office revises every figure twice; each revision comes in with a run.
        for _ in range(2):
            async with httpx.AsyncClient() as http:
                fault = {"endpoint": "/agencies/NSO/*", "kind": "revise", "fraction": 1.0, "count": 1}
                assert (await http.put(f"{c.sim.url}/_admin/faults", json=fault)).status_code < 300
            run = await c.collector.run("nso")
            assert run.outcome.value == "success" and run.revised > 0, run
        latest = next(
            o for o in (await c.store.snapshots.current()).observations if (o.indicator, o.area) == ("CPI_YOY", "VN")
        )
        revisions = await c.store.observations.revisions("CPI_YOY", "VN", latest.period, "nso")
        assert [r.revision for r in revisions] == [1, 2, 3]

        app = console(c, "display", "en")
        async with app.run_test(size=(120, 50)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0 and app.state.catalogue.indicators, "snapshot")
            await pilot.press("2")
            key = "CPI_YOY|VN|nso"
            await until(pilot, lambda: key in rows(app, "#indicators-table"), "the figure is listed")
            table = app.query_one("#indicators-table", DataTable)
            table.focus()
            table.move_cursor(row=table.get_row_index(key))
            await pilot.press("enter")  # drill down

            view = app.query_one(DrilldownView)
            await until(pilot, lambda: view.loads > 0 and view.provenance is not None, "the drill-down is loaded")
            assert app.query_one("#tabs").active == "drilldown"  # type: ignore[attr-defined]
            assert view.key == ("CPI_YOY", "VN", "nso")
            shown = rows(app, "#drilldown-revisions")
            assert list(shown) == [str(r.id) for r in revisions]
            decimals = 2
            for i, r in enumerate(revisions):
                rev, before, after, status, collected, source, run_cell, digest = shown[str(r.id)]
                assert rev == str(r.revision) and source == "nso" and run_cell == f"#{r.run_id}"
                assert status == r.status.value and collected == fmt_time(r.collected_at, "en")  # when, UTC+7
                assert float(after.replace(",", "")) == pytest.approx(r.value, abs=10**-decimals)
                if i == 0:
                    assert before == "—"
                else:
                    assert float(before.replace(",", "")) == pytest.approx(revisions[i - 1].value, abs=10**-decimals)
                assert r.payload_digest is not None and digest == r.payload_digest[:12]

            provenance = text_of(app, "#drilldown-provenance")
            assert latest.payload_digest is not None and latest.payload_digest in provenance
            body = await c.store.observations.payload(latest.payload_digest)
            assert body is not None and hashlib.sha256(body).hexdigest() == latest.payload_digest
            assert f"{len(body):,} bytes" in provenance
            assert f"#{latest.run_id}" in provenance
            # The bytes are those the simulator served: the figure, revised, is in them.
            served = json.loads(body)
            assert any(
                (o["indicator"], o["area"], o["period"]) == ("CPI_YOY", "VN", latest.period)
                and o["value"] == pytest.approx(latest.value)
                for o in served["observations"]
            )
            # The chart shows the series over the window in force; the window can be changed.
            assert view.window == "5y" and view.history
            await pilot.press("w")
            await until(pilot, lambda: view.window == "all", "the window is all")  # a key is handled in its turn


# --- alerts: wording, bell, filters, detail --------------------------------------------------------------


async def test_the_console_words_every_alert_as_the_server_does_in_either_language(store: Store) -> None:
    """The console renders from the same catalogue, with the names the feed's catalogue gives it:
    for every rule, its text is the server's (tests/wording_samples.py); a rule or params it cannot
    word show the server's stored text."""
    from console.state import Catalogue
    from console.views.alert_texts import headline
    from feed.catalogue import catalogue
    from feed.protocol import AlertInfo, SourceInfo
    from tests.wording_samples import SAMPLES

    agencies = {"nso": "NSO", "mof": "MOF", "cus": "CUS", "sbv": "SBV", "vnat": "VNAT"}
    store.reference.source_agencies = agencies
    sources = [
        SourceInfo(name=n, kind="agency-json", agency=a, enabled=True, schedule="every 60s")
        for n, a in agencies.items()
    ]
    names = Catalogue.from_data(await catalogue(store, sources)).names
    for rule, severity, subject, params in SAMPLES:
        alert = await store.alerts.fire(rule, subject, Severity(severity), params=AlertParams.model_validate(params))
        assert alert is not None
        info = AlertInfo.model_validate(alert.model_dump())
        assert (headline(info, "vi", names), headline(info, "en", names)) == (alert.message, alert.message_en)
    unknown = AlertInfo.model_validate(
        {"id": 1, "rule": "feed.lagging", "subject": "x", "severity": "info", "state": "firing",
         "message": "Thông điệp của máy chủ", "opened_at": NOW, "updated_at": NOW}
    )  # fmt: skip
    assert headline(unknown, "en", names) == "Alert feed.lagging: x"
    without = unknown.model_copy(update={"rule": "source.failing"})  # no params: the server's words
    assert headline(without, "en", names) == "Thông điệp của máy chủ"


async def test_a_new_critical_alert_rings_the_bell_unless_muted_and_filters_and_detail_work(tmp_path: Path) -> None:
    from console.views.alerts import AlertsView

    async with centre(tmp_path) as c:
        app = console(c, "operator", "en")
        rung: list[int] = []
        app.bell = lambda: rung.append(1)  # type: ignore[method-assign]  # the terminal's bell, counted
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0, "snapshot")
            await pilot.press("1")  # the alerts view is not on screen: the bell rings all the same
            view = app.query_one(AlertsView)
            await fail(c, "mof", "MOF")  # a warning: no bell
            await until(pilot, lambda: any(a.rule == "source.failing" for a in app.state.alerts.values()), "alert")
            await pilot.pause(0.5)
            assert rung == []
            await fail(c, "mof", "MOF")  # the circuit opens: source.down (critical) mutes source.failing
            await until(pilot, lambda: rung == [1], "the bell rang once")
            assert view.bells == 1

            await pilot.press("4")
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 2, "both alerts are listed")
            down = next(a for a in app.state.alerts.values() if a.rule == "source.down")
            failing = app.state.alerts[mof_id(app)]
            # The muted one is marked, and says by which alert; it does not ring.
            assert failing.inhibited_by == down.id
            assert rows(app, "#alerts-table")[str(failing.id)][2] == "⊘ inhibited"
            assert rows(app, "#alerts-table")[str(down.id)][2] == ""
            app.query_one("#alerts-table", DataTable).move_cursor(row=rows_order(app).index(str(failing.id)))
            await until(pilot, lambda: f"Inhibited by alert #{down.id}" in text_of(app, "#alerts-info"), "why muted")
            assert "Source Ministry of Finance [mof] is down after 2 failures in a row" in text_of(app, "#alerts-info")
            assert "Muted: [shown] (h)" in text_of(app, "#alerts-bar")
            await pilot.press("h")  # hide the muted alerts
            assert "Muted: [hidden] (h)" in text_of(app, "#alerts-bar")
            assert list(rows(app, "#alerts-table")) == [str(down.id)]
            assert "♪ bell: on" in text_of(app, "#alerts-bar")
            await pilot.press("m")
            assert "✕ bell: MUTED" in text_of(app, "#alerts-bar")
            await fail(c, "sbv", "SBV")
            await fail(c, "sbv", "SBV")  # another critical alert, muted: no bell
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 2, "the second source.down is listed")
            await pilot.pause(0.5)
            assert rung == [1]

            # Filters: severity (critical only), state (resolved: closed alerts asked of the server).
            table = rows(app, "#alerts-table")
            assert all("✖ CRITICAL" in r[0] for r in table.values())
            await pilot.press("v")  # all → critical
            assert "[✖ CRITICAL]" in text_of(app, "#alerts-bar") and len(rows(app, "#alerts-table")) == 2
            await pilot.press("v")  # → warning: the two muted source.failing alerts are hidden
            assert rows(app, "#alerts-table") == {}
            assert "No alert matches the filters" in text_of(app, "#alerts-info")
            await pilot.press("h")  # shown again
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 2, "the muted warnings are shown")
            assert all(r[2] == "⊘ inhibited" for r in rows(app, "#alerts-table").values())
            await pilot.press("h")
            # A warning arrives while the warning filter is on: listed.
            await fail(c, "nso", "NSO", count=1)
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 1, "the warning is listed")
            assert "▲ WARNING" in next(iter(rows(app, "#alerts-table").values()))[0]
            await pilot.press("h")
            # The ministry's system answers again (its breaker's reset time come): source.down resolves
            # and leaves the open list; its source.failing, no longer muted, keeps firing one interval.
            async with httpx.AsyncClient() as http:
                assert (await http.delete(f"{c.sim.url}/_admin/faults")).status_code < 300
            c.collector.breakers["mof"].record_success()
            assert (await c.collector.run("mof")).outcome.value == "success"
            await pilot.press("v", "v", "v")  # warning → info → all → critical
            await until(pilot, lambda: list(rows(app, "#alerts-table")) != [str(down.id)], "mof's down resolves")
            await until(pilot, lambda: app.state.alerts[failing.id].inhibited_by is None, "unmuted")
            await pilot.press("v", "v", "v")  # → warning → info → all
            await pilot.press("f", "f", "f")  # open → firing → acknowledged → resolved
            assert "[resolved]" in text_of(app, "#alerts-bar")
            await until(pilot, lambda: list(rows(app, "#alerts-table")) == [str(down.id)], "the resolved alert alone")
            assert "○ resolved" in rows(app, "#alerts-table")[str(down.id)][1]

            # The technical detail (the run's error) only on demand.
            await pilot.press("f", "f")  # → all → open
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 4, "the open alerts")
            app.query_one("#alerts-table", DataTable).move_cursor(row=rows_order(app).index(str(mof_id(app))))
            mof = app.state.alerts[mof_id(app)]
            assert mof.detail and "503" in mof.detail
            assert mof.detail not in text_of(app, "#alerts-info") and "key d: technical detail" in text_of(
                app, "#alerts-info"
            )
            await pilot.press("d")
            assert mof.detail in text_of(app, "#alerts-info")
            # Another language: the same alert in Vietnamese, from its parameters.
            await pilot.press("l")
            await until(pilot, lambda: "CẢNH BÁO" in rows(app, "#alerts-table")[str(mof.id)][0], "Vietnamese")
            assert (
                "Nguồn Bộ Tài chính [mof] lỗi 2 lần liên tiếp (máy chủ nguồn trả lời mã HTTP 503)"
                in rows(app, "#alerts-table")[str(mof.id)][-1]
            )


async def test_an_admin_silences_the_selected_alert_for_a_while_and_ends_the_silence_by_keyboard(
    tmp_path: Path,
) -> None:
    async with centre(tmp_path) as c:
        app = console(c, "admin", "en")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0, "snapshot")
            await pilot.press("4")
            await fail(c, "nso", "NSO")
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 1, "the alert is listed")
            alert_id = next(iter(app.state.alerts))
            await pilot.press("x")
            await until(pilot, lambda: app.screen.id == "silence-dialog", "the silence dialog is open")
            # A duration the server would refuse: said in the dialog, nothing sent.
            await pilot.press("shift+tab", *["backspace"] * 2, *"45d", "enter")
            assert "from 1 minute to 30 days" in str(app.screen.query_one("#silence-error").render())
            assert await c.store.alerts.silences() == []
            await pilot.press(*["backspace"] * 3, *"90m", "tab", "enter")
            assert "Say why" in str(app.screen.query_one("#silence-error").render())
            await pilot.press(*"NSO maintenance window", "enter")
            await until(pilot, lambda: app.screen.id != "silence-dialog", "the dialog closes")

            await until(pilot, lambda: app.state.alerts[alert_id].silenced_by is not None, "the alert is silenced")
            (silence,) = await c.store.alerts.silences()
            assert silence.comment == "NSO maintenance window" and silence.created_by == "admin-user"
            assert round((silence.ends_at - silence.created_at).total_seconds()) == 90 * 60  # asked for 90 minutes
            assert silence.match.rule == "source.failing" and silence.match.subject == "nso"
            await until(pilot, lambda: rows(app, "#alerts-table")[str(alert_id)][2] == "⊘ silenced", "marked")
            await until(
                pilot, lambda: f"Silenced by silence #{silence.id} of admin-user" in text_of(app, "#alerts-info"), "why"
            )
            assert "NSO maintenance window" in text_of(app, "#alerts-info")
            assert f"Silenced: silence #{silence.id}" in text_of(app, "#alerts-notice")

            await pilot.press("n")  # the active silences
            await until(pilot, lambda: str(silence.id) in rows(app, "#silences-table"), "the silence is listed")
            row = rows(app, "#silences-table")[str(silence.id)]
            assert row[1] == "rule=source.failing subject=nso" and row[2] == "admin-user"
            assert row[4] == "NSO maintenance window"
            await pilot.press("e")  # end it
            await until(pilot, lambda: rows(app, "#silences-table") == {}, "the silence is gone")
            await until(pilot, lambda: app.state.alerts[alert_id].silenced_by is None, "the alert is unmuted")
            assert rows(app, "#alerts-table")[str(alert_id)][2] == ""
            assert "No active silence" in text_of(app, "#silences-title")
            (ended,) = await c.store.alerts.silences(active_only=False)
            assert ended.ended_by == "admin-user"

            # A critical alert that opens silenced does not ring; one that is not muted does.
            from datetime import timedelta

            from storage.models import SilenceMatch

            rung: list[int] = []
            app.bell = lambda: rung.append(1)  # type: ignore[method-assign]  # the terminal's bell, counted
            planned = SilenceMatch(rule="source.down", subject="sbv")
            await c.store.alerts.silence(
                planned, datetime.now(UTC) + timedelta(hours=1), "planned", "admin-user", "admin"
            )
            await fail(c, "sbv", "SBV")
            await fail(c, "sbv", "SBV")  # the circuit opens: source.down, critical, silenced
            down = lambda s: [a for a in app.state.alerts.values() if (a.rule, a.subject) == ("source.down", s)]  # noqa: E731
            await until(pilot, lambda: bool(down("sbv")) and down("sbv")[0].silenced_by is not None, "silenced")
            await pilot.pause(0.5)
            assert rung == []
            await fail(c, "mof", "MOF")
            await fail(c, "mof", "MOF")
            await until(pilot, lambda: rung == [1], "the bell rang for the one not muted")
            assert down("mof")[0].silenced_by is None


async def test_an_operator_cannot_silence_its_keys_are_greyed_out_and_nothing_is_sent(tmp_path: Path) -> None:
    async with centre(tmp_path) as c:
        app = console(c, "operator", "en")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0, "snapshot")
            await pilot.press("4")
            await fail(c, "nso", "NSO")
            await until(pilot, lambda: len(rows(app, "#alerts-table")) == 1, "the alert is listed")
            keys = footer_keys(app)
            assert keys["silence"] is False and keys["acknowledge"] is True
            from console.views.alerts import AlertsView

            app.query_one(AlertsView).action_silence()  # forced: the footer's key is disabled
            await pilot.pause(0.2)
            assert app.screen.id != "silence-dialog"
            assert "Silencing needs the admin role" in text_of(app, "#alerts-notice")
            assert await c.store.alerts.silences() == []


async def test_the_provinces_view_says_whose_report_is_on_time_late_or_missing(tmp_path: Path) -> None:
    """Retail sales of January 2010 (due by the end of 25 February): 61 provinces on time, one late,
    one silent; the centre watches from 10 February (a report is late only if it saw the due date pass)."""
    from datetime import date

    from storage import Batch, ObservationIn, RunTrigger
    from storage.clock import ManualClock, use_clock

    watching, on_time, after_due = (datetime(2010, 2, d, 9, 0, tzinfo=UTC) for d in (10, 20, 27))
    clock = ManualClock(watching)
    with use_clock(clock):
        async with await Store.open(tmp_path / "ops.db") as store:
            await store.runs.start("nso", RunTrigger.SCHEDULE)
            *prompt, late, silent = [a.code for a in await store.reference.areas_in_force(date(2010, 1, 31))]

            def batch(areas: list[str], at: datetime) -> Batch:
                rows = [ObservationIn(indicator="RETAIL_SALES", area=a, period="2010-01", value=100.0) for a in areas]
                return Batch("nso", rows, collected_at=at)

            await store.observations.ingest(batch(["VN", *prompt], on_time))
            clock.advance(after_due - watching)
            await store.observations.ingest(batch([late], after_due))
            async with feed_server(tmp_path / "ops.db", store=store) as server:
                app = OpscentreApp(server.url, TOKENS["display"], lang="vi", backoff=(0.2, 1.0))
                async with app.run_test(size=(120, 40)) as pilot:
                    await until(pilot, lambda: app.state.snapshots > 0, "snapshot")
                    await pilot.press("3")
                    line = lambda: text_of(app, "#provinces-reporting")  # noqa: E731
                    await until(pilot, lambda: "62/63" in line(), "the completeness line")
                    assert (
                        line() == "Báo cáo kỳ 2010-01 (hạn 2010-02-25): 62/63 tỉnh, thành phố · 1 trễ hạn · 1 chưa gửi"
                    )
                    shown = rows(app, "#provinces-table")
                    assert shown[late][5] == "⌛ trễ hạn" and shown[silent][5] == "✗ chưa gửi"
                    assert {shown[a][5] for a in prompt} == {"✓ đúng hạn"}
                    assert shown["total"][5] == ""
                    await pilot.press("l")
                    await until(pilot, lambda: "Reports for" in line(), "English")
                    assert line() == "Reports for 2010-01 (due 2010-02-25): 62/63 provinces · 1 late · 1 missing"
                    assert rows(app, "#provinces-table")[silent][5] == "✗ missing"


async def test_feed_updates_arriving_while_a_dialog_is_open_are_applied_without_a_crash(tmp_path: Path) -> None:
    """A confirmation (or note, or palette) on top of the views while runs and alerts arrive: the
    batch still updates the views underneath, and the console goes on."""
    async with centre(tmp_path) as c:
        app = console(c, "admin", "en")
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0 and app.state.sources, "snapshot and sources")
            await pilot.press("5")
            await until(pilot, lambda: "nso" in rows(app, "#collectors-table"), "sources listed")
            await pilot.press("A")
            await until(pilot, lambda: app.screen.id == "confirm-dialog", "the confirmation is asked")
            batches = app.batches
            await fail(c, "mof", "MOF")  # a run and an alert arrive while the dialog is open
            assert (await c.collector.run("nso")).outcome.value == "success"
            await until(pilot, lambda: app.batches > batches + 1, "batches applied under the dialog")
            await pilot.pause(0.5)
            assert app.screen.id == "confirm-dialog" and app.is_running
            await pilot.press("n")
            await until(pilot, lambda: "success" in rows(app, "#collectors-table")["nso"][3], "the run is shown")
            assert "failed" in rows(app, "#collectors-table")["mof"][3]


class BusyConsole(OpscentreApp):
    """A console with a batch every millisecond, each with something in it (a heartbeat)."""

    BATCH_SECONDS = 0.001
    CSS_PATH = str(Path(__file__).resolve().parent.parent / "console" / "app.tcss")

    def flush(self) -> None:
        self.post_state(Heartbeat(epoch="e", seq=1, time=datetime.now(UTC)))
        super().flush()


async def test_a_console_closing_while_batches_arrive_does_not_crash(tmp_path: Path) -> None:
    """Textual stops the app's timers only after removing its widgets: a batch in between must
    not look for the status bar (it did, and a pilot test failed now and then on closing)."""
    async with centre(tmp_path) as c:
        for _ in range(3):
            app = BusyConsole(c.server.url, TOKENS["display"], lang="en")
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda app=app: app.state.snapshots > 0, "snapshot")  # type: ignore[misc]
            assert app.return_code in (0, None), app.return_code


async def test_the_drill_down_follows_a_revision_live_and_shows_the_past_in_time_travel(tmp_path: Path) -> None:
    from console.views.drilldown import DrilldownView

    async def revise(c: Centre) -> None:
        async with httpx.AsyncClient() as http:
            fault = {"endpoint": "/agencies/NSO/*", "kind": "revise", "fraction": 1.0, "count": 1}
            assert (await http.put(f"{c.sim.url}/_admin/faults", json=fault)).status_code < 300
        assert (await c.collector.run("nso")).revised > 0

    async with centre(tmp_path) as c:
        assert (await c.collector.run("nso")).outcome.value == "success"
        before_revision = datetime.now(UTC)
        await asyncio.sleep(0.01)
        await revise(c)
        app = console(c, "display", "en")
        async with app.run_test(size=(100, 40)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0, "snapshot")
            view = app.query_one(DrilldownView)
            app.drilldown(("CPI_YOY", "VN", "nso"))
            await until(pilot, lambda: len(rows(app, "#drilldown-revisions")) == 2, "two revisions")
            period = view.provenance.observation.period if view.provenance else None

            await revise(c)  # a third, on the feed while the view is open
            await until(pilot, lambda: len(rows(app, "#drilldown-revisions")) == 3, "the third revision, live")
            assert [r[0] for r in rows(app, "#drilldown-revisions").values()] == ["1", "2", "3"]

            app.travel(before_revision)  # as known before any revision: the first figure alone
            await until(pilot, lambda: app.state.as_of is not None, "the past is shown")
            await until(pilot, lambda: len(rows(app, "#drilldown-revisions")) == 1, "one figure, as known then")
            assert view.provenance is not None and view.provenance.observation.period == period
            first = next(iter(rows(app, "#drilldown-revisions").values()))
            assert first[0] == "1" and view.history[-1].revision == 1

            app.travel(None)  # back to live: every revision again
            await until(pilot, lambda: len(rows(app, "#drilldown-revisions")) == 3, "live again")


async def test_the_drill_down_shows_the_cross_checks_and_alerts_on_the_figure_shown(tmp_path: Path) -> None:
    from console.views.drilldown import DrilldownView
    from storage import AlertParams, Severity
    from tests.consolekit import CPI_REVISED, seeded_server

    mine, theirs = "1a2b3c4d5e6f" + "0" * 52, "fedcba987654" + "1" * 52
    async with seeded_server(tmp_path / "ops.db", collector=False) as (server, _):
        store = server.store
        await store.alerts.fire(
            "crosscheck.sources", "CPI_YOY/VN/2026-10", Severity.WARNING, "Hai nguồn khác nhau",
            params=AlertParams(source="nso", indicator="CPI_YOY", area="VN", period="2026-10", value=CPI_REVISED,
                               payload_digest=mine, reference_value=3.4, reference_source="nso-sdmx",
                               reference_digest=theirs),
        )  # fmt: skip
        await store.alerts.fire(
            "revision.watch", "CPI_YOY/VN/2026-10/nso", Severity.WARNING, "Điều chỉnh cần xem",
            params=AlertParams(source="nso", indicator="CPI_YOY", area="VN", period="2026-10", value=CPI_REVISED,
                               previous_value=3.22, revision=2, reason="closed"),
        )  # fmt: skip
        await store.alerts.fire(  # another period's: not this figure's
            "crosscheck.sources", "CPI_YOY/VN/2026-09", Severity.WARNING, "Hai nguồn khác nhau",
            params=AlertParams(source="nso", indicator="CPI_YOY", area="VN", period="2026-09", value=3.16,
                               reference_value=3.5, reference_source="nso-sdmx"),
        )  # fmt: skip
        await store.alerts.fire(  # another area's: not this figure's
            "crosscheck.sources", "CPI_YOY/01/2026-10", Severity.WARNING, "Hai nguồn khác nhau",
            params=AlertParams(source="nso", indicator="CPI_YOY", area="01", period="2026-10", value=3.0,
                               reference_value=3.5, reference_source="nso-sdmx"),
        )  # fmt: skip
        app = OpscentreApp(server.url, TOKENS["operator"], lang="en", backoff=(0.2, 1.0))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.state.snapshots > 0 and len(app.state.alerts) == 7, "snapshot")
            view = app.query_one(DrilldownView)
            app.drilldown(("CPI_YOY", "VN", "nso"))
            checks = lambda: text_of(app, "#drilldown-checks")  # noqa: E731
            # The names come with the catalogue's answer, just after the snapshot's alerts.
            named = "Two sources differ: Consumer price index year on year"
            await until(pilot, lambda: "on this figure (3)" in checks() and named in checks(), "the checks")
            text = checks()
            assert (
                "Two sources differ: Consumer price index year on year, Nationwide, October 2026, is 3.27% from" in text
            )
            assert "and 3.40% from" in text
            assert "nso 3.27 · sha256 1a2b3c4d5e6f  ≠  nso-sdmx 3.40 · sha256 fedcba987654" in text
            assert mine not in text  # short: the provenance below has the figure's digest whole
            assert (
                "Revision to watch: Consumer price index year on year, Nationwide, October 2026: 3.22% → 3.27% (revision 2: period closed)"
                in text
            )
            assert (
                "Official figure revised: Consumer price index year on year, Nationwide, October 2026" in text
            )  # the seeded info alert
            assert "2026-09" not in text and "CPI_YOY 01" not in text

            await pilot.press("comma")  # the period before: its own cross-check only
            await until(
                pilot,
                lambda: view.provenance is not None and view.provenance.observation.period == "2026-09",
                "2026-09",
            )
            await until(pilot, lambda: "(1)" in checks(), "September's check")
            assert "September 2026, is 3.16% from nso and 3.50% from nso-sdmx" in checks()
            await store.alerts.resolve("crosscheck.sources", "CPI_YOY/VN/2026-09")  # resolved: gone, live
            await until(pilot, lambda: "No open alert on this figure" in checks(), "the resolved check leaves")
            await pilot.press("l")
            await until(pilot, lambda: "Không có cảnh báo nào đang mở" in checks(), "Vietnamese")


async def test_every_source_name_is_shown_whole_in_the_collectors_table(tmp_path: Path) -> None:
    """Province sources are named province-01, province-04, ...: a column cut at ten characters
    showed them all as "province-0", so an operator could not tell which one failed."""
    from textual.widgets import DataTable

    names = ["province-01", "province-04", "a-rather-long-source-name"]
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as sim:
        sources = [
            SourceSettings(name=n, kind="agency-json", url=f"{sim.url}/agencies/NSO/observations", every="1h")
            for n in names
        ]
        store = await Store.open(tmp_path / "ops.db")
        try:
            async with (
                Collector(store, sources, CollectorSettings(retries=0)) as collector,
                feed_server(tmp_path / "ops.db", store=store, runs=collector) as server,
            ):
                app = OpscentreApp(server.url, TOKENS["operator"], lang="en", backoff=(0.2, 1.0))
                async with app.run_test(size=(120, 30)) as pilot:
                    await until(pilot, lambda: len(app.state.sources) == len(names), "the sources are known")
                    await pilot.press("5")
                    await until(pilot, lambda: set(rows(app, "#collectors-table")) == set(names), "every source")
                    table = app.query_one("#collectors-table", DataTable)
                    width = table.columns[next(k for k in table.columns if k.value == "source")].width
                    assert width >= max(map(len, names)), f"source column {width} wide cuts the names"
        finally:
            await store.close()
