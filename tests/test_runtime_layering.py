"""The import layering at run time: which of our packages a process really loads while it works.

import-linter (test_layering.py) reads the static imports; this runs each layer's real work in a
child process and looks at ``sys.modules`` at the end, so imports hidden in resource lookups,
entry points or lazy ``import`` statements count too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.simulator_fixtures import running

pytestmark = pytest.mark.slow

OURS = {"wording", "storage", "collectors", "rules", "feed", "console", "simulator", "cli"}

REPORT = """
import json as _json, sys as _sys
print("MODULES=" + _json.dumps(sorted({m.split(".")[0] for m in _sys.modules})))
"""

STORAGE = """
import asyncio, os
from datetime import UTC, datetime
from storage import Batch, ObservationIn, Store

async def main():
    store = await Store.open(os.path.join(os.environ["WORKDIR"], "ops.db"))
    try:
        obs = ObservationIn(indicator="GDP_GROWTH", area="VN", period="2020-Q3", value=2.62, status="official")
        await store.observations.ingest(Batch(source="s", records=[obs], collected_at=datetime(2020, 10, 1, tzinfo=UTC)))
        assert await store.observations.history("GDP_GROWTH", "VN")
    finally:
        await store.close()

asyncio.run(main())
"""

COLLECTORS = """
import asyncio, os
from collectors.config import CollectorSettings, SourceSettings
from collectors.pipeline import Collector
from storage import RunTrigger, Store

async def main():
    sim = os.environ["SIM_URL"]
    store = await Store.open(os.path.join(os.environ["WORKDIR"], "ops.db"))
    sources = [
        SourceSettings(name="syn", kind="agency-json", url=sim + "/synthetic/1/observations?records=5", every="1m"),
        SourceSettings(name="portal", kind="portal", url=sim + "/portal/counters", agency="DVCQG", every="5s"),
    ]
    try:
        async with Collector(store, sources, CollectorSettings()) as collector:
            runs = await collector.run_many(["syn", "portal"], RunTrigger.MANUAL, "test")
            assert all(r.outcome.value == "success" for r in runs), runs
    finally:
        await store.close()

asyncio.run(main())
"""

RULES = """
import asyncio, os
from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules.after_run import Collector
from rules.evaluation import evaluate_rules
from storage import RunTrigger, Store

async def main():
    sim = os.environ["SIM_URL"]
    store = await Store.open(os.path.join(os.environ["WORKDIR"], "ops.db"))
    sources = [
        SourceSettings(name="syn", kind="agency-json", url=sim + "/synthetic/1/observations?records=5", every="1m"),
        SourceSettings(name="gone", kind="agency-json", url=sim + "/nowhere", every="1m"),
    ]
    try:
        async with Collector(store, sources, CollectorSettings(retries=0)) as collector:
            collector.rules = RulesSettings()
            ok, failed = await collector.run_many(["syn", "gone"], RunTrigger.MANUAL, "test")
            assert (ok.outcome.value, failed.outcome.value) == ("success", "failed"), (ok, failed)
        await evaluate_rules(store, RulesSettings(), sources)  # the timer's full pass
        assert "source.failing" in {a.rule for a in await store.alerts.listed()}
    finally:
        await store.close()

asyncio.run(main())
"""

FEED = """
import asyncio, json, os
from datetime import timedelta
from websockets.asyncio.client import connect
from feed.config import FeedSettings, UserSettings, hash_token
from feed.server import FeedServer
from storage import Store

async def main():
    store = await Store.open(os.path.join(os.environ["WORKDIR"], "ops.db"))
    token = "display-token-0123456789"
    users = [UserSettings(name="d", role="display", token_sha256=hash_token(token))]
    server = FeedServer(store, FeedSettings(port=0, tick=timedelta(milliseconds=50)), users)
    await server.start()
    try:
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert first["type"] in ("welcome", "snapshot"), first
    finally:
        await server.stop()
        await store.close()

asyncio.run(main())
"""

CONSOLE = """
import console
"""

SIMULATOR = """
import asyncio, urllib.request
import simulator

PATHS = ["/agencies/SBV/observations?page_size=50", "/provinces/01/observations?page_size=50",
         "/sdmx/NSO/data.csv", "/sdmx/NSO/data.xml", "/portal/counters", "/_admin/faults", "/healthz"]

async def main():
    sim = await simulator.start(simulator.SimulatorConfig(port=0))
    try:
        for path in PATHS:
            with await asyncio.to_thread(urllib.request.urlopen, sim.url + path, timeout=60) as r:
                assert r.status == 200, (path, r.status)
    finally:
        await sim.stop()

asyncio.run(main())
"""

# What each layer must never load (DESIGN.md, "Packages, and what each may import").
CONTRACTS = {
    "storage": (STORAGE, OURS - {"storage", "wording"}),
    "collectors": (COLLECTORS, {"rules", "feed", "console", "cli", "simulator"}),
    "rules": (RULES, {"feed", "console", "cli", "simulator"}),
    "feed": (FEED, {"console", "cli", "simulator"}),
    "console": (CONSOLE, {"storage", "collectors", "rules", "simulator", "cli"}),
    "simulator": (SIMULATOR, (OURS - {"simulator"}) | {"aiosqlite"}),
}


async def loaded_modules(script: str, workdir: Path, **env: str) -> set[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(script) + REPORT,
        cwd=ROOT,
        env={**os.environ, "WORKDIR": str(workdir), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, errors = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode == 0, errors.decode()
    line = next(x for x in out.decode().splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


@pytest.mark.parametrize("layer", sorted(CONTRACTS))
async def test_a_layer_at_work_loads_nothing_it_must_not(layer: str, tmp_path: Path) -> None:
    script, forbidden = CONTRACTS[layer]
    async with running() as (sim, _client):
        modules = await loaded_modules(script, tmp_path, SIM_URL=sim.url)
    assert layer in modules
    assert modules & forbidden == set(), f"{layer} loaded {sorted(modules & forbidden)} at run time"


async def test_the_check_sees_a_package_loaded_at_run_time(tmp_path: Path) -> None:
    """The check itself: a script that loads storage lazily is caught."""
    modules = await loaded_modules("import simulator\nimport storage.ingest\n", tmp_path)
    assert "storage" in modules
