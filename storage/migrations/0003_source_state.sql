-- 0003: where each source's next incremental pull starts (the upstream's cursor, e.g. an
-- updated_after time). Written in the same transaction as the last page it covers.

CREATE TABLE source_state (
    source     TEXT PRIMARY KEY,
    cursor     TEXT,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
