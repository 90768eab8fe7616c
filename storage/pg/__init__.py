"""The PostgreSQL engine of the store (issue 10): its schema and migrations so far.

Driver: psycopg 3, not asyncpg. psycopg 3 has the same API sync and async (the migration runner and
``opscentre migrate-store`` are plain scripts; the server is asyncio), LISTEN/NOTIFY and COPY in both,
server-side binding through the ordinary ``%s`` parameters, a maintained pool (psycopg-pool), and
binary wheels on PyPI. asyncpg is a little faster on raw fetches but async only, with its own
``$1`` placeholders and no sync API, so the scripts and tests would need an event loop for every query.
"""
