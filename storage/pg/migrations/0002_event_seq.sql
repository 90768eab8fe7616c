-- 0002: the event seq, gap-free within the epoch even with several writing processes.
--
-- How: a BEFORE INSERT trigger on events takes a transaction-level advisory lock (held until the
-- writing transaction commits or rolls back) and numbers the row max(seq) + 1; not a SEQUENCE, which
-- hands out numbers outside transactions and leaves a gap at every rollback. So:
--   * a rolled-back transaction takes its rows and the lock with it: the next writer reuses its numbers,
--     no gap;
--   * no two transactions number events at once: no duplicate (the primary key would refuse one
--     anyway), and they commit in seq order, so a reader of "seq > N" never sees N+2 before N+1 is
--     visible (with a sequence it could, and skip N+1 for ever);
--   * a client cannot choose a seq: a given one must equal the number allocated, else the insert is refused.
-- Old events may be pruned, but a number is never reused: deleting events raises event_seq_floor to
-- the highest number deleted, and numbering starts above it.
--
-- What it costs: writers of events are one at a time from their first event to their commit (as
-- with SQLite's single writer), so a writer inserts its events early in a short transaction (before
-- its observations: that also keeps a batch's observation ids consecutive) and commits. Per event, a
-- re-entrant lock call and one descent of the events primary key: 100,000 events in one INSERT took
-- 1.2 s against 0.29 s with the numbers given and no trigger, 10,000 one-row INSERTs (executemany)
-- 0.35 s against 0.27 s (PostgreSQL 15, fsync off, a 2-core machine). Writers use READ COMMITTED (the default): under REPEATABLE READ the second of two
-- writers would read an old max(seq) and be refused by the primary key, and must retry.
--
-- Not a one-row counter updated per event: every UPDATE of one row in one transaction leaves a
-- version the next UPDATE must scan past, so a batch of n events costs O(n^2) (100,000 events: 105 s,
-- against 0.17 s without numbering).

-- The highest seq ever pruned (0: none): numbering never goes back below it.
CREATE TABLE event_seq_floor (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),  -- exactly one row
    last_seq bigint NOT NULL CHECK (last_seq >= 0)
);
INSERT INTO event_seq_floor (one, last_seq) VALUES (true, 0);

-- The advisory lock's key: "opsc" "eseq" as two 32-bit halves, unlikely to meet anyone else's lock.
CREATE FUNCTION events_allocate_seq() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    allocated bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(8030045006342612337);
    -- A fresh look after the lock (READ COMMITTED): sees every committed event, and this statement's
    -- earlier rows (a row-level BEFORE trigger sees the rows its command inserted before).
    SELECT greatest(coalesce((SELECT max(seq) FROM events), 0), (SELECT last_seq FROM event_seq_floor)) + 1
        INTO allocated;
    IF NEW.seq IS NOT NULL AND NEW.seq <> allocated THEN
        RAISE EXCEPTION USING ERRCODE = '55000',
            MESSAGE = format('events.seq is allocated by the database: %s given, %s is next', NEW.seq, allocated);
    END IF;
    NEW.seq := allocated;
    RETURN NEW;
END $$;
CREATE TRIGGER events_seq BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_allocate_seq();

-- Pruning raises the floor, once per DELETE statement.
CREATE FUNCTION events_raise_floor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_seq_floor SET last_seq = greatest(last_seq, coalesce((SELECT max(seq) FROM pruned), 0));
    RETURN NULL;
END $$;
CREATE TRIGGER events_pruned AFTER DELETE ON events REFERENCING OLD TABLE AS pruned
    FOR EACH STATEMENT EXECUTE FUNCTION events_raise_floor();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT
    EXECUTE FUNCTION refuse_change('events are pruned with DELETE, which keeps their numbers from being reused');

-- A seq never changes.
CREATE TRIGGER events_seq_fixed BEFORE UPDATE OF seq ON events FOR EACH ROW
    WHEN (NEW.seq IS DISTINCT FROM OLD.seq)
    EXECUTE FUNCTION refuse_change('an event''s seq never changes');

-- The floor never goes back; moving it forward stays possible (migrate-store starts a copy's numbering
-- where its SQLite original's oldest kept event is).
CREATE FUNCTION event_seq_floor_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_seq < OLD.last_seq THEN
        RAISE EXCEPTION USING ERRCODE = '55000',
            MESSAGE = format('the event seq never goes back (%s to %s)', OLD.last_seq, NEW.last_seq);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER event_seq_floor_forward BEFORE UPDATE ON event_seq_floor FOR EACH ROW
    EXECUTE FUNCTION event_seq_floor_forward_only();
CREATE TRIGGER event_seq_floor_no_delete BEFORE DELETE ON event_seq_floor FOR EACH ROW
    EXECUTE FUNCTION refuse_change('the event seq floor is never removed');
CREATE TRIGGER event_seq_floor_no_truncate BEFORE TRUNCATE ON event_seq_floor FOR EACH STATEMENT
    EXECUTE FUNCTION refuse_change('the event seq floor is never removed');
