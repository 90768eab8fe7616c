"""Time travel: `hello`/`subscribe` with `as_of` shows the centre as it was known at that instant
(figures at the revision known then, the alerts open then, the runs up to then), and nothing live
until the client subscribes live again; reading the past never holds up the live feed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage import Batch, ObservationIn, ObservationStatus, RunOutcome, RunTrigger, Severity, Store
from storage.clock import utcnow
from tests.feedkit import Client, client, feed_server

BOTH_ENGINES = True  # each test on SQLite and on PostgreSQL (the store_target fixture, tests/conftest.py)

JUNE_1, JUNE_20, JULY_1 = (datetime(2024, m, d, 9, tzinfo=UTC) for m, d in ((6, 1), (6, 20), (7, 1)))


def cpi(period: str, value: float, status: str = "official") -> ObservationIn:
    return ObservationIn(indicator="CPI_YOY", area="VN", period=period, value=value, status=ObservationStatus(status))


def figures(snapshot: dict[str, Any]) -> list[tuple[str, float, int, str]]:
    return [(o["period"], o["value"], o["revision"], o["status"]) for o in snapshot["observations"]]


async def _history(store: Store) -> None:
    await store.observations.ingest(Batch("nso", [cpi("2024-05", 3.1, "provisional")], collected_at=JUNE_1))
    await store.observations.ingest(Batch("nso", [cpi("2024-05", 3.3)], collected_at=JUNE_20))
    await store.observations.ingest(Batch("nso", [cpi("2024-06", 3.5, "provisional")], collected_at=JULY_1))


async def _only_heartbeats_at(past: Client, seq: int, witness: Client, store: Store) -> int:
    """The client looking at the past gets heartbeats alone, each at its snapshot's ``seq``, up to
    the beat that told a live client (``witness``) it had every event so far. Heartbeats of one beat
    carry one ``time``: that is how the past client's beat is told. Returns how many it got."""
    last = await store.events.last_seq()
    while (beat := await witness.until("heartbeat", skip=("delta", "alert", "run")))["seq"] < last:
        pass
    beats = 0
    while True:
        msg = await past.next(timeout=10)
        assert msg["type"] == "heartbeat", f"a live message reached a client looking at the past: {msg}"
        assert msg["seq"] == seq, f"a heartbeat after a look at the past carried seq {msg['seq']}, not {seq}"
        beats += 1
        if datetime.fromisoformat(msg["time"]) >= datetime.fromisoformat(beat["time"]):
            return beats


async def test_the_past_shows_each_figure_as_known_then_and_nothing_live_follows(store_target: str) -> None:
    async with feed_server(store_target) as server:
        store = server.store
        await _history(store)
        when = (JUNE_1 + timedelta(days=5)).isoformat()
        async with (
            client(server, "display", hello={"filter": {"indicators": ["CPI_YOY"]}, "as_of": when}) as c,
            client(server, "display", hello={"filter": {}}) as live,
        ):
            await c.until("welcome")
            snap = await c.until("snapshot")
            assert snap["as_of"] == "2024-06-06T09:00:00Z"
            assert figures(snap) == [("2024-05", 3.1, 1, "provisional")]  # before the revision
            # Later on the same connection: after the revision, before June's figure.
            await c.send({"type": "subscribe", "id": "s1", "filter": {}, "as_of": "2024-06-25T00:00:00+07:00"})
            snap = await c.until("snapshot")
            assert figures(snap) == [("2024-05", 3.3, 2, "official")]

            await live.until("snapshot")
            await store.observations.ingest(Batch("nso", [cpi("2024-07", 3.9)]))
            await _only_heartbeats_at(c, snap["seq"], live, store)

            await c.send({"type": "subscribe", "id": "s2", "filter": {}})  # back to live
            snap = await c.until("snapshot")
            assert snap.get("as_of") is None and figures(snap) == [("2024-07", 3.9, 1, "official")]
            await store.observations.ingest(Batch("nso", [cpi("2024-08", 4.0)]))
            delta = await c.until("delta")
            assert [(ch["period"], ch["value"]) for ch in delta["changes"]] == [("2024-08", 4.0)]


async def test_a_heartbeat_after_a_look_at_the_past_never_carries_a_seq_past_the_snapshots(
    store_target: str,
) -> None:
    """A heartbeat says every event up to its seq has been sent: after a snapshot of the past, none
    has, so a client that resumes from its last heartbeat (as the docs say it may) gets what came
    since the past it holds, not a silent gap."""
    async with feed_server(store_target) as server:
        store = server.store
        await _history(store)
        async with (
            client(server, "display", hello={"filter": {}, "as_of": utcnow().isoformat()}) as past,
            client(server, "display", hello={"filter": {}}) as live,
        ):
            snap = await past.until("snapshot")
            assert figures(snap) == [("2024-06", 3.5, 1, "provisional")]
            await live.until("snapshot")
            await store.observations.ingest(Batch("nso", [cpi("2024-07", 3.9)]))
            assert await _only_heartbeats_at(past, snap["seq"], live, store) >= 1
            # Following the docs: resume from the last heartbeat's (epoch, seq), with the same filter.
            resume = {"epoch": snap["epoch"], "seq": snap["seq"]}
        async with client(server, "display", hello={"filter": {}, "resume": resume}) as again:
            assert (await again.until("welcome"))["resumed"] is True
            delta = await again.until("delta")
            assert [(ch["period"], ch["value"]) for ch in delta["changes"]] == [("2024-07", 3.9)]


async def test_the_past_shows_the_alerts_open_then_and_the_runs_up_to_then(store_target: str) -> None:
    async def tick() -> datetime:
        """An instant strictly between what was written before and what comes after."""
        await asyncio.sleep(0.01)
        moment = utcnow()
        await asyncio.sleep(0.01)
        return moment

    async with feed_server(store_target) as server:
        store = server.store
        done = await store.runs.start("nso", RunTrigger.SCHEDULE)
        await store.runs.finish(done.id, RunOutcome.SUCCESS, fetched=10, new=10)
        failing = await store.alerts.fire("source.failing", "mof", Severity.WARNING, "Nguồn mof lỗi 1 lần liên tiếp")
        resolved_later = await store.alerts.fire("source.rejected", "nso", Severity.WARNING, "Nguồn nso: 2 bản ghi")
        going = await store.runs.start("mof", RunTrigger.MANUAL, "admin-user")
        then = await tick()
        assert failing and resolved_later
        await store.alerts.acknowledge(failing.id, "operator-user", "operator", "đã gọi")
        await store.alerts.resolve("source.rejected", "nso")
        await store.runs.finish(going.id, RunOutcome.FAILED, error="HTTP 503 from the source", http_status=503)
        await store.alerts.fire("figures.revised", "sbv", Severity.INFO, "Số liệu chính thức bị điều chỉnh")
        later = await store.runs.start("sbv", RunTrigger.SCHEDULE)

        async with client(server, "operator", hello={"filter": {}, "as_of": then.isoformat()}) as c:
            snap = await c.until("snapshot")
        alerts = {a["rule"]: a for a in snap["alerts"]}
        assert sorted(alerts) == ["source.failing", "source.rejected"]  # the revision alert came after
        assert alerts["source.failing"]["state"] == "firing" and "acknowledged_by" not in alerts["source.failing"]
        assert alerts["source.rejected"]["state"] == "firing" and "resolved_at" not in alerts["source.rejected"]
        runs = {r["id"]: r for r in snap["runs"]}
        assert later.id not in runs
        assert runs[done.id]["outcome"] == "success" and runs[done.id]["new"] == 10
        # Still going at that instant: running, with nothing of how it ended.
        assert runs[going.id]["outcome"] == "running" and "ended_at" not in runs[going.id]
        assert "error" not in runs[going.id] and "http_status" not in runs[going.id]
        assert snap["seq"] < await store.events.last_seq()

        # Only critical alerts: the severities filter holds in the past too.
        hello = {"filter": {"severities": ["critical"]}, "as_of": then.isoformat()}
        async with client(server, "operator", hello=hello) as c:
            assert (await c.until("snapshot"))["alerts"] == []


@pytest.mark.parametrize(
    ("as_of", "says"),
    [("2024-06-06T09:00:00", "no time zone"), ("2999-01-01T00:00:00Z", "in the future")],
    ids=["no-zone", "future"],
)
async def test_an_as_of_without_a_zone_or_in_the_future_is_refused_and_changes_nothing(
    store_target: str, as_of: str, says: str
) -> None:
    async with feed_server(store_target) as server:
        store = server.store
        await _history(store)
        async with client(server, "display", hello={"filter": {}, "as_of": as_of}) as c:
            await c.until("welcome")
            error = await c.until("error")
            assert error["code"] == "invalid" and says in error["message"]
        async with client(server, "display", hello={"filter": {}}) as c:
            await c.until("snapshot")
            await c.send({"type": "subscribe", "id": "s1", "filter": {}, "as_of": as_of})
            error = await c.until("error")
            assert (error["code"], error["id"]) == ("invalid", "s1") and says in error["message"]
            # The live subscription goes on as before.
            await store.observations.ingest(Batch("nso", [cpi("2024-07", 3.9)]))
            delta = await c.until("delta")
            assert [ch["period"] for ch in delta["changes"]] == ["2024-07"]


async def test_reading_the_past_does_not_hold_up_the_live_feed(store_target: str, monkeypatch: Any) -> None:
    async with feed_server(store_target) as server:
        store = server.store
        await _history(store)
        # Fault injection: the past takes as long as the test says (a real read is too quick to catch).
        reading, release = asyncio.Event(), asyncio.Event()
        real = store.snapshots.as_of

        async def slow(*args: Any, **kw: Any) -> Any:
            past = await real(*args, **kw)
            reading.set()
            await release.wait()
            return past

        monkeypatch.setattr(store.snapshots, "as_of", slow)
        async with (
            client(server, "display", hello={"filter": {}}) as live,
            client(server, "display", hello={"filter": {}, "as_of": "2024-06-06T09:00:00Z"}) as past,
        ):
            await live.until("snapshot")
            await asyncio.wait_for(reading.wait(), timeout=10)
            for i, period in enumerate(("2024-07", "2024-08")):
                await store.observations.ingest(Batch("nso", [cpi(period, 4.0 + i)]))
                delta = await live.until("delta")
                assert [ch["period"] for ch in delta["changes"]] == [period]
            # Another client joins live meanwhile, and gets its snapshot.
            async with client(server, "display", hello={"filter": {}}) as late:
                assert figures(await late.until("snapshot"))[0][0] == "2024-08"
            release.set()
            snap = await past.until("snapshot")
            assert figures(snap) == [("2024-05", 3.1, 1, "provisional")]
