-- 0013: the leaders' briefings the centre made (storage/repos/briefings.py), kept as made: append-only
-- like the observations (the triggers below refuse edits and deletes), one per (period, lang, format,
-- as_of): made again with the same as_of, a briefing is the same (issue 19), so it is kept once.
-- body: the document's bytes, compressed as raw payloads are (codec 'zlib'); size: of the bytes as made.
-- content_digest: the generator's digest of the content (equal for two makings at one as_of).
-- made_by: the user who asked, or 'schedule'. The same table as PostgreSQL's 0009.
CREATE TABLE briefings (
    id             INTEGER PRIMARY KEY,
    period         TEXT NOT NULL,
    lang           TEXT NOT NULL,
    format         TEXT NOT NULL,
    as_of          TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    size           INTEGER NOT NULL CHECK (size >= 0),
    codec          TEXT NOT NULL,
    body           BLOB NOT NULL,
    made_at        TEXT NOT NULL,
    made_by        TEXT NOT NULL,
    UNIQUE (period, lang, format, as_of)
);
CREATE TRIGGER briefings_no_update BEFORE UPDATE ON briefings
BEGIN SELECT RAISE(ABORT, 'briefings are append-only'); END;
CREATE TRIGGER briefings_no_delete BEFORE DELETE ON briefings
BEGIN SELECT RAISE(ABORT, 'briefings are append-only'); END;
