-- Which collector process runs each source, until when (storage/repos/leases.py). Used on PostgreSQL
-- by `serve --role collector` processes sharing the sources; on SQLite (one collecting process, the
-- collector lock's flock) the table stays empty but exists, so both engines have the same schema.
-- `__rules__` is the pseudo-source whose holder runs the alert and rules timers.
CREATE TABLE source_leases (
    source     TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,   -- the holder's process identity (storage/lock.py PROCESS_ID)
    expires_at TEXT NOT NULL    -- UTC; the lease is free once this is past
);
