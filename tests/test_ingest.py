"""Ingest: idempotent, append-only, revisions kept with their previous value, as-of queries,
provenance down to the raw bytes, and a clear reason for every rejected record."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage import Batch, ConstraintError, ObservationIn, ObservationStatus, Snapshot, Store, StoreError
from tests.conftest import raw_db

BOTH_ENGINES = True  # the store fixture runs each test on SQLite and on PostgreSQL (tests/conftest.py)


def rec(indicator: str, area: str, period: str, value: float, status: str = "official") -> ObservationIn:
    return ObservationIn(indicator=indicator, area=area, period=period, value=value, status=status)


T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


async def test_same_batch_twice_changes_nothing(store: Store) -> None:
    records = [rec("CPI_YOY", "VN", f"2024-{m:02d}", 3 + m / 10) for m in range(1, 13)]
    first = await store.observations.ingest(Batch("gso", records, collected_at=T0, payload=b'{"first": 1}'))
    assert (first.new, len(first.revised), first.unchanged, len(first.rejected)) == (12, 0, 0, 0)
    seq_after_first = await store.events.last_seq()

    again = await store.observations.ingest(
        Batch("gso", records, collected_at=T0 + timedelta(hours=1), payload=b'{"first": 1}')
    )
    assert (again.new, len(again.revised), again.unchanged, len(again.rejected)) == (0, 0, 12, 0)
    assert again.first_seq is None
    assert await store.events.last_seq() == seq_after_first  # no event either
    history = await store.observations.history("CPI_YOY", "VN")
    assert [o.revision for o in history] == [1] * 12
    assert history[0].collected_at == T0  # the first sighting stands


async def test_revision_keeps_the_earlier_value(store: Store) -> None:
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-05", 4.44, "provisional")], collected_at=T0)
    )
    later = T0 + timedelta(days=30)
    result = await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-05", 4.36)], collected_at=later))
    assert result.new == 0 and len(result.revised) == 1
    rev = result.revised[0]
    assert rev.previous_value == 4.44 and rev.previous_status == ObservationStatus.PROVISIONAL
    assert rev.value == 4.36 and rev.revision == 2 and rev.status == "official"

    revisions = await store.observations.revisions("CPI_YOY", "VN", "2024-05")
    assert [(o.revision, o.value, o.status.value) for o in revisions] == [
        (1, 4.44, "provisional"),
        (2, 4.36, "official"),
    ]
    # The event of the revision carries the value it replaced: everyone sees the change.
    events = await store.events.after(0)
    assert events[-1].payload["value"] == 4.36 and events[-1].payload["previous_value"] == 4.44


async def test_status_change_alone_is_a_revision(store: Store) -> None:
    await store.observations.ingest(Batch("gso", [rec("GDP_GROWTH", "VN", "2024-Q4", 7.55, "provisional")]))
    result = await store.observations.ingest(Batch("gso", [rec("GDP_GROWTH", "VN", "2024-Q4", 7.55, "official")]))
    assert len(result.revised) == 1
    assert result.revised[0].previous_status == ObservationStatus.PROVISIONAL


async def test_a_value_that_returns_to_an_earlier_figure_is_still_a_revision(store: Store) -> None:
    for value in (5.0, 6.0, 5.0):
        await store.observations.ingest(Batch("gso", [rec("IIP_YOY", "VN", "2024-03", value)]))
    assert [o.value for o in await store.observations.revisions("IIP_YOY", "VN", "2024-03")] == [5.0, 6.0, 5.0]


async def test_value_as_of_a_past_time(store: Store) -> None:
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-05", 4.44, "provisional")], collected_at=T0)
    )
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-05", 4.36)], collected_at=T0 + timedelta(days=30))
    )
    await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-06", 4.34)], collected_at=T0 + timedelta(days=31))
    )

    assert await store.observations.value_as_of("CPI_YOY", "VN", "2024-05", T0 - timedelta(seconds=1)) is None
    before = await store.observations.value_as_of("CPI_YOY", "VN", "2024-05", T0 + timedelta(days=1))
    assert before is not None and before.value == 4.44
    now = await store.observations.value_as_of("CPI_YOY", "VN", "2024-05", T0 + timedelta(days=60))
    assert now is not None and now.value == 4.36

    then = await store.observations.history("CPI_YOY", "VN", as_of=T0 + timedelta(days=1))
    assert [(o.period, o.value) for o in then] == [("2024-05", 4.44)]
    latest = await store.observations.history("CPI_YOY", "VN")
    assert [(o.period, o.value) for o in latest] == [("2024-05", 4.36), ("2024-06", 4.34)]


async def test_every_figure_traces_to_the_exact_bytes_received(store: Store) -> None:
    raw = '{"observations":[{"indicator":"EXPORTS","value":35.6}], "note":"Kim ngạch xuất khẩu"}'.encode()
    result = await store.observations.ingest(
        Batch("gdc", [rec("EXPORTS", "VN", "2024-10", 35.6)], payload=raw, content_type="application/json")
    )
    obs = (await store.observations.history("EXPORTS", "VN"))[0]
    assert result.new == 1
    assert obs.payload_digest == hashlib.sha256(raw).hexdigest()
    assert await store.observations.payload(obs.payload_digest) == raw
    # The same payload again is stored once.
    await store.observations.ingest(Batch("gdc", [rec("EXPORTS", "VN", "2024-11", 36.0)], payload=raw))
    conn = raw_db(store.path)
    try:
        (count,) = conn.execute("SELECT count(*) FROM raw_payloads").fetchone()
        (stored,) = conn.execute("SELECT length(body) FROM raw_payloads").fetchone()
    finally:
        conn.close()
    assert count == 1
    assert stored < len(raw) * 2  # compressed (short inputs barely shrink; large ones do, see below)


async def test_large_payloads_are_stored_compressed(store: Store) -> None:
    raw = b'{"indicator":"CPI_YOY","area":"VN","value":3.1},' * 5000
    await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2023-01", 3.1)], payload=raw))
    conn = raw_db(store.path)
    try:
        (stored,) = conn.execute("SELECT length(body) FROM raw_payloads").fetchone()
    finally:
        conn.close()
    assert stored < len(raw) / 20
    assert await store.observations.payload(hashlib.sha256(raw).hexdigest()) == raw


async def test_observations_cannot_be_edited_or_deleted(store: Store) -> None:
    await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-05", 4.44)]))
    conn = raw_db(store.path)
    try:
        with pytest.raises(ConstraintError, match="append-only"):
            conn.execute("UPDATE observations SET value = 1.0")
        with pytest.raises(ConstraintError, match="append-only"):
            conn.execute("DELETE FROM observations")
    finally:
        conn.close()
    assert (await store.observations.history("CPI_YOY", "VN"))[0].value == 4.44


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"indicator": "NOPE", "area": "VN", "period": "2024-01", "value": 1}, "unknown indicator 'NOPE'"),
        ({"indicator": "CPI_YOY", "area": "XX", "period": "2024-01", "value": 1}, "unknown area 'XX'"),
        (
            {"indicator": "CPI_YOY", "area": "VN", "period": "2024-Q1", "value": 1},
            "is quarterly but CPI_YOY is reported monthly",
        ),
        ({"indicator": "CPI_YOY", "area": "VN", "period": "2024-13", "value": 1}, "invalid period '2024-13'"),
        ({"indicator": "CPI_YOY", "area": "VN", "period": "2024-01", "value": "n/a"}, "value"),
        ({"indicator": "CPI_YOY", "area": "VN", "period": "2024-01", "value": float("nan")}, "finite"),
        ({"indicator": "CPI_YOY", "area": "VN", "period": "2024-01", "value": 1, "status": "final"}, "status"),
        ({"indicator": "CPI_YOY", "area": "VN", "period": "2024-01"}, "value: Field required"),
        ({"indicator": "CPI_YOY", "area": "VN", "period": "2024-01", "value": 1, "colour": "red"}, "colour"),
        ({"indicator": "GDP_GROWTH", "area": "01", "period": "2024-Q1", "value": 1}, "level national"),
        ({"indicator": "GRDP_GROWTH", "area": "VN", "period": "2024", "value": 1}, "level provincial"),
        ({"indicator": "CPI_YOY", "area": "02", "period": "2025-07", "value": 1}, "Tỉnh Hà Giang) was not in force"),
        ({"indicator": "CPI_YOY", "area": "19", "period": "2019-01", "value": 1}, None),  # old Thái Nguyên: fine
    ],
)
async def test_each_bad_record_is_rejected_with_a_reason_and_the_rest_go_in(
    store: Store, record: dict[str, object], reason: str | None
) -> None:
    good = {"indicator": "CPI_YOY", "area": "VN", "period": "2024-01", "value": 3.37}
    result = await store.observations.ingest(Batch("gso", [good, record]))
    if reason is None:
        assert result.new == 2 and not result.rejected
        return
    assert result.new == 1
    assert len(result.rejected) == 1
    assert result.rejected[0].index == 1
    assert reason in result.rejected[0].reason
    assert [o.value for o in await store.observations.history("CPI_YOY", "VN")] == [3.37]


async def test_duplicates_and_contradictions_in_one_payload(store: Store) -> None:
    records = [
        rec("CPI_YOY", "VN", "2024-01", 3.37),
        rec("CPI_YOY", "VN", "2024-01", 3.37),  # exact duplicate: dropped, counted
        rec("CPI_YOY", "VN", "2024-02", 3.98),
        rec("CPI_YOY", "VN", "2024-02", 4.98),  # contradicts the one before: neither goes in
        rec("CPI_YOY", "VN", "2024-03", 3.97),
    ]
    result = await store.observations.ingest(Batch("gso", records))
    assert result.new == 2
    reasons = {r.index: r.reason for r in result.rejected}
    assert set(reasons) == {1, 2, 3}
    assert "duplicate of record 0" in reasons[1]
    assert "conflicting figures" in reasons[2] and "conflicting figures" in reasons[3]
    assert [o.period for o in await store.observations.history("CPI_YOY", "VN")] == ["2024-01", "2024-03"]


async def test_a_batch_that_fails_mid_write_leaves_nothing(store: Store) -> None:
    # Fault injection: the event log refuses the write, after the figures went in.
    conn = raw_db(store.path)
    if store.dialect.is_pg:
        conn.execute(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk on fire' USING ERRCODE = '23000'; END $$"
        )
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION boom()")
    else:
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    conn.commit()
    with pytest.raises(ConstraintError, match="disk on fire") as refused:  # ours, on either engine
        await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 3.37)], payload=b"raw bytes"))
    assert isinstance(
        refused.value.__cause__, psycopg.IntegrityError if store.dialect.is_pg else sqlite3.IntegrityError
    )
    assert await store.observations.history("CPI_YOY", "VN") == []
    assert await store.snapshots.current() == Snapshot(store.epoch, 0, [])
    (payloads,) = conn.execute("SELECT count(*) FROM raw_payloads").fetchone()
    assert payloads == 0
    conn.execute("DROP TRIGGER boom ON events" if store.dialect.is_pg else "DROP TRIGGER boom")
    conn.commit()
    conn.close()
    # The store is still usable.
    ok = await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 3.37)]))
    assert ok.new == 1 and ok.first_seq == 1


async def test_an_unknown_run_is_refused_and_nothing_written(store: Store) -> None:
    with pytest.raises(StoreError, match="no collection run 999"):
        await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 3.37)], run_id=999))
    assert await store.observations.history("CPI_YOY", "VN") == []
    assert await store.audit.dangling_references() == []


async def test_sources_are_separate_series(store: Store) -> None:
    await store.observations.ingest(Batch("gso-json", [rec("CPI_YOY", "VN", "2024-01", 3.37)]))
    result = await store.observations.ingest(Batch("gso-sdmx", [rec("CPI_YOY", "VN", "2024-01", 3.38)]))
    assert result.new == 1 and not result.revised
    history = await store.observations.history("CPI_YOY", "VN")
    assert [(o.source, o.value) for o in history] == [("gso-json", 3.37), ("gso-sdmx", 3.38)]
    assert [o.value for o in await store.observations.history("CPI_YOY", "VN", source="gso-sdmx")] == [3.38]


async def test_concurrent_ingests_are_serialised(store: Store) -> None:
    batches = [
        Batch(f"src{i}", [rec("CPI_YOY", "VN", f"20{10 + j}-01", i + j / 10) for j in range(10)]) for i in range(8)
    ]
    results = await asyncio.gather(*(store.observations.ingest(b) for b in batches))
    assert sum(r.new for r in results) == 80
    seqs = sorted(s for r in results for s in range(r.first_seq or 0, (r.last_seq or -1) + 1))
    assert seqs == list(range(1, 81))


async def test_each_ingest_is_logged_with_its_rejections_and_a_run_finds_its_figures(store: Store) -> None:
    from storage import RunTrigger

    run = await store.runs.start("gso", RunTrigger.MANUAL, "admin")
    raw = b'{"page": 1}'
    first = await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 3.37), {"indicator": "CPI_YOY", "area": "ZZ", "period": "2024-01", "value": 1}],
              run_id=run.id, payload=raw)
    )  # fmt: skip
    await store.observations.ingest(Batch("other", [rec("CPI_YOY", "VN", "2024-02", 9.0)]))  # another source in between
    second = await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-02", 3.98), rec("CPI_YOY", "VN", "2024-01", 3.4)], run_id=run.id)
    )
    logs = await store.observations.ingest_log(run.id)
    assert [(g.records, g.new, g.revised, g.unchanged, g.rejected) for g in logs] == [(2, 1, 1, 0, 0), (2, 1, 0, 0, 1)]
    assert logs[1].payload_digest == hashlib.sha256(raw).hexdigest()
    assert (logs[1].first_seq, logs[0].last_seq) == (first.first_seq, second.last_seq)
    rejections = await store.observations.rejections(logs[1].id)
    assert [(r.index, r.reason) for r in rejections] == [(1, "unknown area 'ZZ'")]
    figures = await store.observations.of_run(run.id)
    assert [(o.period, o.value, o.revision) for o in figures] == [
        ("2024-01", 3.37, 1),
        ("2024-02", 3.98, 1),
        ("2024-01", 3.4, 2),
    ]


async def test_a_contradiction_in_the_newest_period_leaves_the_snapshot_on_the_last_good_figure(store: Store) -> None:
    await store.observations.ingest(Batch("gso", [rec("CPI_YOY", "VN", "2024-01", 3.37)]))
    result = await store.observations.ingest(
        Batch("gso", [rec("CPI_YOY", "VN", "2024-02", 3.98), rec("CPI_YOY", "VN", "2024-02", 4.98)])
    )
    assert result.new == 0 and len(result.rejected) == 2
    snap = await store.snapshots.current()
    assert [(o.period, o.value) for o in snap.observations] == [("2024-01", 3.37)]


async def test_a_stale_index_of_latest_periods_falls_back_to_comparing_every_row(store: Store) -> None:
    records = [rec("CPI_YOY", "VN", f"2024-{m:02d}", m) for m in range(1, 7)]
    await store.observations.ingest(Batch("gso", records))
    conn = raw_db(store.path)
    conn.execute("DELETE FROM series_latest")  # as if the index had fallen behind
    conn.commit()
    conn.close()
    again = await store.observations.ingest(Batch("gso", [*records[:5], rec("CPI_YOY", "VN", "2024-06", 6.5)]))
    assert (again.new, len(again.revised), again.unchanged) == (0, 1, 5)
    assert [o.revision for o in await store.observations.history("CPI_YOY", "VN")] == [1, 1, 1, 1, 1, 2]
    snap = await store.snapshots.current()
    assert [(o.period, o.value) for o in snap.observations] == [("2024-06", 6.5)]


async def test_the_upstreams_publication_time_is_kept_with_each_revision(store: Store) -> None:
    """Both paths of the write (a period past the series' latest, and one compared with what is
    stored) keep the time the upstream gave; a record that changes only that time is no revision."""
    out = datetime(2024, 6, 20, 2, 0, tzinfo=UTC)
    official = datetime(2024, 7, 22, 2, 0, tzinfo=UTC)

    def timed(period: str, value: float, status: str, at: datetime | None) -> ObservationIn:
        return ObservationIn(indicator="CPI_YOY", area="VN", period=period, value=value, status=status, published_at=at)

    await store.observations.ingest(Batch("gso", [timed("2024-05", 4.44, "provisional", out)], collected_at=T0))
    await store.observations.ingest(
        Batch("gso", [timed("2024-04", 4.40, "official", None)], collected_at=T0)
    )  # compared
    again = await store.observations.ingest(
        Batch("gso", [timed("2024-05", 4.44, "provisional", official)], collected_at=T0)
    )
    assert again.unchanged == 1 and not again.revised
    await store.observations.ingest(Batch("gso", [timed("2024-05", 4.36, "official", official)], collected_at=T0))
    revisions = await store.observations.revisions("CPI_YOY", "VN", "2024-05")
    assert [(o.revision, o.published_at) for o in revisions] == [(1, out), (2, official)]
    [april] = await store.observations.revisions("CPI_YOY", "VN", "2024-04")
    assert april.published_at is None  # the source gave none
    found = await store.observations.provenance(revisions[0].id)
    assert found is not None and found["observation"]["published_at"] == "2024-06-20T02:00:00Z"
    [event] = [e for e in await store.events.after(0) if e.payload.get("id") == revisions[1].id]
    assert event.payload["published_at"] == "2024-07-22T02:00:00Z"
