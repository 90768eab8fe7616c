-- 0007: the alert life cycle as Alertmanager users know it.
-- fire_after: a pending alert fires by itself at this time if its condition still holds (its `for`);
--   NULL: held until a rule fires it.
-- keep_firing_s / cleared_at: hysteresis. A firing alert whose condition clears is resolved only once
--   it has stayed clear for keep_firing_s; cleared_at is when it was first seen clear (NULL while it holds).
-- inhibited_by / silenced_by: why an open alert is muted (the inhibiting alert, the silence); NULL: not.
ALTER TABLE alerts ADD COLUMN fire_after TEXT;
ALTER TABLE alerts ADD COLUMN keep_firing_s REAL NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN cleared_at TEXT;
ALTER TABLE alerts ADD COLUMN inhibited_by INTEGER;
ALTER TABLE alerts ADD COLUMN silenced_by INTEGER;

-- Every transition of every alert (state, muting), with who caused it when a person did.
CREATE TABLE alert_transitions (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       TEXT NOT NULL,
    state    TEXT NOT NULL,
    muted    TEXT,            -- 'inhibited:<alert id>', 'silenced:<silence id>' or NULL
    actor    TEXT
);
CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id, id);

-- Silences: open alerts matching every given matcher are muted until ends_at (or until removed).
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    matchers   TEXT NOT NULL,   -- JSON: rule, subject, source, agency, area, indicator (those given)
    comment    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    ended_at   TEXT,            -- when it stopped muting: expired (= ends_at) or removed
    ended_by   TEXT             -- who removed it; NULL when it expired
);
CREATE INDEX silences_active ON silences (ended_at, ends_at);
