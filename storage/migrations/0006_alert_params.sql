-- Structured alerts: what an alert is about as typed values (JSON: source, indicator, area, figures,
-- counts, HTTP status, ...), so a client words it in its own language; and the technical detail
-- (an error's text) kept apart from the Vietnamese message operators read.
ALTER TABLE alerts ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
ALTER TABLE alerts ADD COLUMN detail TEXT;
