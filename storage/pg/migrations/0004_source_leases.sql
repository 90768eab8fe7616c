-- 0004: which collector process runs each source, until when (storage/repos/leases.py).
--
-- Lease rows with an expiry rather than advisory locks: an advisory lock dies with its session,
-- invisibly to the others, does not survive a server restart, and says neither who held it nor until
-- when; a row is visible (who, until when), timed by the database's own clock (expires_at is
-- written as now() + ttl, so the processes' clocks never matter), and checked by the same SQL
-- everywhere, including in the transaction that begins a run. `__rules__` is the pseudo-source whose
-- holder runs the alert and rules timers.
CREATE TABLE source_leases (
    source     text PRIMARY KEY,
    owner      text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX source_leases_owner ON source_leases (owner);
