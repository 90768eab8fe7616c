-- 0008: manual runs asked of any process (a feed-only process has no collectors), queued for a
-- collector process to claim (collectors/queued.py). sources: a JSON array of source names.
-- claimed_by: the claiming process's identity (storage/lock.py PROCESS_ID); done_at: its runs ended.
CREATE TABLE run_requests (
    id           INTEGER PRIMARY KEY,
    sources      TEXT NOT NULL,
    requested_by TEXT,
    trigger      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    claimed_by   TEXT,
    claimed_at   TEXT,
    done_at      TEXT
);
CREATE INDEX run_requests_unclaimed ON run_requests (id) WHERE claimed_by IS NULL;
