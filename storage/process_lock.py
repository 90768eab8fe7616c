"""What a collector lock is on either engine: who holds it, the refusal, and the protocol of its
engine-specific part.

``storage/lock.py``'s ``CollectorLock`` is the one lock the CLI takes; the engine's part of it is a
``ProcessLock`` the store's dialect gives (``Dialect.process_lock``, storage/dialect.py): flocks on a
SQLite file (storage/file_lock.py), a session-level advisory lock on PostgreSQL
(storage/pg/advisory_lock.py). Both name their holder as a ``Holder`` and refuse with ``DatabaseBusy``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Protocol

from storage.writes import StoreError


@dataclass(frozen=True)
class Holder:
    """Who holds a database's collector lock."""

    owner: str
    pid: int
    host: str
    started_at: str
    command: str

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid} on {self.host}, started {self.started_at})"

    def to_text(self) -> str:
        """As a lease row keeps it (``source_leases.holder``)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_text(cls, text: str | None) -> Holder | None:
        """From ``to_text`` (None: not written, or not ours)."""
        try:
            return cls(**json.loads(text)) if text else None
        except (ValueError, TypeError):
            return None


class DatabaseBusy(StoreError):
    """Another process is collecting on this database."""

    def __init__(
        self, db: str, holder: Holder | None, unnamed: str = "another process (it has not said who it is yet)"
    ) -> None:
        who = holder.describe() if holder else unnamed
        super().__init__(f"the database {db} is already in use by {who}")
        self.holder = holder


class ProcessLock(Protocol):
    """One engine's collector lock on one database."""

    @property
    def held(self) -> bool: ...

    def acquire(self, me: Holder, *, shared: bool) -> None:
        """Take the lock as ``me``, or raise DatabaseBusy naming who has it; ``shared``: beside other
        shared holders, never beside an exclusive one (an engine with one collecting process refuses it)."""
        ...

    def keep(self, me: Holder, *, shared: bool) -> bool:
        """Still held (taken again if the engine dropped it: a PostgreSQL restart ends the session that
        held it); False: another process took it meanwhile."""
        ...

    def release(self) -> None: ...

    def holder(self) -> Holder | None:
        """Who holds the lock now (None: nobody); DatabaseBusy if its holder has not said who it is yet."""
        ...
