"""Source leases (storage/repos/leases.py) on both engines: taking, renewing, giving back, the fair
share, the takeover of a dead process's runs, and runs.begin refusing a source another process holds."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from collectors.config import SourceSettings
from collectors.scheduler import LeaseKeeper
from collectors.sole_lease import SoleKeeper
from rules.after_run import Collector
from storage import RunOutcome, RunTrigger, Store
from storage.lock import CollectorLock, DatabaseBusy, Holder
from storage.repos.leases import RULES, SOLE, LeaseNotHeld, Leases

BOTH_ENGINES = True

TTL = timedelta(minutes=5)  # long enough never to expire within a test
GONE = timedelta(0)  # a lease taken with no time left: expired at once (a process that stopped renewing)


async def test_begin_run_refuses_a_source_whose_lease_another_process_holds(store: Store) -> None:
    store.leases.required = True
    other = Leases(store.state, TTL, owner="another-process")
    assert await other.acquire("gso")
    with pytest.raises(LeaseNotHeld, match=r"source gso is not this process.s to run: .*another-process"):
        await store.runs.begin("gso", RunTrigger.SCHEDULE)
    with pytest.raises(LeaseNotHeld, match="lease is free or expired"):
        await store.runs.begin("mof", RunTrigger.MANUAL, "admin")  # nobody holds it: not ours either
    assert await store.runs.recent() == []  # refused whole: no run recorded
    mine = Leases(store.state, TTL)
    assert not await mine.acquire("gso")  # held by the other, unexpired
    assert await mine.acquire("mof")
    run, _ = await store.runs.begin("mof", RunTrigger.SCHEDULE)
    assert (run.source, run.outcome) == ("mof", RunOutcome.RUNNING)


async def test_an_expired_lease_is_refused_to_its_holder_and_taken_by_another(store: Store) -> None:
    store.leases.required = True
    mine = Leases(store.state, GONE)
    assert await mine.acquire("gso")
    with pytest.raises(LeaseNotHeld):
        await store.runs.begin("gso", RunTrigger.SCHEDULE)  # expired: it may be someone else's by now
    assert await mine.renew() == set()  # an expired lease is not renewed: it must be taken again
    other = Leases(store.state, TTL, owner="another-process")
    assert await other.acquire("gso")
    assert await other.holders() == {"gso": "another-process"}
    assert not await mine.release("gso")  # not ours to give back
    assert await other.release("gso")
    assert await other.holders() == {}


async def test_renew_extends_only_the_owners_unexpired_leases(store: Store) -> None:
    mine = Leases(store.state, TTL)
    other = Leases(store.state, TTL, owner="another-process")
    assert await mine.acquire("gso") and await mine.acquire("mof") and await other.acquire("sbv")
    assert await mine.renew() == {"gso", "mof"}
    assert await mine.acquire("gso")  # taking again what one holds renews it


async def test_two_processes_share_the_sources_fairly_and_one_holds_the_rules(store: Store) -> None:
    sources = ["a", "b", "c", "d", "e"]
    first = Leases(store.state, TTL, owner="first")
    second = Leases(store.state, TTL, owner="second")
    alone = await first.balance(sources, busy=())
    assert alone.held == {*sources, RULES} and alone.live == 1
    joined = await second.balance(sources, busy=())  # nothing free yet, but it counts as live now
    assert joined.held == set() and joined.live == 2
    rebalanced = await first.balance(sources, busy={"a", "b"})  # share ceil(5/2) = 3: gives back two not running
    assert rebalanced.live == 2 and rebalanced.released and not rebalanced.released & {"a", "b"}
    assert len(rebalanced.held - {RULES}) == 3 and {"a", "b", RULES} <= rebalanced.held
    after = await second.balance(sources, busy=())
    assert after.held == {*sources} - rebalanced.held == rebalanced.released
    holders = await first.holders()
    assert set(holders) == {*sources, RULES} and holders[RULES] == "first"
    assert sorted(holders.values()).count("second") == 2


async def test_a_newly_started_process_takes_one_source_at_a_time(store: Store) -> None:
    leases = Leases(store.state, TTL, owner="new")
    first = await leases.balance(["a", "b", "c"], busy=(), most_new=1)
    assert len(first.held - {RULES}) == 1 and first.gained == first.held


async def test_a_dead_processs_runs_are_interrupted_by_whoever_takes_its_sources_over(store: Store) -> None:
    store.leases.required = True
    dead = Leases(store.state, GONE)  # this process plays the dead one: it stops renewing (its leases expire)
    assert await dead.acquire("gso")
    dead.ttl = TTL
    await dead.renew()  # nothing: already expired
    assert await dead.acquire("gso")  # taken again (free: expired), so that the run can begin
    run, _ = await store.runs.begin("gso", RunTrigger.SCHEDULE)
    await store.state.writer.run(  # it stops renewing: the lease expires
        lambda conn: (
            conn.execute("UPDATE source_leases SET expires_at = '2000-01-01T00:00:00.000000Z'")
            if not store.dialect.is_pg
            else conn.execute("UPDATE source_leases SET expires_at = now() - interval '1 second'")
        )
    )
    await store.state.writer.run(
        lambda conn: conn.execute("UPDATE runs SET owner = 'dead-process' WHERE id = ?", (run.id,))
    )
    other = Leases(store.state, TTL, owner="survivor")
    taken = await other.balance(["gso"], busy=())
    assert "gso" in taken.gained
    assert [r.id for r in taken.interrupted] == [run.id]
    ended = await store.runs.get(run.id)
    assert ended is not None and ended.outcome is RunOutcome.INTERRUPTED


async def test_keepers_split_the_sources_one_runs_the_rules_and_a_source_not_held_is_not_run(store: Store) -> None:
    store.leases.required = True
    sources = [
        SourceSettings(name=n, kind="agency-json", url="http://127.0.0.1:1/agencies/X/observations", every="1h")
        for n in ("a", "b", "c", "d")
    ]
    rules: dict[str, list[bool]] = {"first": [], "second": []}
    keepers = {}
    async with Collector(store, sources) as one, Collector(store, sources) as two:
        for owner, collector in (("first", one), ("second", two)):
            keeper = LeaseKeeper(Leases(store.state, TTL, owner=owner), collector, on_rules=rules[owner].append)
            keeper._born -= TTL.total_seconds()  # past its first lease period: takes its whole share at once
            collector.holds = keeper.holds
            keepers[owner] = keeper
        await keepers["second"].tick()  # alone: takes everything
        await keepers["first"].tick()  # nothing free, but it counts as live from here on
        await keepers["second"].tick()  # gives back beyond its share
        await keepers["first"].tick()  # takes what was given back
        first, second = keepers["first"].held, keepers["second"].held
        assert (first | second) - {RULES} == {"a", "b", "c", "d"} and not first & second
        assert len(first - {RULES}) == len(second - {RULES}) == 2
        assert rules == {"first": [], "second": [True]}  # the rules timers: in one process only
        theirs = sorted(first - {RULES})[0]
        with pytest.raises(LeaseNotHeld):
            await two.run(theirs, RunTrigger.MANUAL, "admin")  # not this process's: nothing recorded
        assert await store.runs.recent() == []
        await keepers["second"].stop()  # a clean stop gives everything back
        assert rules["second"] == [True, False]
        await keepers["first"].tick()
        assert keepers["first"].held == {"a", "b", "c", "d", RULES} and rules["first"] == [True]


async def test_the_sole_lease_refuses_a_second_holder_by_name_and_its_loss_stops_the_runs(store: Store) -> None:
    """`serve --role all` on PostgreSQL (collectors/sole_lease.py): its __sole__ lease names it to whoever
    it refuses, every run checks it, and a holder whose lease another took stops, saying who took it."""
    lost: list[Holder | None] = []
    mine = SoleKeeper(Leases(store.state, TTL), CollectorLock(store.path), "opscentre serve", on_lost=lost.append)
    store.leases.require_sole(TTL)
    await mine.take()
    run, _ = await store.runs.begin("gso", RunTrigger.SCHEDULE)  # held: runs begin
    other = SoleKeeper(
        Leases(store.state, TTL, owner="other"), CollectorLock(store.path), "opscentre demo", on_lost=lost.append
    )
    with pytest.raises(DatabaseBusy, match=rf"already in use by opscentre serve \(pid {os.getpid()} on"):
        await other.take()
    await mine.tick()  # renewed
    assert lost == [] and not mine.lost
    await store.state.writer.run(  # this process could not reach the database for longer than a lease
        lambda conn: (
            conn.execute("UPDATE source_leases SET expires_at = '2000-01-01T00:00:00.000000Z'")
            if not store.dialect.is_pg
            else conn.execute("UPDATE source_leases SET expires_at = now() - interval '1 second'")
        )
    )
    await other.take()  # expired: another `all` takes it
    await mine.tick()
    assert mine.lost and [h.command if h else None for h in lost] == ["opscentre demo"]
    with pytest.raises(LeaseNotHeld, match="other"):
        await store.runs.begin("gso", RunTrigger.SCHEDULE)  # refused in the run's own transaction
    await mine.stop()  # gives back nothing that is not its own
    assert await Leases(store.state, TTL).holders() == {SOLE: "other"}
    assert run.outcome is RunOutcome.RUNNING
