-- 0010: the upstream's own publication time of a figure, per revision, as the record bringing it said
-- (the agency API's `published_at`, else its `updated_at`); NULL where the source gives none (SDMX).
-- Timeliness judges a report by it (collectors/reporting.py, docs/rules.md). The same column as
-- PostgreSQL's 0005; nullable, so every figure stored before keeps its meaning (the centre's clock).
ALTER TABLE observations ADD COLUMN published_at TEXT;
