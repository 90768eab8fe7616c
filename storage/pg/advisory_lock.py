"""The collector lock of a PostgreSQL store: a session-level advisory lock on a connection of its own.

There is no file to lock: the exclusive right is ``pg_try_advisory_lock`` held by a session whose
``application_name`` names the holder (token, pid, command); the server drops it the instant that
connection ends, as the kernel drops a flock. If the server restarts, the lock is gone with the
session: ``keep`` takes it again (``serve --role all`` calls it on each pass of its ``__sole__`` lease,
the row that survives a restart and which its runs check: collectors/sole_lease.py).
Collector processes among several (``serve --role collector``) take it *shared*: they run beside each
other, never beside an exclusive holder, and share the sources by lease rows (storage/repos/leases.py).
"""

from __future__ import annotations

import contextlib

import psycopg

from storage.pg.adapter import CONNECT_TIMEOUT_S, STORE_TYPES, shown
from storage.process_lock import DatabaseBusy, Holder

# pg_try_advisory_lock key: "opsc" "coll" as two 32-bit halves (the migrations and seq use others).
COLLECTOR_LOCK = 0x6F707363_636F6C6C
_APP_PREFIX = "opsc:"  # short: application_name keeps 63 bytes, the command needs most


class AdvisoryLock:
    """The ``ProcessLock`` (storage/process_lock.py) of the PostgreSQL database at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self, me: Holder, *, shared: bool) -> None:
        name = f"{_APP_PREFIX}{me.owner} {me.pid} {me.command}"[:63]  # PostgreSQL keeps 63 bytes
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name=name)
        take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        row = conn.execute(f"SELECT {take}(%s)", (COLLECTOR_LOCK,)).fetchone()
        if not (row and row[0]):
            conn.close()
            raise DatabaseBusy(shown(self.url), self.holder())
        self._conn = conn

    def keep(self, me: Holder, *, shared: bool) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:  # the session ended (a server restart, a cut): the lock with it
                self.release()
        try:
            self.acquire(me, shared=shared)
        except DatabaseBusy:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(psycopg.Error):
                conn.close()  # ending the session drops the advisory lock

    def holder(self) -> Holder | None:
        """From the holding session's application_name (its start loaded as the store's time text)."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, context=STORE_TYPES) as conn:
            row = conn.execute(
                "SELECT a.application_name, coalesce(host(a.client_addr), 'local'), a.backend_start "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
                (COLLECTOR_LOCK >> 32, COLLECTOR_LOCK & 0xFFFFFFFF),
            ).fetchone()
        if row is None:
            return None
        name, host, started = row
        parts = str(name).removeprefix(_APP_PREFIX).split(" ", 2)
        if not str(name).startswith(_APP_PREFIX) or len(parts) < 2 or not parts[1].isdigit():
            raise DatabaseBusy(shown(self.url), None)
        return Holder(parts[0], int(parts[1]), host, started, parts[2] if len(parts) > 2 else "")
