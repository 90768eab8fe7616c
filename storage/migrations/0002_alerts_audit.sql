-- 0002: alerts with their life cycle, and the hash-chained audit log of user actions.

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    rule            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'acknowledged', 'resolved')),
    message         TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    fired_at        TEXT,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    ack_note        TEXT,
    resolved_at     TEXT,
    updated_at      TEXT NOT NULL
);
-- At most one open alert per rule and subject.
CREATE UNIQUE INDEX alerts_open ON alerts (rule, subject) WHERE state != 'resolved';

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
