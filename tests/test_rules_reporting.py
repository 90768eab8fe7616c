"""The reporting calendar, completeness and the late-report alert, on the real simulator.

The whole process runs on a clock the test moves (the simulator's and the store's): early 2010,
when the statistics office's history begins, so 34 province pulls stay small.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules import reporting
from rules.after_run import Collector
from storage import Frequency, Period, Store
from storage.clock import use_clock
from tests.simulator_fixtures import CURRENT, Clock, running

START = datetime(2010, 2, 10, 12, 0, tzinfo=UTC)  # January 2010's monthly figures come out Feb 18-22
RULES = RulesSettings()


def provinces(base: str) -> list[SourceSettings]:
    nso = SourceSettings(name="nso", kind="agency-json", url=f"{base}/agencies/NSO/observations", every="1m")
    return [nso] + [
        SourceSettings(name=f"province-{c}", kind="agency-json", url=f"{base}/provinces/{c}/observations", every="1m")
        for c in CURRENT
    ]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Store, Collector, Clock]]:
    clock = Clock(START)
    with use_clock(clock):
        async with running(clock) as (sim, _):
            store = await Store.open(tmp_path / "ops.db")
            try:
                async with Collector(store, provinces(sim.url), CollectorSettings(retries=0)) as collector:
                    yield store, collector, clock
            finally:
                await store.close()


def test_the_calendar_gives_each_period_its_due_date() -> None:
    jan = Period.parse("2010-01")
    assert reporting.due_moment(jan, 25) == datetime(2010, 2, 26, tzinfo=UTC)  # the end of 25 February
    assert reporting.last_due_period(Frequency.MONTHLY, 25, datetime(2010, 2, 25, 23, tzinfo=UTC)) == Period.parse(
        "2009-12"
    )
    assert reporting.last_due_period(Frequency.MONTHLY, 25, datetime(2010, 2, 26, tzinfo=UTC)) == jan
    assert reporting.last_due_period(Frequency.QUARTERLY, 35, datetime(2010, 5, 6, tzinfo=UTC)) == Period.parse(
        "2010-Q1"
    )


async def test_a_province_that_stops_reporting_is_late_after_its_due_date_and_completeness_drops(
    world: tuple[Store, Collector, Clock],
) -> None:
    store, collector, clock = world
    names = sorted(collector.sources)
    await collector.run_many(names)  # the centre starts watching before January's reports are out
    clock.advance(days=13)  # 23 February: every province has published January
    silent = "province-04"
    await collector.run_many([n for n in names if n != silent])
    retail = await store.reference.indicator("RETAIL_SALES")
    assert retail is not None
    before_due = await reporting.completeness(
        store, retail, Period.parse("2010-01"), RULES, clock(), started=await reporting.watch_start(store)
    )
    assert before_due.not_due and not before_due.missing and not before_due.late
    owed = await reporting.check_late(store, RULES, clock())
    assert not [o for o in owed if o.area is not None], "no province owes anything before a due date"

    clock.advance(days=4)  # 27 February: January was due by the end of the 25th
    owed = await reporting.check_late(store, RULES, clock())
    [row] = await reporting.reporting_table(store, RULES, clock(), indicators=[retail])
    assert row.period == "2010-01" and row.due == date(2010, 2, 25)
    assert len(row.expected) == 64  # the nation and the 63 units in force in January 2010
    assert row.missing == ["04"] and row.late == []
    assert row.received == 63

    alerts = {a.subject: a for a in await store.alerts.listed() if a.rule == reporting.REPORT_LATE}
    assert "04" in alerts, [o.party for o in owed]
    late = alerts["04"]
    assert late.params.area == "04" and late.params.period == "2010-01" and late.params.due == "2010-02-25"
    assert late.message.startswith("Tỉnh Cao Bằng chưa gửi báo cáo") and "(hạn 25/02/2010)" in late.message
    assert late.message_en is not None and "(due 25 Feb 2010)" in late.message_en
    assert all(a.params.area in (None, "04") for a in alerts.values())  # nobody else is named

    # Its report comes in: the alert resolves. The centre collected it after the due date, but the
    # province had published it on time (its own clock, the agency API's publication time), so it
    # is on time: the centre's late poll is not the province's fault.
    clock.advance(days=1)
    await collector.run(silent)
    await reporting.check_late(store, RULES, clock())
    assert "04" not in {a.subject for a in await store.alerts.listed() if a.rule == reporting.REPORT_LATE}
    [row] = await reporting.reporting_table(store, RULES, clock(), indicators=[retail], period="2010-01")
    assert row.late == [] and row.missing == [] and row.received == 64
    report = row.reports["04"]
    assert report.clock == "published" and report.at < reporting.due_moment(Period.parse("2010-01"), 25)
