"""The catalogue and sources queries, asked by a real client of a real server: everything a client
needs to label a figure, in both languages, without the database or the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collectors.config import CollectorSettings, SourceSettings
from collectors.scheduler import Scheduler
from feed.catalogue import KEY_INDICATORS
from feed.protocol import SERVER_MESSAGE, CatalogueData, Result, SourcesData
from rules.after_run import Collector
from storage import RunOutcome, RunTrigger, Store
from tests.feedkit import client, feed_server

BOTH_ENGINES = True  # each test on SQLite and on PostgreSQL (the store_target fixture, tests/conftest.py)

ROOT = Path(__file__).resolve().parent.parent

SOURCES = [
    SourceSettings.model_validate(dict(name="nso", kind="agency-json", url="http://127.0.0.1:9/agencies/NSO/observations", agency="NSO", every="60s")),
    SourceSettings.model_validate(dict(name="portal", kind="portal", url="http://127.0.0.1:9/portal/counters", cron="*/5 * * * *", jitter="10s")),
    SourceSettings.model_validate(dict(name="off", kind="agency-json", url="http://127.0.0.1:9/x", agency="MOF", every="1h", enabled=False)),
]  # fmt: skip


async def _ask(c: Any, name: str) -> tuple[str, Result]:
    await c.send({"type": "query", "id": "q", "query": {"name": name}})
    while True:
        raw = await c.ws.recv()
        msg = json.loads(raw)
        if msg["type"] == "result":
            result = SERVER_MESSAGE.validate_json(raw)
            assert isinstance(result, Result)
            return raw, result
        assert msg["type"] in ("welcome", "snapshot", "heartbeat"), msg


async def test_catalogue_labels_every_figure_in_both_languages(store_target: str) -> None:
    async with await Store.open(store_target) as store:
        async with Collector(store, SOURCES, CollectorSettings()) as runs:
            async with feed_server(store_target, store=store, runs=runs) as server:
                async with client(server, "display", hello={}) as c:  # the least role reads it
                    raw, result = await _ask(c, "catalogue")
    data = result.data
    assert isinstance(data, CatalogueData)
    ind = {i.code: i for i in data.indicators}
    assert len(ind) == 40
    retail = ind["RETAIL_SALES"]
    assert (retail.unit_vi, retail.unit_en, retail.scale, retail.decimals) == ("nghìn tỷ đồng", "trillion VND", 1e12, 1)
    assert retail.name_en == "Retail sales of goods and consumer services" and retail.frequency == "M"
    assert (ind["USD_CENTRAL_RATE"].decimals, ind["PORTAL_VISITS"].decimals, ind["PORTAL_VISITS"].frequency) == (
        0,
        0,
        "live",
    )
    # Owned by the statistics office of 2020, now the one under the Ministry of Finance.
    assert ind["CPI_YOY"].agency == "NSO" and ind["CPI_YOY"].agency_lineage == ["NSO", "GSO"]
    assert {i.code for i in data.indicators if i.key} == set(KEY_INDICATORS)
    # The wall page's tiles are the same key indicators (settings.js keeps its own copy for the browser).
    display = (ROOT / "feed" / "static" / "settings.js").read_text(encoding="utf-8")
    tiles = display.split("const TILES = [", 1)[1].split("];", 1)[0]
    assert [c.split("'")[1] for c in tiles.split("code: ")[1:]] == list(KEY_INDICATORS)

    areas = data.areas
    in_force = [a for a in areas if a.valid_to is None and a.kind != "nation"]
    former = [a for a in areas if a.valid_to is not None]
    assert len(in_force) == 34
    assert len({a.code for a in areas if a.valid_from is None and a.kind != "nation"}) == 63
    tuyen_quang = next(a for a in in_force if a.code == "08")
    assert tuyen_quang.predecessors == ["02", "08"] and str(tuyen_quang.valid_from) == "2025-07-01"
    ha_giang = next(a for a in former if a.code == "02")
    assert ha_giang.successor == "08" and str(ha_giang.valid_to) == "2025-06-30"

    agencies = {a.code: a for a in data.agencies}
    assert agencies["MOF"].predecessors == ["MPI"] and agencies["MPI"].successor == "MOF"
    assert agencies["NSO"].name_en.startswith("National Statistics Office")
    assert {c.code for c in data.categories} >= {"KTVM", "TCNS"}

    sources = {s.name: s for s in data.sources}
    assert sources["nso"].model_dump() == {
        "name": "nso",
        "kind": "agency-json",
        "agency": "NSO",
        "enabled": True,
        "schedule": "every 60s",
    }
    assert sources["portal"].schedule == "*/5 * * * *" and sources["portal"].agency is None
    assert not sources["off"].enabled
    assert "http" not in raw and "127.0.0.1" not in raw  # no URL reaches any role


async def test_sources_query_shows_circuit_next_run_and_last_run(store_target: str) -> None:
    async with await Store.open(store_target) as store:
        run = await store.runs.start("nso", RunTrigger.SCHEDULE)
        await store.runs.finish(run.id, RunOutcome.FAILED, error="HTTP 503 from the source", http_status=503)
        async with Collector(store, SOURCES, CollectorSettings(breaker_failures=2)) as runs:
            for _ in range(2):  # the breaker itself, as failed runs leave it
                runs.breakers["nso"].record_failure()
            scheduler = Scheduler(runs, run_at_start=False)
            runs.next_run = scheduler.next_run  # as cli/runtime.py wires it
            scheduler.start()
            try:
                async with feed_server(store_target, store=store, runs=runs) as server:
                    async with client(server, "display", hello={}) as c:
                        _, result = await _ask(c, "sources")
            finally:
                scheduler.shutdown()
            async with feed_server(store_target, store=store) as server:  # a server without collectors
                async with client(server, "display", hello={}) as c:
                    _, bare = await _ask(c, "sources")
    data = result.data
    assert isinstance(data, SourcesData)
    by_name = {s.name: s for s in data.sources}
    assert sorted(by_name) == ["nso", "off", "portal"]
    nso = by_name["nso"]
    assert nso.circuit == "open" and nso.last_run is not None and nso.last_run.id == run.id
    assert nso.last_run.outcome == "failed" and nso.last_run.http_status == 503
    assert by_name["portal"].circuit == "closed" and by_name["portal"].last_run is None
    assert nso.next_run is not None and nso.next_run > run.started_at and by_name["portal"].next_run is not None
    assert not by_name["off"].enabled and by_name["off"].next_run is None
    assert isinstance(bare.data, SourcesData)
    assert [(s.name, s.circuit, s.last_run.id if s.last_run else None) for s in bare.data.sources] == [
        ("nso", None, run.id)
    ]
