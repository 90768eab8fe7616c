"""Completeness of the reports on every client: the feed's ``reporting`` query (what the wall page's
completeness strip asks once a minute) and ``opscentre reporting``, on a real database.

The process runs on a clock the test moves; January 2010's monthly reports are due by the end of
25 February (the built-in ``[rules] due_days``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from feed.protocol import SERVER_MESSAGE, ReportingData, Result
from rules.after_run import Collector
from storage import Batch, ObservationIn, RunTrigger, Store
from storage.clock import ManualClock, use_clock
from tests.conftest import run_cli as cli
from tests.feedkit import client, feed_server

WATCHING = datetime(2010, 2, 10, 12, 0, tzinfo=UTC)  # the centre's first run: before January is due
ON_TIME = datetime(2010, 2, 20, 9, 0, tzinfo=UTC)
AFTER_DUE = datetime(2010, 2, 27, 9, 0, tzinfo=UTC)
SKIP = ("heartbeat", "welcome", "snapshot", "delta", "alert", "run")


@dataclass
class World:
    path: Path
    store: Store
    clock: ManualClock
    late: str  # the province that reported after the due date
    silent: str  # the province that never reported


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock(WATCHING)
    with use_clock(manual):
        yield manual


@pytest.fixture
async def world(tmp_path: Path, clock: ManualClock) -> AsyncIterator[World]:
    """Retail sales of January 2010: the nation and 61 provinces on time, one late, one silent."""
    path = tmp_path / "ops.db"
    async with await Store.open(path) as store:
        await store.runs.start("nso", RunTrigger.SCHEDULE)  # the centre watches from 10 February
        codes = [a.code for a in await store.reference.areas_in_force(date(2010, 1, 31))]
        assert len(codes) == 63
        *prompt, late, silent = codes

        def batch(areas: list[str], at: datetime) -> Batch:
            records = [ObservationIn(indicator="RETAIL_SALES", area=a, period="2010-01", value=100.0) for a in areas]
            return Batch("nso", records, collected_at=at)

        await store.observations.ingest(batch(["VN", *prompt], ON_TIME))
        clock.advance(AFTER_DUE - WATCHING)
        await store.observations.ingest(batch([late], AFTER_DUE))
        yield World(path, store, clock, late, silent)


async def _ask(server: Any, query: dict[str, Any], role: str = "display") -> dict[str, Any]:
    async with client(server, role, hello={}) as c:
        await c.send({"type": "query", "id": "r1", "query": {"name": "reporting", **query}})
        got = await c.collect_until(lambda m: m["type"] in ("result", "error") and m.get("id") == "r1", timeout=30)
        return got[-1]


async def _answer(server: Any, query: dict[str, Any]) -> ReportingData:
    async with client(server, "display", hello={}) as c:
        await c.send({"type": "query", "id": "r1", "query": {"name": "reporting", **query}})
        msg = await c.until("result", timeout=30, skip=SKIP)  # feedkit validated it against the schema
    result = SERVER_MESSAGE.validate_python(msg)
    assert isinstance(result, Result) and isinstance(result.data, ReportingData)
    return result.data


async def test_a_client_gets_completeness_with_who_is_late_and_who_is_missing(world: World) -> None:
    async with feed_server(world.path, store=world.store) as server:
        data = await _answer(server, {"indicator": "RETAIL_SALES"})  # its newest period due: January
        [row] = data.rows
        assert (row.indicator, row.period, row.due) == ("RETAIL_SALES", "2010-01", date(2010, 2, 25))
        # Counted in provinces and cities, as the wall page words it (63 units in force in 2010);
        # the nation's own figure came in on time (neither missing nor late).
        assert (row.expected, row.received, row.on_time, row.late) == (63, 62, 61, 1)
        assert row.missing == [world.silent] and row.late_areas == [world.late] and not row.not_due

        # What the wall page asks: every indicator with a calendar, live counters left out.
        every = await _answer(server, {})
        assert row in every.rows
        assert not [r for r in every.rows if r.indicator.startswith("PORTAL_")]

        # The owner's indicators only (its predecessor's name too: GSO became NSO).
        owned = await _answer(server, {"agency": "NSO", "period": "2010-01"})
        assert [r.indicator for r in owned.rows if r.indicator == "RETAIL_SALES"] == ["RETAIL_SALES"]
        assert all(r.period == "2010-01" for r in owned.rows)

        # Asked a year on, a past period is answered as it stands, not the newest one due.
        world.clock.advance(timedelta(days=400))
        [later] = (await _answer(server, {"indicator": "RETAIL_SALES", "period": "2010-01"})).rows
        assert later.missing == [world.silent]


async def test_a_period_not_yet_due_owes_nothing(tmp_path: Path, clock: ManualClock) -> None:
    async with await Store.open(tmp_path / "ops.db") as store:
        await store.runs.start("nso", RunTrigger.SCHEDULE)
        await store.observations.ingest(
            Batch("nso", [ObservationIn(indicator="RETAIL_SALES", area="VN", period="2010-01", value=1.0)])
        )
        async with feed_server(tmp_path / "ops.db", store=store) as server:
            [row] = (await _answer(server, {"indicator": "RETAIL_SALES", "period": "2010-01"})).rows
    assert row.not_due and row.missing == [] and row.received == 0 and row.expected == 63


async def test_the_served_rules_and_province_sources_count_as_the_late_report_alerts_do(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A server that runs collectors answers by their ``[rules]`` and counts a province's report only
    from the province's own system (a national source's figure of it is not its report)."""
    sources = [
        SourceSettings(name="nso", kind="agency-json", agency="NSO", url="http://127.0.0.1:9/nso", every="1h"),
        SourceSettings(name="province-01", kind="agency-json", url="http://127.0.0.1:9/01", every="1h"),
    ]
    async with await Store.open(tmp_path / "ops.db") as store:
        await store.runs.start("nso", RunTrigger.SCHEDULE)
        first, second = [a.code for a in await store.reference.areas_in_force(date(2010, 1, 31))][:2]

        def figure(area: str) -> ObservationIn:
            return ObservationIn(indicator="RETAIL_SALES", area=area, period="2010-01", value=1.0)

        await store.observations.ingest(Batch("nso", [figure("VN"), figure(second)], collected_at=ON_TIME))
        await store.observations.ingest(Batch("province-01", [figure(first)], collected_at=ON_TIME))
        clock.advance(AFTER_DUE - WATCHING)
        async with Collector(store, sources, CollectorSettings(retries=0)) as runs:
            async with feed_server(tmp_path / "ops.db", store=store, runs=runs) as server:
                [row] = (await _answer(server, {"indicator": "RETAIL_SALES"})).rows
                assert second in row.missing and first not in row.missing and "VN" not in row.missing
                assert row.received == 1  # the first province's own report (the nation's is not counted in)
                runs.rules = RulesSettings(due_days={"M": 40})  # what cli/runtime.py sets from [rules]
                [row] = (await _answer(server, {"indicator": "RETAIL_SALES", "period": "2010-01"})).rows
                assert row.due == date(2010, 3, 12) and row.not_due and row.missing == []


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"indicator": "NO_SUCH"}, "unknown indicator"),
        ({"agency": "NO_SUCH"}, "unknown agency"),
        ({"period": "2010-13"}, "not a period"),
        ({"period": "last month"}, "not a period"),
        ({"indicator": "RETAIL_SALES", "period": "2010-Q1"}, "frequency"),
        ({"indicator": "PORTAL_VISITS"}, "no reporting calendar"),
    ],
)
async def test_bad_filters_are_refused_as_invalid(world: World, query: dict[str, Any], says: str) -> None:
    async with feed_server(world.path, store=world.store) as server:
        msg = await _ask(server, query)
    assert msg["type"] == "error" and msg["code"] == "invalid" and msg["id"] == "r1", msg
    assert says in msg["message"]


async def test_an_unknown_field_is_a_bad_message(world: World) -> None:
    async with feed_server(world.path, store=world.store) as server:
        msg = await _ask(server, {"province": "04"})
    assert msg["type"] == "error" and msg["code"] == "bad_message"


# --- the command line, on the same database -----------------------------------------------------------


NATIONAL_ONLY = """
[[sources]]
name = "nso"
kind = "agency-json"
agency = "NSO"
url = "http://127.0.0.1:9/nso"
every = "1h"
"""


async def test_the_cli_prints_completeness_in_one_language(world: World) -> None:
    await world.store.close()  # the CLI opens the file itself
    # A centre that collects no province's own system: the statistics office's figure of a province
    # is its report (the built-in demo configuration polls each province's system instead).
    config = world.path.parent / "opscentre.toml"
    config.write_text(NATIONAL_ONLY, encoding="utf-8")

    def run_cli(*args: str) -> Any:
        return cli(*args, "--config", str(config))

    vi = run_cli("reporting", "--db", str(world.path), "--indicator", "RETAIL_SALES", "--period", "2010-01")
    assert vi.returncode == 0, vi.stderr
    assert "62/63 tỉnh, thành phố" in vi.stdout and "toàn quốc" in vi.stdout
    assert "đúng hạn" in vi.stdout and "trễ hạn" in vi.stdout and world.silent in vi.stdout
    assert "provinces" not in vi.stdout and "on time" not in vi.stdout

    en = run_cli("reporting", "--db", str(world.path), "--period", "2010-01", "--lang", "en")
    assert en.returncode == 0, en.stderr
    assert "62/63 provinces" in en.stdout and "on time" in en.stdout and "RETAIL_SALES" in en.stdout
    assert "tỉnh, thành phố" not in en.stdout and "đúng hạn" not in en.stdout

    as_json = run_cli(
        "reporting", "--db", str(world.path), "--indicator", "RETAIL_SALES", "--period", "2010-01", "--json"
    )
    assert as_json.returncode == 0, as_json.stderr
    [row] = json.loads(as_json.stdout)
    assert row["missing"] == [world.silent] and row["late_areas"] == [world.late] and row["received"] == 62

    for bad, says in (
        (("--indicator", "NO_SUCH"), "unknown indicator"),
        (("--agency", "NO_SUCH"), "unknown agency"),
        (("--period", "2010-13"), "not a period"),
    ):
        refused = run_cli("reporting", "--db", str(world.path), *bad)
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr


# --- the reporter's clock --------------------------------------------------------------------------------


async def test_each_report_is_timed_by_the_reporters_clock_where_the_source_gives_one(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A report's time is when the reporter published it (the upstream's publication time of the
    figure's first revision), else when the centre first collected it; a publication time later than
    the collection is not believed. The feed and the command line say which clock each report is on."""
    due = datetime(2010, 2, 26, tzinfo=UTC)  # January's monthly reports are late after the end of 25 February
    path = tmp_path / "ops.db"
    async with await Store.open(path) as store:
        await store.runs.start("nso", RunTrigger.SCHEDULE)  # the centre watches from 10 February
        codes = [a.code for a in await store.reference.areas_in_force(date(2010, 1, 31))]
        prompt, early, late, untimed, ahead, near = codes[:-5], *codes[-5:]

        def figure(area: str, published: datetime | None = None) -> ObservationIn:
            return ObservationIn(
                indicator="RETAIL_SALES", area=area, period="2010-01", value=1.0, published_at=published
            )

        await store.observations.ingest(Batch("nso", [figure(a) for a in prompt], collected_at=ON_TIME))
        # Collected on time, but with a publication time after that: the upstream's clock runs ahead.
        await store.observations.ingest(Batch("nso", [figure(near, AFTER_DUE)], collected_at=ON_TIME))
        clock.advance(AFTER_DUE - WATCHING)
        await store.observations.ingest(
            Batch(
                "nso",
                [
                    figure("VN", ON_TIME),  # the nation's: published on time, collected late
                    figure(early, due - timedelta(hours=1)),  # published on time, collected late
                    figure(late, due + timedelta(hours=1)),  # published late
                    figure(untimed),  # no publication time: collected late
                    figure(ahead, AFTER_DUE + timedelta(days=1)),  # "published" after it was collected
                ],
                collected_at=AFTER_DUE,
            )
        )
        # A second source of the nation's figure, without a publication time: the earlier report counts.
        await store.observations.ingest(Batch("nso-sdmx", [figure("VN")], collected_at=AFTER_DUE))
        async with feed_server(path, store=store) as server:
            [row] = (await _answer(server, {"indicator": "RETAIL_SALES", "period": "2010-01"})).rows

    assert (row.expected, row.received, row.on_time, row.late) == (63, 63, 60, 3)
    assert row.late_areas == [late, untimed, ahead] and row.missing == []
    times = {r.area: (r.at, r.clock) for r in row.reports}
    assert len(times) == 64 and row.reports[0].area == "VN"  # in the order of the parties expected
    assert times["VN"] == (ON_TIME, "published")
    assert times[early] == (due - timedelta(hours=1), "published")
    assert times[late] == (due + timedelta(hours=1), "published")
    assert times[untimed] == (AFTER_DUE, "collected")
    assert times[ahead] == (AFTER_DUE, "collected")
    assert times[near] == (ON_TIME, "collected")
    assert times[prompt[0]] == (ON_TIME, "collected")

    # `opscentre reporting` gives the same rows, and says when each late report came in and by whose clock.
    config = tmp_path / "opscentre.toml"
    config.write_text(NATIONAL_ONLY, encoding="utf-8")
    args = (
        "reporting",
        "--config",
        str(config),
        "--db",
        str(path),
        "--indicator",
        "RETAIL_SALES",
        "--period",
        "2010-01",
    )
    as_json = cli(*args, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [row.model_dump(mode="json")]
    vi = cli(*args)
    assert vi.returncode == 0, vi.stderr
    text = vi.stdout
    assert (
        f"RETAIL_SALES 2010-01 trễ hạn: {late} Tỉnh Hậu Giang (công bố 2010-02-26 01:00), "
        f"{untimed} Tỉnh Sóc Trăng (trung tâm nhận 2010-02-27 09:00), {ahead} Tỉnh Bạc Liêu (trung tâm nhận"
    ) in text
    assert "giờ công bố của nơi báo cáo (3 báo cáo)" in text and "giờ trung tâm nhận được" in text
    assert "(61 báo cáo)" in text
    en = cli(*args, "--lang", "en")
    assert en.returncode == 0, en.stderr
    text = en.stdout
    assert f"RETAIL_SALES 2010-01 late: {late} Tỉnh Hậu Giang (published 2010-02-26 01:00), {untimed}" in text
    assert "Sóc Trăng (collected 2010-02-27 09:00)" in text
    assert "the reporter's own publication time (3 reports)" in text


def test_the_feed_names_the_clocks_the_computation_knows() -> None:
    """The protocol restates the clocks (the console may not import collectors): the same two."""
    from typing import get_args

    from feed.protocol import ReportTime
    from rules.reporting import ReportClock

    assert get_args(ReportTime.model_fields["clock"].annotation) == get_args(ReportClock)
