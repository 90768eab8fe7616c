"""``serve --role all`` on PostgreSQL: the one collecting process holds its role by a lease row.

Its collector lock is a session advisory lock (storage/pg/advisory_lock.py), which a PostgreSQL
restart drops while the process goes on: another could then start and collect beside it. So the
process also holds the ``__sole__`` lease (storage/repos/leases.py), the row the collector processes'
leases are made of: renewed every ttl/3, timed by the database's clock, surviving a restart, and
checked by the transaction that begins each run (``Leases.require_sole``). A second ``all`` (or a
collector process) is refused while it is unexpired, named by the row's ``holder``.

After a restart the keeper's next pass renews the row (or takes it again, if it expired meanwhile
and nobody else took it) and takes the advisory lock again. If another process took the row (the
database was away longer than a lease, and another ``all`` started), this one stops collecting and
says so (``on_lost``): it does not take the role back behind the other's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from collectors.renewal import Renewal
from storage.lock import CollectorLock, DatabaseBusy, Holder, this_process
from storage.repos.leases import SOLE, Leases
from storage.writes import StoreError

log = logging.getLogger(__name__)


class SoleKeeper:
    """Takes, renews and gives back this process's ``__sole__`` lease, and keeps its collector lock."""

    def __init__(
        self, leases: Leases, lock: CollectorLock, command: str, *, on_lost: Callable[[Holder | None], None]
    ) -> None:
        self.leases = leases
        self.lock = lock
        self.me = this_process(command)
        self.on_lost = on_lost
        self.lost = False
        self._renewal = Renewal(
            self.tick, lambda: self.leases.ttl.total_seconds() / 3, name="opscentre-sole-lease", log=log,
            failed="collector lease pass failed", done=lambda: self.lost,
        )  # fmt: skip

    async def take(self) -> None:
        """At start: take the lease, or raise DatabaseBusy naming who holds it."""
        other = await self.leases.take_sole(self.me.to_text())
        if other is not None:
            raise DatabaseBusy(self.lock.where, Holder.from_text(other))

    async def tick(self) -> None:
        """One pass: renew the lease (taken again if it expired and nobody else took it), then the lock."""
        if self.lost:
            return
        try:
            other = await self.leases.take_sole(self.me.to_text())
        except StoreError as exc:  # the database cannot be reached now: runs cannot begin either
            log.warning("the collector lease (%s) not renewed: %s", SOLE, exc)
            return
        if other is not None:
            self.lost = True
            holder = Holder.from_text(other)
            log.error(
                "this process no longer holds the database's collector lease: %s took it while the database "
                "could not be reached for longer than a lease; this process stops collecting (the feed goes on). "
                "Stop one of the two",
                holder.describe() if holder else "another process",
            )
            self.on_lost(holder)
            return
        if not await asyncio.to_thread(self.lock.keep, self.me.command):
            log.warning("the collector lock is held by another process; this one keeps the collector lease")

    def start(self) -> None:
        self._renewal.start()

    async def stop(self) -> None:
        """Stop renewing and give the lease back (call once the runs in flight are done)."""
        await self._renewal.stop()
        if not self.lost:
            with contextlib.suppress(StoreError):
                await self.leases.release(SOLE)
