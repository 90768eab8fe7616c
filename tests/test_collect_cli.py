"""`opscentre collect` as an admin runs it: through the running server's feed (the default), or in
process with --local; progress and each run's result printed, the action audited."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.config import CollectorSettings
from rules.after_run import Collector
from simulator import SimulatorConfig, start
from storage import Store
from tests.conftest import ROOT
from tests.feedkit import TOKENS, client, feed_server

pytestmark = pytest.mark.slow  # the real command in a process of its own, against a feed server

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def config_file(tmp_path: Path, sim_url: str, feed_port: int = 1) -> Path:
    cfg = tmp_path / "ops.toml"
    cfg.write_text(
        f"""
[database]
path = "ops.db"

[feed]
port = {feed_port}

[[sources]]
name = "nso"
kind = "agency-json"
url = "{sim_url}/agencies/NSO/observations"
agency = "NSO"
every = "1h"

[[sources]]
name = "sbv"
kind = "agency-json"
url = "{sim_url}/agencies/SBV/observations"
agency = "SBV"
every = "1h"
""",
        encoding="utf-8",
    )
    return cfg


async def cli(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPSCENTRE_TOKEN"} | {"PYTHONUTF8": "1"}
    if token is not None:
        env["OPSCENTRE_TOKEN"] = token
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with await start(SimulatorConfig(port=0, now=lambda: NOW)) as s:
        yield s


async def test_collect_local_runs_in_process_and_prints_each_result(tmp_path: Path, sim: Any) -> None:
    cfg = config_file(tmp_path, sim.url)
    result = await cli("collect", "--local", "--agency", "NSO", "--config", str(cfg))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collecting 1 source: nso" in result.stdout
    assert (
        "[1/1]" in result.stdout and "nso: success" in result.stdout and "done: 1 of 1 runs succeeded" in result.stdout
    )
    unknown = await cli("collect", "--local", "--source", "nope", "--config", str(cfg))
    assert unknown.returncode == 2 and "unknown source 'nope'; configured sources: nso, sbv" in unknown.stderr
    nothing = await cli("collect", "--local", "--config", str(cfg))
    assert nothing.returncode == 2 and "--source NAME, --agency CODE or --all" in nothing.stderr


async def test_collect_through_the_feed_as_admin_is_audited(tmp_path: Path, sim: Any) -> None:
    store = await Store.open(tmp_path / "ops.db")
    try:
        cfg0 = config_file(tmp_path, sim.url)
        from cli.config import load

        sources = load(cfg0).sources
        async with Collector(store, sources, CollectorSettings()) as collector:
            async with feed_server(tmp_path / "ops.db", store=store, runs=collector) as server:
                cfg = config_file(tmp_path, sim.url, feed_port=server.port)
                result = await cli("collect", "--all", "--config", str(cfg), token=TOKENS["admin"])
                assert result.returncode == 0, result.stdout + result.stderr
                out = result.stdout
                assert "collecting 2 sources through the feed: nso, sbv" in out
                assert "started run #" in out
                assert out.count("success") == 2 and "done: 2 of 2 runs succeeded" in out

                refused = await cli("collect", "--all", "--config", str(cfg), token=TOKENS["display"])
                assert refused.returncode == 2 and "collecting needs admin" in refused.stdout
                wrong = await cli("collect", "--all", "--config", str(cfg), token="not-a-token-at-all-0000")
                assert wrong.returncode == 2 and "token was refused" in wrong.stderr
                no_token = await cli("collect", "--all", "--config", str(cfg))
                assert no_token.returncode == 2 and "OPSCENTRE_TOKEN" in no_token.stderr
        entries = [e for e in await store.audit.entries() if e.action == "collect.run"]
        assert [(e.actor, e.role, e.target, e.details["sources"]) for e in entries] == [
            ("admin-user", "admin", "all", ["nso", "sbv"])
        ]
        runs = await store.runs.recent()
        assert {(r.source, r.trigger.value, r.requested_by) for r in runs} == {
            ("nso", "manual", "admin-user"),
            ("sbv", "manual", "admin-user"),
        }
    finally:
        await store.close()


async def test_collect_says_clearly_when_no_server_is_running(tmp_path: Path, sim: Any) -> None:
    cfg = config_file(tmp_path, sim.url, feed_port=1)  # nothing listens on port 1
    result = await cli("collect", "--all", "--config", str(cfg), token=TOKENS["admin"])
    assert result.returncode == 2
    assert "cannot reach the feed at ws://127.0.0.1:1/feed" in result.stderr and "--local" in result.stderr


async def test_collect_verbose_never_prints_the_token(tmp_path: Path, sim: Any) -> None:
    store = await Store.open(tmp_path / "ops.db")
    try:
        from cli.config import load

        sources = load(config_file(tmp_path, sim.url)).sources
        async with Collector(store, sources, CollectorSettings()) as collector:
            async with feed_server(tmp_path / "ops.db", store=store, runs=collector) as server:
                cfg = config_file(tmp_path, sim.url, feed_port=server.port)
                token_file = tmp_path / "admin.token"
                token_file.write_text(TOKENS["admin"], encoding="utf-8")
                for how in (
                    ("--token-file", str(token_file)),
                    (),  # from OPSCENTRE_TOKEN
                ):
                    result = await cli(
                        "collect", "-v", "--all", *how, "--config", str(cfg), token=None if how else TOKENS["admin"]
                    )
                    assert result.returncode == 0, result.stdout + result.stderr
                    assert "DEBUG" in result.stderr  # verbose indeed
                    output = result.stdout + result.stderr
                    assert TOKENS["admin"] not in output
                    assert "Bearer" not in output or "Bearer [redacted]" in output
    finally:
        await store.close()


async def test_the_done_result_of_a_collect_comes_after_every_run_finished(tmp_path: Path, sim: Any) -> None:
    store = await Store.open(tmp_path / "ops.db")
    try:
        from cli.config import load

        sources = load(config_file(tmp_path, sim.url)).sources
        async with Collector(store, sources, CollectorSettings()) as collector:
            async with feed_server(tmp_path / "ops.db", store=store, runs=collector) as server:
                async with client(server, "admin", hello={"filter": {"observations": False}}) as admin:
                    await admin.until("snapshot")
                    for n in range(3):
                        await admin.send(
                            {"type": "command", "id": f"c{n}", "idempotency_key": f"collect-all-{n:04d}",
                             "command": {"name": "collect", "all": True}}
                        )  # fmt: skip
                        got = await admin.collect_until(lambda m: m["type"] == "result" and m["status"] == "done")
                        done = got[-1]
                        finished = {m["run"]["id"] for m in got if m["type"] == "run" and m["event"] == "finished"}
                        assert {r["id"] for r in done["data"]["runs"]} <= finished, got
    finally:
        await store.close()
