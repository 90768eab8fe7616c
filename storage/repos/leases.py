"""Leases: which collector process runs each source, until when.

Several collector processes on one PostgreSQL (``serve --role collector``) share the sources: a row
of ``source_leases`` (source, owner, expires_at) says which process may run a source until when. A
holder renews its rows every ttl/3; a process that dies stops renewing and its rows expire, and
another takes the sources over. Rows rather than advisory locks: an advisory lock dies with its
session, invisibly to the others, does not survive a server restart, and says neither who held it
nor until when; a row is visible, timed by the database's own clock (``now()`` on PostgreSQL, so the
processes' clocks never matter), and checked by the same SQL everywhere, including in the very
transaction that begins a run (``check_held``): a run never begins in a process that does not hold
its source.

Each of acquire, renew and release is one statement. ``balance`` is a collector process's periodic
pass, in one transaction: renew what it holds (and its own presence row ``__process__ OWNER``, so that a
process holding no source yet counts as live), count the live collector processes (owners of an
unexpired lease), give back what it holds beyond its fair share (ceil(sources / live), only sources
not running now), take free or expired ones up to that share, try for ``__rules__`` (whose holder
runs the alert and rules timers), and mark interrupted the runs left 'running' by owners that hold no
unexpired lease (processes that are gone).

On SQLite (one collecting process, under the collector lock's flock) the same SQL works with the
time given by the process, which is the only one writing; the table is used there only by tests.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from storage import writes
from storage.conn import Connection
from storage.dialect import Dialect
from storage.lock import PROCESS_ID
from storage.models import CollectionRun
from storage.pg.notify import REQUESTS
from storage.repos.base import StoreState
from storage.writes import StoreError

RULES = "__rules__"  # the pseudo-source whose holder runs the alert and rules timers
SOLE = "__sole__"  # the lease of the one collecting process on PostgreSQL (``serve --role all``)
PRESENCE = (
    "__process__ "  # + owner: each collector process's own row, so that it counts as live before it holds a source
)


def presence(owner: str) -> str:
    return PRESENCE + owner


class LeaseNotHeld(StoreError):
    """This process does not hold the source's lease: another collector process runs it."""

    def __init__(self, source: str, holder: str | None) -> None:
        who = f"collector process {holder}" if holder else "no collector process (the lease is free or expired)"
        super().__init__(f"source {source} is not this process's to run: its lease is held by {who}")
        self.source = source
        self.holder = holder


def acquire(conn: Connection, d: Dialect, source: str, owner: str, ttl: timedelta, holder: str | None = None) -> bool:
    """Take ``source`` if it is free, expired or already ``owner``'s (then it is renewed); ``holder``:
    who takes it, as the refusal of another names it (``Holder.to_text``, storage/process_lock.py)."""
    now, until, params = d.times(ttl)
    row = conn.execute(
        f"""INSERT INTO source_leases (source, owner, expires_at, holder) VALUES (:source, :owner, {until}, :holder)
            ON CONFLICT (source) DO UPDATE
            SET owner = excluded.owner, expires_at = excluded.expires_at, holder = excluded.holder
            WHERE source_leases.owner = excluded.owner OR source_leases.expires_at <= {now}
            RETURNING source""",
        {**params, "source": source, "owner": owner, "holder": holder},
    ).fetchone()
    return row is not None


def take_sole(conn: Connection, d: Dialect, owner: str, ttl: timedelta, holder: str) -> str | None:
    """Take or renew the ``__sole__`` lease (``serve --role all`` on PostgreSQL): renewed while it is
    ``owner``'s (also once expired, if nobody took it meanwhile); taken only while no other owner holds an
    unexpired lease (another ``all``, a collector process among several). None when held, else the
    holder text of who has it (empty: a process that names no holder)."""
    now, _, params = d.times(timedelta())
    ours = conn.execute(
        "SELECT 1 FROM source_leases WHERE source = :sole AND owner = :owner", {"sole": SOLE, "owner": owner}
    ).fetchone()
    others = None
    if ours is None:
        others = conn.execute(
            f"SELECT holder, source FROM source_leases WHERE owner <> :owner AND expires_at > {now} "
            "ORDER BY source <> :sole, source",
            {**params, "owner": owner, "sole": SOLE},
        ).fetchone()
    if others is None and acquire(conn, d, SOLE, owner, ttl, holder):
        return None
    return "" if others is None or others[0] is None else str(others[0])


def renew(conn: Connection, d: Dialect, owner: str, ttl: timedelta) -> set[str]:
    """Extend every unexpired lease of ``owner``; returns the sources it still holds."""
    now, until, params = d.times(ttl)
    rows = conn.execute(
        f"UPDATE source_leases SET expires_at = {until} WHERE owner = :owner AND expires_at > {now} RETURNING source",
        {**params, "owner": owner},
    ).fetchall()
    return {str(r[0]) for r in rows}


def release(conn: Connection, source: str, owner: str) -> bool:
    """Give ``source`` back (only if ``owner`` holds it)."""
    row = conn.execute(
        "DELETE FROM source_leases WHERE source = :source AND owner = :owner RETURNING source",
        {"source": source, "owner": owner},
    ).fetchone()
    return row is not None


def live_owners(conn: Connection, d: Dialect) -> set[str]:
    """The processes holding an unexpired lease."""
    now, _, params = d.times(timedelta())
    rows = conn.execute(f"SELECT DISTINCT owner FROM source_leases WHERE expires_at > {now}", params).fetchall()
    return {str(r[0]) for r in rows}


def check_held(conn: Connection, d: Dialect, source: str, owner: str, lease: str | None = None) -> None:
    """Raise LeaseNotHeld unless ``owner`` holds an unexpired lease on ``source`` (or on ``lease``, the
    lease a run of it needs: ``__sole__`` for ``serve --role all``), in the caller's transaction: the
    one that begins the run."""
    now, _, params = d.times(timedelta())
    row = conn.execute(
        f"SELECT owner, expires_at > {now} FROM source_leases WHERE source = :source",
        {**params, "source": lease or source},
    ).fetchone()
    if row is None or not row[1]:
        raise LeaseNotHeld(source, None)
    if row[0] != owner:
        raise LeaseNotHeld(source, str(row[0]))


def interrupt_orphans(conn: Connection, d: Dialect, owner: str) -> list[CollectionRun]:
    """Mark interrupted the runs left 'running' by owners holding no unexpired lease (gone)."""
    alive = live_owners(conn, d) | {owner}
    return writes.mark_interrupted(conn, lambda who: who in alive)


def _order(sources: Collection[str], owner: str) -> list[str]:
    """The order in which ``owner`` tries free sources: its own, so that processes starting together
    go after different ones first."""
    return sorted(sources, key=lambda s: hashlib.sha256(f"{owner} {s}".encode()).digest())


@dataclass
class Balance:
    """What one ``balance`` pass left this process holding, and what it changed."""

    held: set[str] = field(default_factory=set)  # sources and maybe RULES
    gained: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)
    live: int = 1
    interrupted: list[CollectionRun] = field(default_factory=list)


def balance(
    conn: Connection,
    d: Dialect,
    owner: str,
    ttl: timedelta,
    sources: Sequence[str],
    busy: Collection[str],
    *,
    most_new: int | None = None,
) -> Balance:
    """One collector process's pass (see the module's doc); ``most_new`` caps how many sources it
    takes in this pass (a process just started takes one at a time, so that its peers starting beside
    it are seen before it takes everything)."""
    acquire(conn, d, presence(owner), owner, ttl)  # live from now on, even holding no source yet
    out = Balance(held=renew(conn, d, owner, ttl) - {presence(owner)})
    live = live_owners(conn, d) | {owner}
    out.live = len(live)
    share = math.ceil(len(sources) / len(live))
    mine = sorted(out.held & set(sources))
    for source in reversed(mine):  # beyond the share: give back what is not running
        if len(out.held & set(sources)) <= share:
            break
        if source not in busy and release(conn, source, owner):
            out.held.discard(source)
            out.released.add(source)
    want = share - len(out.held & set(sources))
    if most_new is not None:
        want = min(want, most_new)
    for source in _order(set(sources) - out.held, owner):
        if want <= 0:
            break
        if acquire(conn, d, source, owner, ttl):
            out.held.add(source)
            out.gained.add(source)
            want -= 1
    if RULES not in out.held and acquire(conn, d, RULES, owner, ttl):
        out.held.add(RULES)
        out.gained.add(RULES)
    if out.gained:
        out.interrupted = interrupt_orphans(conn, d, owner)
        d.notify(conn, REQUESTS, "")  # manual runs of those sources, claimed by a process now gone, may be taken
    return out


DEFAULT_TTL = timedelta(seconds=15)  # [collector] lease, unless the configuration says otherwise


class Leases:
    """This process's leases on the store's database (``ttl``: how long a lease lasts unrenewed).

    ``store.leases`` is this process's; another owner's (a test's other process) is built on the same
    ``StoreState``. Until ``require`` is called, runs begin whatever the leases say (one collecting
    process, or a process that only reads)."""

    def __init__(self, state: StoreState, ttl: timedelta = DEFAULT_TTL, owner: str = PROCESS_ID) -> None:
        self._state = state
        self.ttl = ttl
        self.owner = owner
        self.required = False  # runs.begin refuses (LeaseNotHeld) a source this process does not hold
        self.sole = False  # runs.begin refuses every source unless this process holds SOLE

    def require(self, ttl: timedelta) -> None:
        """This process is a collector among several (cli/runtime.py): from now on a run begins only for
        a source whose lease it holds (checked in the run's own transaction), leases lasting ``ttl``."""
        self.ttl = ttl
        self.required = True

    def require_sole(self, ttl: timedelta) -> None:
        """This process is ``serve --role all`` on PostgreSQL: from now on a run begins only while it
        holds the ``__sole__`` lease (checked in the run's own transaction), leases lasting ``ttl``."""
        self.ttl = ttl
        self.sole = True

    def needed(self, source: str) -> str | None:
        """The lease a run of ``source`` needs held (None: none)."""
        return source if self.required else SOLE if self.sole else None

    async def take_sole(self, holder: str) -> str | None:
        """Take or renew ``__sole__`` as ``holder``; None when held, else the holder text of who has it."""
        return await self._state.writer.run(
            lambda conn: take_sole(conn, self._state.dialect, self.owner, self.ttl, holder)
        )

    async def sole_holder(self) -> str | None:
        """The holder text of another process's unexpired ``__sole__`` lease (None: nobody else's)."""
        now, _, params = self._state.dialect.times(timedelta())
        sql = f"SELECT holder FROM source_leases WHERE source = :sole AND owner <> :owner AND expires_at > {now}"
        async with self._state.reader.execute(sql, {**params, "sole": SOLE, "owner": self.owner}) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0] or "")

    async def acquire(self, source: str) -> bool:
        return await self._state.writer.run(
            lambda conn: acquire(conn, self._state.dialect, source, self.owner, self.ttl)
        )

    async def renew(self) -> set[str]:
        return await self._state.writer.run(lambda conn: renew(conn, self._state.dialect, self.owner, self.ttl))

    async def release(self, source: str) -> bool:
        return await self._state.writer.run(lambda conn: release(conn, source, self.owner))

    async def release_all(self) -> None:
        """Give every lease back (a clean stop: the others need not wait for them to expire)."""
        await self._state.writer.run(
            lambda conn: conn.execute("DELETE FROM source_leases WHERE owner = :owner", {"owner": self.owner})
        )

    async def balance(self, sources: Sequence[str], busy: Collection[str], *, most_new: int | None = None) -> Balance:
        return await self._state.writer.run(
            lambda conn: balance(conn, self._state.dialect, self.owner, self.ttl, sources, busy, most_new=most_new)
        )

    async def live(self, owner: str) -> bool:
        """Whether ``owner`` holds an unexpired lease (a collector process that is alive and reaching
        the database)."""
        now, _, params = self._state.dialect.times(timedelta())
        sql = f"SELECT 1 FROM source_leases WHERE owner = :owner AND expires_at > {now}"
        async with self._state.reader.execute(sql, {**params, "owner": owner}) as cur:
            return await cur.fetchone() is not None

    async def holders(self) -> dict[str, str]:
        """Every unexpired lease of a source (or RULES): source -> owner."""

        def read(conn: Connection) -> dict[str, str]:
            now, _, params = self._state.dialect.times(timedelta())
            rows = conn.execute(f"SELECT source, owner FROM source_leases WHERE expires_at > {now}", params)
            return {str(s): str(o) for s, o in rows.fetchall() if not str(s).startswith(PRESENCE)}

        return await self._state.writer.run(read)
