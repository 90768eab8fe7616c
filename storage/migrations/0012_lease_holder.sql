-- Who holds a lease, for the messages that refuse another process (storage/repos/leases.py): the
-- `__sole__` lease of `serve --role all` on PostgreSQL names its holder (command, pid, host, start) as
-- the collector lock does. NULL for the collector processes' source leases. The same column as
-- PostgreSQL's 0007, so both engines keep one schema.
ALTER TABLE source_leases ADD COLUMN holder TEXT;
