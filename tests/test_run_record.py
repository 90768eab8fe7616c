"""The run record is defined once (storage/models.py: ``RunResult``, ``CollectionRun``): the table,
the row reader, the end of a run, the collector's tally and the feed's protocol follow it, so a
field added to the model and forgotten elsewhere fails here, not in production."""

from __future__ import annotations

import dataclasses
import sqlite3

from collectors.pipeline import RunTally
from feed.protocol import RunInfo
from storage import RunOutcome, RunTrigger, Store
from storage.dialect import dialect_for
from storage.models import CollectionRun, RunResult
from storage.rows import RUN_COLUMNS
from storage.writes import RunFinish
from tests.conftest import raw_db

BOTH_ENGINES = True  # each test on SQLite and on PostgreSQL (the store_target fixture, tests/conftest.py)

EVERY_RESULT = {
    "fetched": 11,
    "new": 5,
    "revised": 3,
    "unchanged": 2,
    "rejected": 1,
    "error": "1 record rejected",
    "latency_ms": 12.5,
    "bytes": 2048,
    "http_status": 200,
}


def test_every_result_field_is_set_in_this_test() -> None:
    assert set(EVERY_RESULT) == set(RunResult.model_fields)


def test_the_runs_table_has_a_column_for_every_field(store_target: str) -> None:
    async def columns() -> set[str]:
        async with await Store.open(store_target):
            pass
        if dialect_for(store_target).is_pg:
            conn = raw_db(store_target)
            sql = "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'"
            names = {r[0] for r in conn.execute(sql)}
            conn.close()
            return names
        with sqlite3.connect(store_target) as conn:
            return {r[1] for r in conn.execute("PRAGMA table_info(runs)")}

    import asyncio

    have = asyncio.run(columns())
    assert set(CollectionRun.model_fields) <= have, sorted(set(CollectionRun.model_fields) - have)
    assert RUN_COLUMNS.split(", ") == list(CollectionRun.model_fields)


def test_the_end_of_a_run_and_the_protocol_carry_every_field() -> None:
    assert set(RunFinish.model_fields) == set(RunResult.model_fields) | {"outcome"}
    assert set(CollectionRun.model_fields) <= set(RunInfo.model_fields)
    counts = {f.name for f in dataclasses.fields(RunTally) if f.type in ("int", int)} - {"pages"}
    assert counts <= set(RunResult.model_fields), sorted(counts - set(RunResult.model_fields))


async def test_a_run_ended_with_every_field_reads_back_whole(store_target: str) -> None:
    async with await Store.open(store_target) as store:
        run = await store.runs.start("gso", RunTrigger.MANUAL, "admin")
        ended = await store.runs.finish(run.id, RunOutcome.PARTIAL, **EVERY_RESULT)
        again = await store.runs.get(run.id)
        assert again == ended
        assert {k: getattr(again, k) for k in EVERY_RESULT} == EVERY_RESULT
        assert again.outcome is RunOutcome.PARTIAL and again.requested_by == "admin"
        sent = RunInfo.model_validate(again.model_dump(mode="json"))
        assert {k: getattr(sent, k) for k in EVERY_RESULT} == EVERY_RESULT
