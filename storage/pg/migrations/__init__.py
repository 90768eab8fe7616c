"""The PostgreSQL store's numbered migrations (``NNNN_name.sql``), applied by ``storage.pg.migrate``."""
