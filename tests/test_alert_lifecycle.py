"""The alert life cycle, on a clock the test controls: pending for its ``for`` → firing →
acknowledged → resolved; hysteresis; one alert per (rule, subject); inhibition (a source that is down
mutes its own late-report and stale alerts); silences with an expiry, set by an admin over the feed
and audited. Every transition is persisted and is an event a feed client receives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage import AlertParams, AlertState, EventType, Severity, Store
from storage.clock import ManualClock, use_clock, utcnow
from storage.models import SilenceMatch

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LATE, FAILING = "report.late", "source.failing"


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with use_clock(ManualClock(T0)) as c:
        assert isinstance(c, ManualClock)
        yield c


@pytest.fixture
async def db(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "ops.db") as store:
        yield store


async def _alert_events(store: Store, rule: str, subject: str) -> list[dict[str, Any]]:
    events = [e for e in await store.events_after(0, limit=100_000) if e.type is EventType.ALERT]
    return [e.payload for e in events if e.payload["rule"] == rule and e.payload["subject"] == subject]


def test_the_clock_is_the_one_the_test_sets(clock: ManualClock) -> None:
    assert utcnow() == T0
    clock.advance(timedelta(minutes=3))
    assert utcnow() == T0 + timedelta(minutes=3)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


async def test_an_alert_is_pending_for_its_for_then_fires_on_the_timer(db: Store, clock: ManualClock) -> None:
    held = timedelta(minutes=5)
    first = await db.fire_alert(LATE, "01:2026-10", Severity.WARNING, "Tỉnh 01 nộp muộn", for_=held)
    assert first is not None and first.state is AlertState.PENDING and first.fired_at is None
    clock.advance(timedelta(minutes=2))
    # the condition still holds, but not for long enough: nothing visible changes
    assert await db.fire_alert(LATE, "01:2026-10", Severity.WARNING, "Tỉnh 01 nộp muộn", for_=held) is None
    assert await db.tick_alerts() == []
    clock.advance(timedelta(minutes=3))
    fired = await db.tick_alerts()
    assert [(a.id, a.state) for a in fired] == [(first.id, AlertState.FIRING)]
    assert fired[0].fired_at == T0 + held
    states = [e["state"] for e in await _alert_events(db, LATE, "01:2026-10")]
    assert states == ["pending", "firing"]
    assert [t[1] for t in await db.alert_transitions(first.id)] == [AlertState.PENDING, AlertState.FIRING]


async def test_a_pending_alert_whose_condition_clears_never_fires(db: Store, clock: ManualClock) -> None:
    a = await db.fire_alert(LATE, "02", Severity.WARNING, "m", for_=timedelta(minutes=5))
    assert a is not None
    resolved = await db.resolve_alert(LATE, "02")
    assert resolved is not None and resolved.state is AlertState.RESOLVED and resolved.fired_at is None
    clock.advance(timedelta(minutes=10))
    assert await db.tick_alerts() == []
    assert (await db.alerts(open_only=False))[0].fired_at is None


async def test_flapping_input_does_not_flap_the_alert(db: Store, clock: ManualClock) -> None:
    keep = timedelta(minutes=10)
    a = await db.fire_alert(FAILING, "mof", Severity.WARNING, "Nguồn mof lỗi", keep_firing_for=keep)
    assert a is not None and a.state is AlertState.FIRING
    for _ in range(5):  # bad, good, bad, good ... every two minutes
        clock.advance(timedelta(minutes=1))
        assert await db.resolve_alert(FAILING, "mof") is None
        assert await db.tick_alerts() == []
        clock.advance(timedelta(minutes=1))
        assert await db.fire_alert(FAILING, "mof", Severity.WARNING, "Nguồn mof lỗi", keep_firing_for=keep) is None
    # one alert, opened once, never resolved, and one event only
    assert [(x.id, x.state) for x in await db.alerts(open_only=False)] == [(a.id, AlertState.FIRING)]
    assert [e["state"] for e in await _alert_events(db, FAILING, "mof")] == ["firing"]
    # then it stays clear: resolved once it has been clear for keep_firing_for, on the timer
    clock.advance(timedelta(minutes=1))
    assert await db.resolve_alert(FAILING, "mof") is None
    clock.advance(keep - timedelta(seconds=1))
    assert await db.tick_alerts() == []
    clock.advance(timedelta(seconds=1))
    done = await db.tick_alerts()
    assert [(x.id, x.state) for x in done] == [(a.id, AlertState.RESOLVED)]
    assert [e["state"] for e in await _alert_events(db, FAILING, "mof")] == ["firing", "resolved"]
    # resolving it again (the rule still sees the condition clear) writes nothing more
    assert await db.resolve_alert(FAILING, "mof") is None


async def test_one_alert_per_rule_and_subject_through_its_life(db: Store, clock: ManualClock) -> None:
    a = await db.fire_alert(FAILING, "mof", Severity.WARNING, "lỗi 1 lần")
    b = await db.fire_alert(FAILING, "mof", Severity.CRITICAL, "ngắt mạch")
    assert a is not None and b is not None and a.id == b.id and b.severity is Severity.CRITICAL
    clock.advance(timedelta(minutes=1))
    acked = await db.acknowledge_alert(a.id, "operator-1", "operator", "Đã liên hệ Bộ Tài chính")
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_at) == (
        AlertState.ACKNOWLEDGED,
        "operator-1",
        T0 + timedelta(minutes=1),
    )
    # the condition goes on: the same alert, still acknowledged
    again = await db.fire_alert(FAILING, "mof", Severity.CRITICAL, "ngắt mạch sau 3 lần")
    assert again is not None and again.id == a.id and again.state is AlertState.ACKNOWLEDGED
    await db.resolve_alert(FAILING, "mof")
    later = await db.fire_alert(FAILING, "mof", Severity.WARNING, "lỗi 1 lần")
    assert later is not None and later.id != a.id and later.state is AlertState.FIRING
    transitions = await db.alert_transitions(a.id)
    assert [(t[1], t[3]) for t in transitions] == [
        (AlertState.FIRING, None),
        (AlertState.ACKNOWLEDGED, "operator-1"),
        (AlertState.RESOLVED, None),
    ]


async def test_a_source_that_is_down_mutes_its_own_late_reports_and_stale_alerts(db: Store, clock: ManualClock) -> None:
    late01 = await db.fire_alert(
        LATE, "01:2026-10", Severity.WARNING, "Tỉnh 01 nộp muộn", params=AlertParams(source="p01", area="01")
    )
    late02 = await db.fire_alert(
        LATE, "02:2026-10", Severity.WARNING, "Tỉnh 02 nộp muộn", params=AlertParams(source="p02", area="02")
    )
    assert late01 is not None and late02 is not None and late01.inhibited_by is None
    down = await db.fire_alert(
        FAILING, "p01", Severity.CRITICAL, "Nguồn p01 ngắt mạch", params=AlertParams(source="p01")
    )
    assert down is not None
    by_id = {a.id: a for a in await db.alerts()}
    assert by_id[late01.id].inhibited_by == down.id  # its own late report: muted
    assert by_id[late02.id].inhibited_by is None  # another province's: not
    stale = await db.fire_alert("data.stale", "p01", Severity.WARNING, "p01 cũ", params=AlertParams(source="p01"))
    assert stale is not None and stale.inhibited_by == down.id  # muted from its start
    # the mute is an event clients see
    muted = await _alert_events(db, LATE, "01:2026-10")
    assert [e.get("inhibited_by") for e in muted] == [None, down.id]
    # the source comes back: its late reports speak again
    await db.resolve_alert(FAILING, "p01")
    by_id = {a.id: a for a in await db.alerts()}
    assert by_id[late01.id].inhibited_by is None and by_id[stale.id].inhibited_by is None
