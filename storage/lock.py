"""Who is collecting on a database: the process identity and the collector lock.

**Process identity.** Every process gets a token when it starts (random, never the same twice);
the runs it begins carry it (``runs.owner``). A pid does not do: in a container the server is
always PID 1, so a restarted server took the runs its killed predecessor left 'running' for its
own and never closed them.

**The collector lock.** One process at a time collects on a database (``serve``, ``demo``,
``collect --local``): it holds the database's collector lock, which names it (pid, host, start time,
token, command) to whoever is refused. What the lock is depends on the engine, and the store's
dialect gives it (``Dialect.process_lock``, storage/dialect.py; the protocol is
storage/process_lock.py): ``flock``s on a SQLite file and its ``<db>.lock`` (storage/file_lock.py),
a session-level advisory lock on PostgreSQL (storage/pg/advisory_lock.py). Either is dropped the
instant its holder dies. (The advisory lock is also dropped when PostgreSQL restarts, while its holder
lives: ``serve --role all`` therefore holds the ``__sole__`` lease row too, which survives a restart,
and takes the advisory lock again after one: collectors/sole_lease.py.) Collector processes among several (``serve --role collector``, PostgreSQL
only) take it *shared*: beside each other, never beside an exclusive holder. Reading commands take
no lock.

So runs left 'running' are easy to tell: those whose owner is neither this process nor the
lock's holder were begun by a process that is gone.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from storage.clock import to_text, utcnow
from storage.dialect import dialect_for
from storage.file_lock import lock_path
from storage.pg.adapter import shown
from storage.process_lock import DatabaseBusy, Holder

__all__ = ["PROCESS_ID", "STARTED_AT", "CollectorLock", "DatabaseBusy", "Holder", "holder", "lock_path", "this_process"]


def _new_identity() -> str:
    return secrets.token_hex(12)


PROCESS_ID = _new_identity()  # this process's identity; a forked child makes its own
STARTED_AT = to_text(utcnow())


def _after_fork() -> None:
    global PROCESS_ID, STARTED_AT
    PROCESS_ID, STARTED_AT = _new_identity(), to_text(utcnow())


os.register_at_fork(after_in_child=_after_fork)


class CollectorLock:
    """The right to collect on the database at ``db``; ``acquire`` or raise DatabaseBusy."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        self._lock = dialect_for(self.db).process_lock(self.db)

    def acquire(self, command: str, *, shared: bool = False) -> None:
        """Take the lock; ``shared`` (PostgreSQL only): beside other shared holders, never beside an
        exclusive one (collector processes among several, which share the sources by leases)."""
        self._lock.acquire(this_process(command), shared=shared)

    def keep(self, command: str, *, shared: bool = False) -> bool:
        """Still held, taken again if the engine dropped it (a PostgreSQL restart); False: another
        process took it meanwhile."""
        return self._lock.keep(this_process(command), shared=shared)

    @property
    def held(self) -> bool:
        return self._lock.held

    @property
    def where(self) -> str:
        """The database as messages name it (a URL without its password)."""
        return shown(self.db)

    def release(self) -> None:
        self._lock.release()


def this_process(command: str) -> Holder:
    """This process, as a lock or lease names its holder to whoever it refuses."""
    return Holder(PROCESS_ID, os.getpid(), socket.gethostname(), STARTED_AT, command)


def holder(db: str | Path) -> Holder | None:
    """Who holds the collector lock of ``db`` now (None: nobody).

    Raises DatabaseBusy if it is held by a process that has not written its name yet.
    """
    return dialect_for(str(db)).process_lock(str(db)).holder()
