"""Manual runs queued for a collector process (storage/repos/requests.py, collectors/queued.py) whose
claimer dies after claiming, before its run begins: the request is claimed again by a live process
that can run it (and the caller gets that run), or, if none does within the limit, withdrawn and the
caller told so. (A claim used to last for ever: the caller waited with no limit.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import cast

import pytest

from collectors.config import SourceSettings
from collectors.pipeline import Collector
from collectors.queued import NoCollector, QueuedRuns, serve_requests
from storage import CollectionRun, RunOutcome, RunTrigger, Store
from storage.lock import PROCESS_ID
from storage.repos.leases import Leases, presence

BOTH_ENGINES = True

TTL = timedelta(minutes=5)
LIMIT_S = 30.0  # the caller must be answered well within this
NSO = SourceSettings(name="nso", kind="agency-json", url="http://127.0.0.1:1/x", every="1h")


async def expire(store: Store, owner: str) -> None:
    """``owner`` stops renewing (SIGKILL): its leases are past their expiry."""
    past = "now() - interval '1 second'" if store.dialect.is_pg else "'2000-01-01T00:00:00.000000Z'"
    await store.state.writer.run(
        lambda conn: conn.execute(f"UPDATE source_leases SET expires_at = {past} WHERE owner = ?", (owner,))
    )


async def claimed_by_a_process_that_dies(store: Store, source: str = "nso") -> int:
    """A live collector process holding ``source`` claims the oldest request, then dies before its run."""
    dead = Leases(store.state, TTL, owner="dead")
    assert await dead.acquire(presence("dead")) and await dead.acquire(source)
    request = await store.requests.claim("dead", frozenset({source}))
    assert request is not None
    await expire(store, "dead")
    return request.id


async def test_a_request_whose_claimer_died_is_claimed_again_by_a_live_process(store: Store) -> None:
    added = await store.requests.add(["nso"], "admin-user")
    dead = Leases(store.state, TTL, owner="dead")
    assert await dead.acquire(presence("dead"))
    assert (await store.requests.claim("dead")) is not None
    assert await store.requests.claim("alive") is None  # its claimer lives: nobody else's
    await expire(store, "dead")
    assert await Leases(store.state, TTL, owner="alive").acquire(presence("alive"))
    again = await store.requests.claim("alive", frozenset({"nso"}))
    assert again is not None and (again.id, again.claimed_by) == (added.id, "alive")
    assert await store.requests.claim("third") is None  # claimed by a live process again


async def test_a_request_whose_dead_claimer_began_its_run_is_closed_not_run_again(store: Store) -> None:
    added = await store.requests.add(["nso"], "admin-user")
    mine = Leases(store.state, TTL)  # this process plays the claimer that dies after its run began
    assert await mine.acquire(presence(PROCESS_ID))
    assert await store.requests.claim(PROCESS_ID) is not None
    await store.runs.begin("nso", RunTrigger.MANUAL, "admin-user")
    await expire(store, PROCESS_ID)
    assert await store.requests.claim("alive", frozenset({"nso"})) is None
    closed = await store.requests.get(added.id)
    assert closed is not None and closed.done_at is not None and closed.claimed_by == PROCESS_ID


async def test_a_caller_whose_request_was_claimed_by_a_process_that_died_is_answered_within_a_limit(
    store: Store,
) -> None:
    runs = QueuedRuns(store, [NSO])
    runs.claim_timeout = 0.5  # no other collector process takes it over
    asked = await asked_for(runs)
    request_id = await claimed_by_a_process_that_dies(store)
    async with asyncio.timeout(LIMIT_S):
        with pytest.raises(NoCollector, match=r"collector process dead took the run of nso .* stopped before running"):
            await asked
    assert await store.requests.claim("a-later-collector") is None  # withdrawn: never run behind the caller's back
    withdrawn = await store.requests.get(request_id)
    assert withdrawn is not None and withdrawn.done_at is not None


async def asked_for(runs: QueuedRuns) -> asyncio.Task[list[CollectionRun]]:
    """A caller's `collect` of nso, once its request is queued."""
    asked = asyncio.create_task(runs.run_many(["nso"], requested_by="admin-user"))
    for _ in range(200):
        if await runs.store.requests.get(1) is not None or asked.done():
            break
        await asyncio.sleep(0.05)
    return asked


class Runner:
    """A collector process's part that serve_requests uses: runs each source at once, successfully."""

    def __init__(self, store: Store, sources: Iterable[SourceSettings]) -> None:
        self.store = store
        self.sources = {s.name: s for s in sources}
        self.holds = None

    async def run_many(self, names: Iterable[str], trigger: RunTrigger, requested_by: str | None) -> None:
        for name in names:
            run, _ = await self.store.runs.begin(name, trigger, requested_by)
            await self.store.runs.finish(run.id, RunOutcome.SUCCESS)


async def test_a_request_whose_claimer_died_is_run_by_the_process_that_takes_its_source_over(store: Store) -> None:
    runs = QueuedRuns(store, [NSO])
    asked = await asked_for(runs)
    await claimed_by_a_process_that_dies(store)
    serving = asyncio.create_task(serve_requests(store, cast(Collector, Runner(store, [NSO]))))
    try:
        taken = await store.leases.balance(["nso"], busy=())  # this process takes the dead one's source over
        assert "nso" in taken.gained
        async with asyncio.timeout(LIMIT_S):
            done: list[CollectionRun] = await asked
        assert [(r.source, r.outcome, r.requested_by) for r in done] == [("nso", RunOutcome.SUCCESS, "admin-user")]
        claimed = await store.requests.get(1)
        assert claimed is not None and claimed.claimed_by == PROCESS_ID  # claimed again by the survivor
    finally:
        serving.cancel()
        await asyncio.wait({serving})
