"""The alert life cycle, on a clock the test controls: pending for its ``for`` → firing →
acknowledged → resolved; hysteresis; one alert per (rule, subject); inhibition (a source that is down
mutes its own late-report and stale alerts); silences with an expiry, set by an admin over the feed
and audited. Every transition is persisted and is an event a feed client receives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.evaluation import alert_timer
from storage import AlertParams, AlertState, EventType, Severity, Store
from storage.clock import ManualClock, use_clock, utcnow
from storage.models import SilenceMatch
from tests.conftest import run_cli
from tests.feedkit import TOKENS, Client, client, feed_server

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LATE, FAILING = "report.late", "source.failing"
BOTH_ENGINES = True  # the store runs each test on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with use_clock(ManualClock(T0)) as c:
        assert isinstance(c, ManualClock)
        yield c


@pytest.fixture
async def db(store_target: str, clock: ManualClock) -> AsyncIterator[Store]:
    async with await Store.open(store_target) as store:
        yield store


async def _alert_events(store: Store, rule: str, subject: str) -> list[dict[str, Any]]:
    events = [e for e in await store.events.after(0, limit=100_000) if e.type is EventType.ALERT]
    return [e.payload for e in events if e.payload["rule"] == rule and e.payload["subject"] == subject]


def test_the_clock_is_the_one_the_test_sets(clock: ManualClock) -> None:
    assert utcnow() == T0
    clock.advance(timedelta(minutes=3))
    assert utcnow() == T0 + timedelta(minutes=3)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


async def test_an_alert_is_pending_for_its_for_then_fires_on_the_timer(db: Store, clock: ManualClock) -> None:
    held = timedelta(minutes=5)
    first = await db.alerts.fire(LATE, "01:2026-10", Severity.WARNING, "Tỉnh 01 nộp muộn", for_=held)
    assert first is not None and first.state is AlertState.PENDING and first.fired_at is None
    clock.advance(timedelta(minutes=2))
    # the condition still holds, but not for long enough: nothing visible changes
    assert await db.alerts.fire(LATE, "01:2026-10", Severity.WARNING, "Tỉnh 01 nộp muộn", for_=held) is None
    assert await db.alerts.tick() == []
    clock.advance(timedelta(minutes=3))
    fired = await db.alerts.tick()
    assert [(a.id, a.state) for a in fired] == [(first.id, AlertState.FIRING)]
    assert fired[0].fired_at == T0 + held
    states = [e["state"] for e in await _alert_events(db, LATE, "01:2026-10")]
    assert states == ["pending", "firing"]
    assert [t[1] for t in await db.alerts.transitions(first.id)] == [AlertState.PENDING, AlertState.FIRING]


async def test_a_pending_alert_whose_condition_clears_never_fires(db: Store, clock: ManualClock) -> None:
    a = await db.alerts.fire(LATE, "02", Severity.WARNING, "m", for_=timedelta(minutes=5))
    assert a is not None
    resolved = await db.alerts.resolve(LATE, "02")
    assert resolved is not None and resolved.state is AlertState.RESOLVED and resolved.fired_at is None
    clock.advance(timedelta(minutes=10))
    assert await db.alerts.tick() == []
    assert (await db.alerts.listed(open_only=False))[0].fired_at is None


async def test_flapping_input_does_not_flap_the_alert(db: Store, clock: ManualClock) -> None:
    keep = timedelta(minutes=10)
    a = await db.alerts.fire(FAILING, "mof", Severity.WARNING, "Nguồn mof lỗi", keep_firing_for=keep)
    assert a is not None and a.state is AlertState.FIRING
    for _ in range(5):  # bad, good, bad, good ... every two minutes
        clock.advance(timedelta(minutes=1))
        assert await db.alerts.resolve(FAILING, "mof") is None
        assert await db.alerts.tick() == []
        clock.advance(timedelta(minutes=1))
        assert await db.alerts.fire(FAILING, "mof", Severity.WARNING, "Nguồn mof lỗi", keep_firing_for=keep) is None
    # one alert, opened once, never resolved, and one event only
    assert [(x.id, x.state) for x in await db.alerts.listed(open_only=False)] == [(a.id, AlertState.FIRING)]
    assert [e["state"] for e in await _alert_events(db, FAILING, "mof")] == ["firing"]
    # then it stays clear: resolved once it has been clear for keep_firing_for, on the timer
    clock.advance(timedelta(minutes=1))
    assert await db.alerts.resolve(FAILING, "mof") is None
    clock.advance(keep - timedelta(seconds=1))
    assert await db.alerts.tick() == []
    clock.advance(timedelta(seconds=1))
    done = await db.alerts.tick()
    assert [(x.id, x.state) for x in done] == [(a.id, AlertState.RESOLVED)]
    assert [e["state"] for e in await _alert_events(db, FAILING, "mof")] == ["firing", "resolved"]
    # resolving it again (the rule still sees the condition clear) writes nothing more
    assert await db.alerts.resolve(FAILING, "mof") is None


async def test_one_alert_per_rule_and_subject_through_its_life(db: Store, clock: ManualClock) -> None:
    a = await db.alerts.fire(FAILING, "mof", Severity.WARNING, "lỗi 1 lần")
    b = await db.alerts.fire(FAILING, "mof", Severity.CRITICAL, "ngắt mạch")
    assert a is not None and b is not None and a.id == b.id and b.severity is Severity.CRITICAL
    clock.advance(timedelta(minutes=1))
    acked = await db.alerts.acknowledge(a.id, "operator-1", "operator", "Đã liên hệ Bộ Tài chính")
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_at) == (
        AlertState.ACKNOWLEDGED,
        "operator-1",
        T0 + timedelta(minutes=1),
    )
    # the condition goes on: the same alert, still acknowledged
    again = await db.alerts.fire(FAILING, "mof", Severity.CRITICAL, "ngắt mạch sau 3 lần")
    assert again is not None and again.id == a.id and again.state is AlertState.ACKNOWLEDGED
    await db.alerts.resolve(FAILING, "mof")
    later = await db.alerts.fire(FAILING, "mof", Severity.WARNING, "lỗi 1 lần")
    assert later is not None and later.id != a.id and later.state is AlertState.FIRING
    transitions = await db.alerts.transitions(a.id)
    assert [(t[1], t[3]) for t in transitions] == [
        (AlertState.FIRING, None),
        (AlertState.ACKNOWLEDGED, "operator-1"),
        (AlertState.RESOLVED, None),
    ]


async def test_an_alert_fired_again_is_worded_from_its_params_and_names_as_they_are_now(db: Store) -> None:
    """While its condition holds a rule fires its alert again on every pass, mostly unchanged: the
    store keeps its texts (wording them cost more than the rest of the pass), but words it again
    once its params or the catalogue's names change, and after it resolved."""
    rule, subject = "crosscheck.sources", "RETAIL_SALES/01/2024-05"
    params = AlertParams(
        indicator="RETAIL_SALES", area="01", period="2024-05", source="a", value=100.0,
        reference_value=120.0, reference_source="b",
    )  # fmt: skip
    first = await db.alerts.fire(rule, subject, Severity.WARNING, params=params)
    assert first is not None and "là 100,0 nghìn tỷ đồng theo a" in first.message
    assert first.message_en is not None and "is 100.0 trillion VND from a" in first.message_en
    assert await db.alerts.fire(rule, subject, Severity.WARNING, params=params) is None  # nothing changed
    moved = params.model_copy(update={"value": 101.5})
    second = await db.alerts.fire(rule, subject, Severity.WARNING, params=moved)
    assert second is not None and "là 101,5 nghìn tỷ đồng theo a" in second.message
    [retail] = [i for i in await db.reference.indicators() if i.code == "RETAIL_SALES"]
    await db.reference.upsert_indicators([retail.model_copy(update={"name_vi": "Bán lẻ (tên mới)"})])
    renamed = await db.alerts.fire(rule, subject, Severity.WARNING, params=moved)
    assert renamed is not None and renamed.message.startswith("Hai nguồn khác nhau: Bán lẻ (tên mới), ")
    await db.alerts.resolve(rule, subject)
    await db.reference.upsert_indicators([retail])
    reopened = await db.alerts.fire(rule, subject, Severity.WARNING, params=moved)
    assert reopened is not None and reopened.id != first.id and retail.name_vi in reopened.message


async def test_a_source_that_is_down_mutes_its_own_late_reports_and_stale_alerts(db: Store, clock: ManualClock) -> None:
    late01 = await db.alerts.fire(
        LATE, "01:2026-10", Severity.WARNING, "Tỉnh 01 nộp muộn", params=AlertParams(source="p01", area="01")
    )
    late02 = await db.alerts.fire(
        LATE, "02:2026-10", Severity.WARNING, "Tỉnh 02 nộp muộn", params=AlertParams(source="p02", area="02")
    )
    assert late01 is not None and late02 is not None and late01.inhibited_by is None
    down = await db.alerts.fire(
        FAILING, "p01", Severity.CRITICAL, "Nguồn p01 ngắt mạch", params=AlertParams(source="p01")
    )
    assert down is not None
    by_id = {a.id: a for a in await db.alerts.listed()}
    assert by_id[late01.id].inhibited_by == down.id  # its own late report: muted
    assert by_id[late02.id].inhibited_by is None  # another province's: not
    stale = await db.alerts.fire("data.stale", "p01", Severity.WARNING, "p01 cũ", params=AlertParams(source="p01"))
    assert stale is not None and stale.inhibited_by == down.id  # muted from its start
    # the mute is an event clients see
    muted = await _alert_events(db, LATE, "01:2026-10")
    assert [e.get("inhibited_by") for e in muted] == [None, down.id]
    # a ministry's source down mutes that ministry's own late report, not another's
    mof_late = await db.alerts.fire(
        LATE, "MOF", Severity.WARNING, "Bộ Tài chính nộp muộn", params=AlertParams(agency="MOF")
    )
    moit_late = await db.alerts.fire(
        LATE, "MOIT", Severity.WARNING, "Bộ Công Thương", params=AlertParams(agency="MOIT")
    )
    mof_down = await db.alerts.fire(
        FAILING, "mof", Severity.CRITICAL, "Nguồn mof", params=AlertParams(source="mof", agency="MOF")
    )
    assert mof_late is not None and moit_late is not None and mof_down is not None
    by_id = {a.id: a for a in await db.alerts.listed()}
    assert (by_id[mof_late.id].inhibited_by, by_id[moit_late.id].inhibited_by) == (mof_down.id, None)
    # the source comes back: its late reports speak again
    await db.alerts.resolve(FAILING, "p01")
    by_id = {a.id: a for a in await db.alerts.listed()}
    assert by_id[late01.id].inhibited_by is None and by_id[stale.id].inhibited_by is None


# --- over the feed: acknowledgements and silences reach every client, and are audited ----------------------


def _command(name: str, key: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "command",
        "id": f"c-{key}",
        "idempotency_key": f"key-{key}-0000",
        "command": {"name": name, **fields},
    }


async def _result_or_error(c: Client, request_id: str) -> dict[str, Any]:
    while True:
        msg = await c.next()
        if msg["type"] in ("result", "error") and msg.get("id") == request_id:
            return msg


async def _alert_message(c: Client, alert_id: int, predicate: Any) -> dict[str, Any]:
    while True:
        msg = await c.next()
        if msg["type"] == "alert" and msg["alert"]["id"] == alert_id and predicate(msg["alert"]):
            return msg["alert"]


async def test_an_acknowledgement_over_the_feed_is_recorded_and_reaches_every_client(
    db: Store, clock: ManualClock, tmp_path: Path
) -> None:
    alert = await db.alerts.fire(FAILING, "mof", Severity.WARNING, "Nguồn mof lỗi", params=AlertParams(source="mof"))
    assert alert is not None
    async with feed_server(tmp_path / "ops.db", store=db) as server:
        async with (
            client(server, "display", hello={"filter": {}}) as wall,
            client(server, "operator", hello={"filter": {}}) as op,
        ):
            await wall.until("snapshot")
            await op.until("snapshot")
            clock.advance(timedelta(minutes=4))
            await op.send(_command("acknowledge", "ack", alert_id=alert.id, note="Đã liên hệ Bộ Tài chính"))
            answer = await _result_or_error(op, "c-ack")
            seen = await _alert_message(wall, alert.id, lambda a: a["state"] == "acknowledged")
    assert answer["data"]["alert"]["acknowledged_by"] == "operator-user"
    assert seen["acknowledged_by"] == "operator-user" and seen["ack_note"] == "Đã liên hệ Bộ Tài chính"
    assert seen["acknowledged_at"] == "2026-11-23T08:04:00Z"
    entries = [e for e in await db.audit.entries() if e.action == "alert.acknowledge"]
    assert [(e.actor, e.target, e.at) for e in entries] == [
        ("operator-user", f"alert:{alert.id}", T0 + timedelta(minutes=4))
    ]


async def test_a_silence_set_over_the_feed_mutes_until_it_expires_and_is_audited(
    db: Store, clock: ManualClock, tmp_path: Path
) -> None:
    params = AlertParams(source="p01", area="01")
    late = await db.alerts.fire(LATE, "01:2026-10", Severity.WARNING, "Tỉnh 01 nộp muộn", params=params)
    other = await db.alerts.fire(
        LATE, "02:2026-10", Severity.WARNING, "Tỉnh 02 nộp muộn", params=AlertParams(area="02")
    )
    assert late is not None and other is not None
    async with feed_server(tmp_path / "ops.db", store=db) as server:
        async with (
            client(server, "admin", hello={"filter": {}}) as admin,
            client(server, "display", hello={"filter": {}}) as wall,
        ):
            await admin.until("snapshot")
            await wall.until("snapshot")
            match = {"rule": LATE, "area": "01"}
            await admin.send(_command("silence", "s1", match=match, duration=3600, comment="Tỉnh 01 đã báo nộp muộn"))
            answer = await _result_or_error(admin, "c-s1")
            assert answer["type"] == "result", answer
            made = answer["data"]["silence"]
            assert answer["data"]["muted"] == [late.id]
            assert made["ends_at"] == "2026-11-23T09:00:00Z" and made["created_by"] == "admin-user"
            muted = await _alert_message(wall, late.id, lambda a: a.get("silenced_by") == made["id"])
            assert muted["state"] == "firing"  # muted, not changed
            # while it lasts, the alert goes on changing and stays muted; another province is not muted
            clock.advance(timedelta(minutes=30))
            again = await db.alerts.fire(
                LATE, "01:2026-10", Severity.CRITICAL, "Tỉnh 01 nộp muộn 30 phút", params=params
            )
            assert again is not None and again.silenced_by == made["id"]
            assert {a.id: a.silenced_by for a in await db.alerts.listed()}[other.id] is None
            await admin.send({"type": "query", "id": "q-s", "query": {"name": "silences"}})
            listed = await _result_or_error(admin, "q-s")
            assert [s["id"] for s in listed["data"]["silences"]] == [made["id"]]
            # it expires: the timer pass unmutes the alert, and every client hears it
            clock.advance(timedelta(minutes=30))
            changed = await db.alerts.tick()
            assert [(a.id, a.silenced_by) for a in changed] == [(late.id, None)]
            await _alert_message(wall, late.id, lambda a: a.get("silenced_by") is None)
            assert await db.alerts.silences() == []
    entries = [e for e in await db.audit.entries() if e.action == "alert.silence"]
    assert len(entries) == 1
    assert (entries[0].actor, entries[0].role, entries[0].target) == ("admin-user", "admin", f"silence:{made['id']}")
    assert entries[0].details["match"] == match and entries[0].details["comment"] == "Tỉnh 01 đã báo nộp muộn"
    transitions = await db.alerts.transitions(late.id)
    assert [t[2] for t in transitions] == [None, f"silenced:{made['id']}", None]


@pytest.mark.parametrize(
    ("role", "fields", "code"),
    [
        ("operator", {"match": {"rule": LATE}, "duration": 3600, "comment": "x"}, "forbidden"),
        ("admin", {"match": {}, "duration": 3600, "comment": "everything"}, "invalid"),
        ("admin", {"match": {"rule": LATE}, "ends_at": "2026-11-23T07:00:00Z", "comment": "past"}, "invalid"),
        (
            "admin",
            {"match": {"rule": LATE}, "duration": 3600, "ends_at": "2026-11-23T09:00:00Z", "comment": "x"},
            "invalid",
        ),
        ("admin", {"match": {"rule": LATE}, "ends_at": "2027-11-23T09:00:00Z", "comment": "a year"}, "invalid"),
        ("admin", {"match": {"rule": LATE}, "duration": 3600, "comment": "   "}, "invalid"),
        ("admin", {"match": {"rule": LATE}, "duration": 3600, "comment": ""}, "invalid"),
        ("admin", {"match": {"rule": LATE}, "duration": 30, "comment": "x"}, "invalid"),
        ("admin", {"match": {"rule": LATE}, "duration": 31 * 86400, "comment": "x"}, "invalid"),
        ("admin", {"match": {"rule": LATE, "area": ""}, "duration": 3600, "comment": "x"}, "invalid"),
    ],
    ids=[
        "operator", "no-matcher", "in-the-past", "both-ends", "too-long", "no-reason",
        "empty-reason", "30-seconds", "31-days", "empty-matcher",
    ],
)  # fmt: skip
async def test_a_bad_silence_is_refused_changes_nothing_and_is_audited(
    db: Store, clock: ManualClock, tmp_path: Path, role: str, fields: dict[str, Any], code: str
) -> None:
    late = await db.alerts.fire(LATE, "01:2026-10", Severity.WARNING, "m", params=AlertParams(area="01"))
    assert late is not None
    async with feed_server(tmp_path / "ops.db", store=db) as server:
        async with client(server, role, hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send(_command("silence", "bad", **fields))
            answer = await _result_or_error(c, "c-bad")
    assert answer["type"] == "error" and answer["code"] == code, answer
    assert await db.alerts.silences(active_only=False) == []
    assert [a.silenced_by for a in await db.alerts.listed()] == [None]
    refused = [e for e in await db.audit.entries() if e.action == "silence.refused"]
    assert len(refused) == 1 and refused[0].details["error_code"] == code


async def test_a_silence_removed_by_an_admin_unmutes_and_is_audited(
    db: Store, clock: ManualClock, tmp_path: Path
) -> None:
    late = await db.alerts.fire(LATE, "01:2026-10", Severity.WARNING, "m", params=AlertParams(area="01"))
    assert late is not None
    async with feed_server(tmp_path / "ops.db", store=db) as server:
        async with client(server, "admin", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send(_command("silence", "s", match={"area": "01"}, duration=600, comment="bảo trì"))
            made = (await _result_or_error(c, "c-s"))["data"]["silence"]
            await c.send(_command("unsilence", "u", silence_id=made["id"]))
            answer = await _result_or_error(c, "c-u")
            await c.send(_command("unsilence", "u2", silence_id=made["id"]))
            again = await _result_or_error(c, "c-u2")
    assert answer["data"]["unmuted"] == [late.id] and answer["data"]["silence"]["ended_by"] == "admin-user"
    assert again["type"] == "error" and again["code"] == "invalid"
    assert [a.silenced_by for a in await db.alerts.listed()] == [None]
    actions = [e.action for e in reversed(await db.audit.entries())]
    assert actions == ["alert.silence", "silence.remove", "unsilence.refused"]


async def test_the_alerts_query_filters_by_state_and_severity(db: Store, clock: ManualClock, tmp_path: Path) -> None:
    a = await db.alerts.fire(FAILING, "a", Severity.CRITICAL, "a")
    await db.alerts.fire(FAILING, "b", Severity.WARNING, "b")
    await db.alerts.fire(LATE, "c", Severity.WARNING, "c", for_=timedelta(hours=1))
    assert a is not None
    await db.alerts.acknowledge(a.id, "op", "operator")
    async with feed_server(tmp_path / "ops.db", store=db) as server:
        async with client(server, "display", hello={"filter": {}}) as c:
            await c.until("snapshot")
            query = {"name": "alerts", "states": ["firing", "pending"], "severities": ["warning"]}
            await c.send({"type": "query", "id": "q", "query": query})
            answer = await _result_or_error(c, "q")
    assert sorted(x["subject"] for x in answer["data"]["alerts"]) == ["b", "c"]


async def test_the_serving_timer_fires_a_due_alert_without_its_rule_running_again(
    db: Store, clock: ManualClock
) -> None:
    held = await db.alerts.fire(FAILING, "mof", Severity.WARNING, "m", for_=timedelta(minutes=5))
    assert held is not None and held.state is AlertState.PENDING
    timer = asyncio.create_task(alert_timer(db, timedelta(milliseconds=10)))
    try:
        await asyncio.sleep(0.1)
        assert (await db.alerts.listed())[0].state is AlertState.PENDING  # not due yet, however often it runs
        clock.advance(timedelta(minutes=5))
        for _ in range(1000):  # bounded poll: the next pass fires it
            if (await db.alerts.listed())[0].state is AlertState.FIRING:
                break
            await asyncio.sleep(0.01)
        assert (await db.alerts.listed())[0].state is AlertState.FIRING
    finally:
        timer.cancel()


# --- the CLI: `opscentre alerts` and `opscentre silence`, real child processes on a real server ------------


async def _cli(*args: str, token: str | None = None) -> tuple[int, str, str]:
    """The command's real main() beside the test's server (a thread, so the server keeps answering)."""
    done = await asyncio.to_thread(run_cli, *args, env={"OPSCENTRE_TOKEN": token, "COLUMNS": "250"})
    return done.returncode, done.stdout, done.stderr


async def test_the_cli_lists_alerts_and_an_admin_silences_them_through_the_server(tmp_path: Path) -> None:
    path = tmp_path / "ops.db"
    async with await Store.open(path) as store:
        late = await store.alerts.fire(
            LATE, "01", Severity.WARNING, "Thành phố Hà Nội chưa gửi báo cáo", params=AlertParams(area="01")
        )
        down = await store.alerts.fire(
            FAILING, "mof", Severity.CRITICAL, "Nguồn mof ngắt mạch", params=AlertParams(source="mof")
        )
        assert late is not None and down is not None
        async with feed_server(path, store=store) as server:
            db = ("--db", str(path))
            code, out, _ = await _cli("alerts", *db)
            assert code == 0 and "Thành phố Hà Nội chưa gửi báo cáo" in out and "Nguồn mof ngắt mạch" in out
            code, out, _ = await _cli("alerts", *db, "--severity", "critical", "--json")
            assert code == 0 and [a["id"] for a in json.loads(out)] == [down.id]
            # an operator may not silence; an admin may
            add = ("silence", "add", *db, "--feed", server.url, "--match", "rule=report.late", "--match", "area=01")
            code, _, err = await _cli(*add, "--for", "2h", "--comment", "Hà Nội báo nộp muộn", token=TOKENS["operator"])
            assert code == 2 and "needs admin" in err
            code, _, err = await _cli(*add, "--for", "2 hours", "--comment", "x", token=TOKENS["admin"])
            assert code == 2 and "'2 hours' is not a duration: write it as" in err
            code, _, err = await _cli(
                "silence",
                "add",
                *db,
                "--feed",
                server.url,
                "--match",
                "colour=red",
                "--comment",
                "x",
                token=TOKENS["admin"],
            )
            assert code == 2 and "unknown matcher 'colour'" in err
            assert await store.alerts.silences(active_only=False) == []  # nothing of the refused ones was made
            code, out, err = await _cli(*add, "--for", "2h", "--comment", "Hà Nội báo nộp muộn", token=TOKENS["admin"])
            assert code == 0, err
            assert f"1 open alert muted (#{late.id})" in out
            code, out, _ = await _cli("alerts", *db)
            assert code == 0 and "silenced (#1)" in out
            code, out, _ = await _cli("silence", "list", *db, "--json")
            listed = json.loads(out)
            assert [(s["id"], s["match"], s["created_by"]) for s in listed] == [
                (1, {"rule": LATE, "area": "01"}, "admin-user")
            ]
            code, out, _ = await _cli("silence", "remove", "1", *db, "--feed", server.url, token=TOKENS["admin"])
            assert code == 0 and "1 alert unmuted" in out
        audit = [(e.action, e.actor) for e in reversed(await store.audit.entries())]
    # (the operator's CLI stopped at the welcome, which names its role: it sent no command)
    assert audit == [
        ("alert.silence", "admin-user"),
        ("silence.remove", "admin-user"),
    ]


# --- on the real simulator: a province whose source is down owes its report, and only one alert says so ----


async def test_a_downed_province_source_fires_and_mutes_its_own_late_report_on_the_real_simulator(
    tmp_path: Path,
) -> None:
    from collectors.config import CollectorSettings
    from rules import reporting
    from rules.after_run import Collector
    from simulator import Fault
    from tests.simulator_fixtures import Clock, running
    from tests.test_rules_reporting import RULES, START, provinces

    sim_clock = Clock(START)
    with use_clock(sim_clock):
        async with running(sim_clock) as (sim, _):
            async with await Store.open(tmp_path / "ops.db") as store:
                async with Collector(store, provinces(sim.url), CollectorSettings(retries=0)) as collector:
                    names = sorted(collector.sources)
                    await collector.run_many(names)  # the centre watches from before January's reports
                    sim_clock.advance(days=13)
                    await collector.run_many(names)  # every province reports January
                    sim_clock.advance(days=28)  # 23 March: February's reports are out
                    sim.faults.set("/provinces/04/*", Fault(kind="http_error", endpoint="/provinces/04/*", status=503))
                    await collector.run_many(names)  # province 04's system is down: its run fails
                    sim_clock.advance(days=4)  # February was due by the end of 25 March
                    await reporting.check_late(store, RULES, sim_clock())
                    open_ = {(a.rule, a.subject): a for a in await store.alerts.listed()}
                    down = open_[("source.failing", "province-04")]
                    late = open_[(reporting.REPORT_LATE, "04")]
                    # one alert to act on: the late report says the same again, muted by the source's
                    assert down.params.area == "04" and down.inhibited_by is None
                    assert late.inhibited_by == down.id
                    others = [a for (rule, _), a in open_.items() if rule == reporting.REPORT_LATE and a.id != late.id]
                    assert all(a.inhibited_by is None for a in others)
                    # the system comes back and reports: both resolve
                    sim.faults.clear()
                    sim_clock.advance(hours=1)
                    await collector.run("province-04")
                    await reporting.check_late(store, RULES, sim_clock())
                    sim_clock.advance(minutes=1)  # source.failing keeps firing for one interval (hysteresis)
                    await store.alerts.tick()
                    still = {(a.rule, a.subject) for a in await store.alerts.listed()}
    assert ("source.failing", "province-04") not in still and (reporting.REPORT_LATE, "04") not in still


async def test_an_alert_held_pending_without_a_for_gets_one_when_a_rule_gives_it(db: Store, clock: ManualClock) -> None:
    held = await db.alerts.fire(LATE, "05", Severity.WARNING, "m", pending=True)
    assert held is not None and held.state is AlertState.PENDING
    assert await db.alerts.fire(LATE, "05", Severity.WARNING, "m", for_=timedelta(minutes=5)) is None
    clock.advance(timedelta(minutes=5))
    assert [(a.id, a.state) for a in await db.alerts.tick()] == [(held.id, AlertState.FIRING)]


async def test_time_travel_shows_an_alert_muted_as_it_was_then(db: Store, clock: ManualClock) -> None:
    late = await db.alerts.fire(LATE, "01", Severity.WARNING, "m", params=AlertParams(area="01"))
    assert late is not None
    clock.advance(timedelta(minutes=10))
    made, _ = await db.alerts.silence(SilenceMatch(area="01"), T0 + timedelta(minutes=70), "bảo trì", "admin", "admin")
    clock.advance(timedelta(minutes=60))
    await db.alerts.tick()  # the timer pass as the silence expires, at T0 + 70 min
    muted_at = {}
    for minutes in (5, 30, 75):
        past = await db.snapshots.as_of(T0 + timedelta(minutes=minutes))
        muted_at[minutes] = [a.silenced_by for a in past.alerts]
    assert muted_at == {5: [None], 30: [made.id], 75: [None]}
