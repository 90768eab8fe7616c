-- 0007: who holds a lease, for the messages that refuse another process (storage/repos/leases.py):
-- `serve --role all` takes the `__sole__` lease (a row that survives a server restart, unlike the
-- session advisory lock), and a second one is refused naming the holder (command, pid, host, start)
-- from here. NULL for the collector processes' source leases. The same column as SQLite's 0012.
ALTER TABLE source_leases ADD COLUMN holder text;
