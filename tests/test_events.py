"""The event log: every change appends its event in the same transaction; seq is monotonic and
gap-free within an epoch, also across restarts; snapshots are consistent with one seq."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from storage import Batch, EventType, ObservationIn, RunOutcome, RunTrigger, Severity, SnapshotFilter, Store
from tests.conftest import raw_db

BOTH_ENGINES = True  # the store fixture runs each test on SQLite and on PostgreSQL (tests/conftest.py)


def rec(indicator: str, area: str, period: str, value: float) -> ObservationIn:
    return ObservationIn(indicator=indicator, area=area, period=period, value=value)


async def test_seq_is_monotonic_and_gap_free_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ops.db"
    store = await Store.open(path)
    epoch = store.epoch
    run = await store.runs.start("gso", RunTrigger.MANUAL, "admin")
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", f"2024-{m:02d}", m) for m in range(1, 7)], run_id=run.id)
    )
    await store.runs.finish(run.id, RunOutcome.SUCCESS, fetched=6, new=6)
    await store.alerts.fire("collector.down", "gso", Severity.CRITICAL, "Nguồn gso không phản hồi")
    await store.close()

    store = await Store.open(path)
    try:
        assert store.epoch == epoch  # same log, same epoch
        await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-07", 7.0)]))
        await store.alerts.resolve("collector.down", "gso")
        events = await store.events.after(0)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events] == (
            [EventType.RUN_STARTED] + [EventType.OBSERVATION] * 6
            + [EventType.RUN_FINISHED, EventType.ALERT, EventType.OBSERVATION, EventType.ALERT]
        )  # fmt: skip
        assert events[7].payload["outcome"] == "success"
        assert events[8].payload["message"] == "Nguồn gso không phản hồi"
        assert {e.epoch for e in events} == {epoch}
        # Reading from the middle gives exactly the rest.
        assert [e.seq for e in await store.events.after(5)] == list(range(6, len(events) + 1))
        assert [e.seq for e in await store.events.after(5, limit=2)] == [6, 7]
    finally:
        await store.close()


async def test_a_new_database_has_a_new_epoch(tmp_path: Path) -> None:
    a = await Store.open(tmp_path / "a.db")
    b = await Store.open(tmp_path / "b.db")
    try:
        assert a.epoch != b.epoch and len(a.epoch) == 16
    finally:
        await a.close()
        await b.close()


async def test_listeners_hear_committed_seq(store: Store) -> None:
    heard: list[int] = []
    store.add_listener(heard.append)
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 1.0), rec("CPI_YOY", "VN", "2024-02", 2.0)])
    )
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 1.0)])
    )  # unchanged: no event, no call
    run = await store.runs.start("gso", RunTrigger.SCHEDULE)
    assert heard == [2, 3]
    assert run.id == 1


async def test_snapshot_holds_the_latest_period_of_each_series_with_filters(store: Store) -> None:
    await store.observations.ingest(
        Batch(
            "gso",
            [
                rec("CPI_YOY", "VN", "2024-01", 3.37),
                rec("CPI_YOY", "VN", "2024-02", 3.98),
                rec("CPI_YOY", "01", "2024-02", 4.1),
                rec("GDP_GROWTH", "VN", "2024-Q1", 5.66),
            ],
        )
    )
    await store.observations.ingest(Batch("sbv", [rec("CREDIT_GROWTH", "VN", "2024-02", -0.7)]))
    # A revision of an older period does not replace the latest period in the snapshot ...
    await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 3.4)]))
    # ... a revision of the latest period does.
    await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "01", "2024-02", 4.2)]))

    snap = await store.snapshots.current()
    assert snap.seq == await store.events.last_seq()
    got = {(o.indicator, o.area): (o.period, o.value) for o in snap.observations}
    assert got == {
        ("CPI_YOY", "VN"): ("2024-02", 3.98),
        ("CPI_YOY", "01"): ("2024-02", 4.2),
        ("GDP_GROWTH", "VN"): ("2024-Q1", 5.66),
        ("CREDIT_GROWTH", "VN"): ("2024-02", -0.7),
    }

    def keys(snapshot_rows: list) -> set[tuple[str, str]]:
        return {(o.indicator, o.area) for o in snapshot_rows}

    assert keys((await store.snapshots.current(SnapshotFilter(areas=frozenset({"01"})))).observations) == {
        ("CPI_YOY", "01")
    }
    assert keys((await store.snapshots.current(SnapshotFilter(categories=frozenset({"TCNS"})))).observations) == {
        ("CREDIT_GROWTH", "VN")
    }
    # NSO took over GSO's indicators in 2025: asking for NSO finds them.
    assert keys((await store.snapshots.current(SnapshotFilter(agencies=frozenset({"NSO"})))).observations) == {
        ("CPI_YOY", "VN"), ("CPI_YOY", "01"), ("GDP_GROWTH", "VN"),
    }  # fmt: skip
    assert keys(
        (
            await store.snapshots.current(SnapshotFilter(indicators=frozenset({"CPI_YOY"}), areas=frozenset({"VN"})))
        ).observations
    ) == {("CPI_YOY", "VN")}
    assert (await store.snapshots.current(SnapshotFilter(sources=frozenset({"nobody"})))).observations == []


async def test_runs_left_running_by_a_dead_process_are_marked_interrupted(store: Store) -> None:
    run = await store.runs.start("gso", RunTrigger.SCHEDULE)
    assert await store.runs.mark_interrupted() == []  # our own process is alive: not touched
    conn = raw_db(store.path)
    try:
        conn.execute("UPDATE runs SET owner = 'a-process-now-gone' WHERE id = ?", (run.id,))  # another, gone
        conn.commit()
    finally:
        conn.close()
    done = await store.runs.mark_interrupted()
    assert [r.id for r in done] == [run.id]
    assert (await store.runs.get(run.id)).outcome is RunOutcome.INTERRUPTED  # type: ignore[union-attr]
    events = await store.events.after(0)
    assert events[-1].type is EventType.RUN_FINISHED and events[-1].payload["outcome"] == "interrupted"


async def test_alert_life_cycle_and_acknowledgement_is_audited(store: Store) -> None:
    alert = await store.alerts.fire("upstream.rejected", "gso", Severity.WARNING, "3 records rejected", pending=True)
    assert alert is not None and alert.state.value == "pending"
    assert (
        await store.alerts.fire("upstream.rejected", "gso", Severity.WARNING, "3 records rejected", pending=True)
        is None
    )
    fired = await store.alerts.fire("upstream.rejected", "gso", Severity.WARNING, "3 records rejected")
    assert fired is not None and fired.state.value == "firing" and fired.id == alert.id
    acked = await store.alerts.acknowledge(alert.id, "nguyen.van.a", "operator", "đang xử lý")
    assert acked.state.value == "acknowledged" and acked.acknowledged_by == "nguyen.van.a"
    entries = await store.audit.entries()
    assert [(e.actor, e.action, e.target, e.details) for e in entries] == [
        ("nguyen.van.a", "alert.acknowledge", f"alert:{alert.id}", {"note": "đang xử lý"})
    ]
    resolved = await store.alerts.resolve("upstream.rejected", "gso")
    assert resolved is not None and resolved.state.value == "resolved"
    assert await store.alerts.listed() == []
    assert len(await store.alerts.listed(open_only=False)) == 1


async def test_a_snapshot_cancelled_at_any_moment_leaves_the_reader_usable(store: Store) -> None:
    """A client that leaves mid-snapshot cancels its read; the shared reader must not stay inside
    that read's transaction (every later snapshot would fail)."""
    await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", f"2024-{m:02d}", m) for m in range(1, 13)]))
    expected = await store.snapshots.current()
    cancelled = 0
    for step in range(30):  # cancel after 0, 1, 2, ... turns of the event loop: BEGIN, the reads, COMMIT
        task = asyncio.ensure_future(store.snapshots.current())
        for _ in range(step):
            await asyncio.sleep(0)
        if not task.done():
            task.cancel()
            cancelled += 1
        with contextlib.suppress(asyncio.CancelledError):
            await task
        again = await store.snapshots.current()
        assert again.seq == expected.seq
        assert [o.id for o in again.observations] == [o.id for o in expected.observations]
    assert cancelled > 3  # the loop did cut reads at several points


async def test_an_observation_event_carries_exactly_the_models_json_of_its_figure(store: Store) -> None:
    """The event log builds an observation's payload straight from the row (storage.ingest's
    observation_payload, for speed): it must be what the model itself writes, key for key, in order."""
    run = await store.runs.start("gso", RunTrigger.MANUAL, "admin")
    await store.observations.ingest(
        Batch(
            "gso",
            [rec("CPI_YOY", "VN", "2024-01", 3), rec("CPI_YOY", "VN", "2024-02", -0.25)],
            run_id=run.id,
            payload=b'{"raw": 1}',
        )
    )
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 3.5)], payload=None)
    )  # a revision, no run
    events = [e for e in await store.events.after(0) if e.type is EventType.OBSERVATION]
    assert len(events) == 3
    for event in events:
        model = (await store.observations.get(event.payload["id"])).model_dump(mode="json")  # type: ignore[union-attr]
        given = {k: v for k, v in event.payload.items() if not k.startswith("previous_")}
        assert list(given.items()) == list(model.items())
    assert events[-1].payload["previous_value"] == 3.0 and events[-1].payload["run_id"] is None
