-- Which process began each run: a token made when the process starts, never the same twice.
-- The pid alone repeats: in a container the server is always PID 1, so runs left 'running' by a
-- killed server looked like its successor's and were never closed. A run is left unfinished when
-- its owner is neither this process nor the one holding the collector lock (<db>.lock).
ALTER TABLE runs ADD COLUMN owner TEXT;
