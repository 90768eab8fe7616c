-- 0001: reference data, raw payloads, collection runs, observations (append-only), the event log.
-- Open dates are stored as '0001-01-01' / '9999-12-31' so that "in force on D" is a plain range test.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE categories (
    code    TEXT PRIMARY KEY,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE agencies (
    code           TEXT PRIMARY KEY,
    name_vi        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    valid_from     TEXT NOT NULL DEFAULT '0001-01-01',
    valid_to       TEXT NOT NULL DEFAULT '9999-12-31',
    successor_code TEXT
) WITHOUT ROWID;

-- One row per version of a unit: a code can be reused by the successor (08 Tuyên Quang, 2025-07-01).
CREATE TABLE areas (
    code           TEXT NOT NULL,
    valid_from     TEXT NOT NULL DEFAULT '0001-01-01',
    valid_to       TEXT NOT NULL DEFAULT '9999-12-31',
    name_vi        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    successor_code TEXT,
    PRIMARY KEY (code, valid_from),
    CHECK (valid_from <= valid_to)
) WITHOUT ROWID;

CREATE TABLE indicators (
    code      TEXT PRIMARY KEY,
    name_vi   TEXT NOT NULL,
    name_en   TEXT NOT NULL,
    unit      TEXT NOT NULL,
    frequency TEXT NOT NULL CHECK (frequency IN ('D', 'M', 'Q', 'Y', 'live')),
    category  TEXT NOT NULL REFERENCES categories (code),
    owner     TEXT NOT NULL REFERENCES agencies (code),
    level     TEXT NOT NULL CHECK (level IN ('national', 'provincial', 'national+provincial')),
    kind      TEXT NOT NULL,
    formula   TEXT,
    magnitude REAL
) WITHOUT ROWID;

-- The exact bytes each figure came from, compressed, stored once per sha256.
-- Observations point at it by id, not by the 64-character digest: rows stay small.
CREATE TABLE raw_payloads (
    id           INTEGER PRIMARY KEY,
    digest       TEXT NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    codec        TEXT NOT NULL,
    content_type TEXT,
    received_at  TEXT NOT NULL,
    body         BLOB NOT NULL
);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    requested_by TEXT,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    outcome      TEXT NOT NULL DEFAULT 'running',
    fetched      INTEGER NOT NULL DEFAULT 0,
    new          INTEGER NOT NULL DEFAULT 0,
    revised      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    latency_ms   REAL,
    bytes        INTEGER,
    http_status  INTEGER,
    pid          INTEGER
);
CREATE INDEX runs_by_source ON runs (source, id);
CREATE INDEX runs_running ON runs (outcome) WHERE outcome = 'running';

-- Append-only: a changed figure is a new revision; the triggers below refuse edits and deletes.
-- indicator, run_id and payload_id are checked by ingest, not by foreign keys: on this, the one hot
-- table, the per-row key look-ups cost a third of the insert time (bench/ingest.py).
-- Store.dangling_references() audits them.
CREATE TABLE observations (
    id             INTEGER PRIMARY KEY,
    indicator      TEXT NOT NULL,
    area           TEXT NOT NULL,
    period         TEXT NOT NULL,
    source         TEXT NOT NULL,
    revision       INTEGER NOT NULL CHECK (revision >= 1),
    value          REAL NOT NULL,
    -- OR, not IN: SQLite evaluates an IN list per row through a temporary table (twice the insert cost).
    status         TEXT NOT NULL CHECK (status = 'official' OR status = 'provisional' OR status = 'estimated'),
    collected_at   TEXT NOT NULL,
    run_id         INTEGER,
    payload_id     INTEGER,
    supersedes     INTEGER REFERENCES observations (id),  -- the revision this one replaces
    UNIQUE (indicator, area, period, source, revision)
);

CREATE TRIGGER observations_no_update BEFORE UPDATE ON observations
BEGIN SELECT RAISE(ABORT, 'observations are append-only: ingest a new revision instead'); END;
CREATE TRIGGER observations_no_delete BEFORE DELETE ON observations
BEGIN SELECT RAISE(ABORT, 'observations are append-only'); END;

-- One row per ingest call: what it did, from which bytes, and which figures and events it made.
-- A batch's observations and events have consecutive ids, so a run's figures are found by range
-- (this replaces an index on observations.run_id, which cost a fifth of the insert time).
CREATE TABLE ingests (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    run_id      INTEGER REFERENCES runs (id),
    payload_id  INTEGER REFERENCES raw_payloads (id),
    at          TEXT NOT NULL,
    records     INTEGER NOT NULL,
    new         INTEGER NOT NULL,
    revised     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    first_obs   INTEGER,
    last_obs    INTEGER,
    first_seq   INTEGER,
    last_seq    INTEGER
);
CREATE INDEX ingests_by_run ON ingests (run_id);

-- Why records were refused, kept for the admin (the first 1,000 of each ingest).
CREATE TABLE rejections (
    ingest_id INTEGER NOT NULL REFERENCES ingests (id),
    position  INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (ingest_id, position)
) WITHOUT ROWID;

-- The newest period of every series, for snapshots.
CREATE TABLE series_latest (
    indicator TEXT NOT NULL,
    area      TEXT NOT NULL,
    source    TEXT NOT NULL,
    period    TEXT NOT NULL,
    obs_id    INTEGER NOT NULL REFERENCES observations (id),
    PRIMARY KEY (indicator, area, source)
) WITHOUT ROWID;

-- The feed's one source of truth. seq never goes back, even if old events are pruned.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    type    TEXT NOT NULL,
    at      TEXT NOT NULL,
    obs_id  INTEGER REFERENCES observations (id),
    payload TEXT
);
