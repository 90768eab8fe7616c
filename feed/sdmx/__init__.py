"""Open data in SDMX: read-only HTTP endpoints under ``/sdmx/v2/`` after the SDMX REST API 2.0
(docs/opendata.md). ``structure``: the centre's one dataflow and what describes it; ``query``: the
paths and parameters, parsed strictly; ``data``: the figures a query selects, read from the store;
``formats``: SDMX-CSV 2.0, SDMX-JSON 2.0 and SDMX-ML 3.0 data; ``http``: tokens, roles, rate,
audit and the answers."""
