-- 0008: a batch of figures and events is numbered and checked once per statement, not row by row (issue 18).
--
-- Why: the ingest now writes a batch in one statement (storage/pg/ingest.py), and what it cost then was
-- per row: 0002's seq trigger (the advisory lock, re-entrant, and a max(seq) read for every event) and
-- two foreign keys (events.obs_id, observations.supersedes), each a query and a row lock (written to the
-- WAL) on the referenced figure per row. Measured in the server's CPU time for one 100,000-figure
-- statement (PostgreSQL 15, 2 shared cores), new figures / all revised: 0.89 s / 1.41 s with this
-- migration; 2.07 s / 2.50 s with 0002's row trigger numbering the events; 1.15 s / 1.98 s with the two
-- foreign keys instead of the checks below. The guarantees stay the database's:
--
-- * The seq: a writer of many events calls events_seq_base() once: it takes the same transaction-level
--   advisory lock as 0002 (held to commit) and returns the highest seq so far (committed, or pruned:
--   event_seq_floor); the writer numbers its rows base + 1, base + 2, ... in one INSERT. The row trigger
--   still numbers a row that comes without a seq (every single-row insert elsewhere), now only then
--   (WHEN (NEW.seq IS NULL)). A statement-level check (the inserted rows as a transition table) takes
--   the lock and refuses given seqs that are not exactly the next ones: consecutive, right after every
--   committed event and the floor, none above them. So a client still cannot choose a seq, leave a gap
--   or commit out of order: whoever numbers holds the lock to commit.
-- * events.obs_id names an existing figure, and observations.supersedes the figure's previous revision:
--   checked once per statement, each row by one probe of the primary key (a scalar subquery: never
--   planned as a scan of the whole table). The row lock a foreign key takes on the referenced row only
--   keeps it from being deleted or its key changed meanwhile; observations can be neither (0001's
--   triggers). The predecessor check is stricter than the key was: a revision supersedes revision - 1
--   of the same figure (indicator, area, period, source), and a first revision supersedes nothing.
--   A violation is SQLSTATE 23503 (foreign_key_violation), as before.

-- The advisory lock's key: 0002's ("opsc" "eseq").
CREATE FUNCTION events_seq_base() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(8030045006342612337);
    -- A fresh look after the lock (READ COMMITTED: each statement of a volatile function has its own
    -- snapshot, which also sees the calling statement's earlier rows).
    RETURN greatest(coalesce((SELECT max(seq) FROM events), 0), (SELECT last_seq FROM event_seq_floor));
END $$;

CREATE OR REPLACE FUNCTION events_allocate_seq() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    NEW.seq := events_seq_base() + 1;
    RETURN NEW;
END $$;
DROP TRIGGER events_seq ON events;
CREATE TRIGGER events_seq BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.seq IS NULL)
    EXECUTE FUNCTION events_allocate_seq();

ALTER TABLE events DROP CONSTRAINT events_obs_id_fkey;

CREATE FUNCTION events_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lo bigint;
    hi bigint;
    n bigint;
    prev bigint;
    missing bigint;
BEGIN
    SELECT min(seq), max(seq), count(*) INTO lo, hi, n FROM added;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(8030045006342612337);
    prev := greatest(coalesce((SELECT max(seq) FROM events WHERE seq < lo), 0), (SELECT last_seq FROM event_seq_floor));
    -- n distinct seqs (the primary key) from lo to hi, n apart: consecutive.
    IF lo <> prev + 1 OR hi - lo + 1 <> n OR EXISTS (SELECT FROM events WHERE seq > hi) THEN
        RAISE EXCEPTION USING ERRCODE = '55000',
            MESSAGE = format('events.seq is allocated by the database: %s given, %s is next',
                             CASE WHEN n = 1 THEN lo::text ELSE lo || '..' || hi END, prev + 1);
    END IF;
    SELECT a.obs_id INTO missing FROM added a
    WHERE a.obs_id IS NOT NULL AND (SELECT o.id FROM observations o WHERE o.id = a.obs_id) IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'events',
            MESSAGE = format('events.obs_id %s names no observation', missing);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER events_checked AFTER INSERT ON events REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION events_check();

ALTER TABLE observations DROP CONSTRAINT observations_supersedes_fkey;

CREATE FUNCTION observations_check_predecessor() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    SELECT n.id INTO bad FROM added n
    WHERE CASE WHEN n.supersedes IS NULL THEN n.revision <> 1
          ELSE (SELECT p.indicator = n.indicator AND p.area = n.area AND p.period = n.period
                       AND p.source = n.source AND p.revision + 1 = n.revision
                FROM observations p WHERE p.id = n.supersedes) IS NOT TRUE END
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'observations',
            MESSAGE = format('observation %s: a revision supersedes the previous revision of its figure, '
                             'and a first revision nothing', bad);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER observations_predecessor_checked AFTER INSERT ON observations REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION observations_check_predecessor();
