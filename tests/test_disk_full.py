"""The disk under the database fills up during a history pull (a small tmpfs of the test's own):
`/readyz` says not ready, an alert fires, nothing crashes, every run is ended, and once space is
freed the server recovers on its own with an intact database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Awaitable, Iterator
from pathlib import Path

import httpx
import pytest

from simulator import SimulatorConfig, start
from storage import Batch, ObservationIn, RunOutcome, RunTrigger, Store
from storage.writes import RunFinish, StoreUnavailable
from tests.servekit import AGENCIES, Served, query, serve_config
from tests.simulator_fixtures import DEMO_DAY

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (we run as root, in CI too)."""
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; returns the file that holds them."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk = b"\0" * (1 << 20)
        while True:
            os.write(fd, chunk)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return ballast


def readyz(port: int | None) -> tuple[int, str]:
    if port is None:
        return 0, ""
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    except httpx.HTTPError as exc:
        return 0, repr(exc)
    return r.status_code, r.text


async def test_a_full_disk_during_a_pull_is_survived_alerted_and_recovered(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "32m") as disk:
        db = disk / "ops.db"
        async with await start(SimulatorConfig(port=0, now=lambda: DEMO_DAY)) as sim:
            async with httpx.AsyncClient() as http:
                fault = {"endpoint": "/agencies/*", "kind": "latency", "ms": 100}
                (await http.put(f"{sim.url}/_admin/faults", json=fault)).raise_for_status()
            cfg = tmp_path / "ops.toml"
            cfg.write_text(serve_config(sim.url, db, grace="30s", page_size=100), encoding="utf-8")
            served = Served(cfg)
            try:
                await served.wait_for(
                    "the pull to be under way",
                    lambda: (
                        served.port is not None
                        and len(query(db, "SELECT id FROM runs WHERE outcome = 'running'")) >= 2
                        and len(query(db, "SELECT id FROM ingests")) >= 3
                    ),
                )
                assert readyz(served.port)[0] == 200

                ballast = fill(disk)
                said: list[str] = []

                def not_ready() -> bool:
                    status, text = readyz(served.port)
                    said.append(text)
                    return status == 503

                await served.wait_for("/readyz to say not ready", not_ready)
                assert "database" in said[-1] and "full" in said[-1], said[-1]
                assert served.proc.poll() is None  # no crash

                ballast.unlink()  # space returns
                await served.wait_for("/readyz to say ready again", lambda: readyz(served.port)[0] == 200)
                await served.wait_for(
                    "every run to be ended and the alert recorded",
                    lambda: (
                        query(db, "SELECT count(*) FROM runs WHERE outcome = 'running'") == [(0,)]
                        and bool(query(db, "SELECT id FROM alerts WHERE rule = 'storage.write_failed'"))
                    ),
                )
                assert await served.stop() == 0, served.output
            finally:
                served.kill()

        output = served.output
        assert "Traceback" not in output, output
        assert "cannot be written: database or disk is full" in output
        assert "can be written again" in output
        runs = query(db, "SELECT source, outcome, ended_at, error FROM runs")
        assert all(outcome != "running" and ended for _, outcome, ended, _ in runs), runs
        # The runs the full disk cut short say so; the others finished before it or after it.
        failed = [error for _, outcome, _, error in runs if outcome == "failed"]
        assert failed and all("database or disk is full" in error for error in failed), runs
        ((message, detail, state),) = query(
            db, "SELECT message, detail, state FROM alerts WHERE rule = 'storage.write_failed'"
        )
        # Operators read Vietnamese; the database's own words are the detail.
        assert "Không ghi được" in message and "ổ đĩa đầy" in message and "full" not in message
        assert "cannot be written" in detail and "full" in detail
        assert state == "resolved"  # writable again, the alert closed on its own
        assert {s for s, *_ in runs} <= {a.lower() for a in AGENCIES}
        assert query(db, "PRAGMA integrity_check") == [("ok",)]
        # Every batch is whole: each ingest's figures are all there.
        for first, last, new, revised in query(
            db, "SELECT first_obs, last_obs, new, revised FROM ingests WHERE first_obs IS NOT NULL"
        ):
            assert query(db, "SELECT count(*) FROM observations WHERE id BETWEEN ? AND ?", (first, last)) == [
                (new + revised,)
            ]


async def test_the_store_on_a_full_disk_refuses_each_write_alone_and_catches_up_when_space_returns(
    tmp_path: Path,
) -> None:
    """The writer survives transactions the disk refuses: every caller gets an error of its own
    (one exception object raised in many tasks tangles their tracebacks), the writer goes on, and
    what could not be written is written, and the alert resolved, once it can."""
    with small_disk(tmp_path / "disk", "16m") as disk:
        store = await Store.open(disk / "ops.db")
        try:
            store.probe_every = 0.05
            store.state.writer.recovery_hold = 0.2
            running = await store.runs.start("nso", RunTrigger.SCHEDULE)
            ballast = fill(disk)
            records = [
                ObservationIn(indicator="PORTAL_VISITS", area="VN", period=f"2026-01-01T00:{m:02d}:{s:02d}Z", value=1.0)
                for m in range(60)
                for s in range(60)
            ]
            attempts: list[Awaitable[object]] = [
                store.observations.ingest(Batch("nso", records[i::8], payload=os.urandom(1 << 20))) for i in range(8)
            ]
            attempts.append(store.runs.begin("mof", RunTrigger.MANUAL, "admin"))
            failures = await asyncio.gather(*attempts, return_exceptions=True)
            assert all(isinstance(f, StoreUnavailable) for f in failures), failures
            assert len({id(f) for f in failures}) == len(failures)
            assert "full" in (store.write_problem() or "")
            ended = await store.runs.end_eventually(running, RunFinish(outcome=RunOutcome.FAILED, error="not stored"))
            assert ended.outcome is RunOutcome.FAILED  # as it will be recorded

            ballast.unlink()
            for _ in range(600):
                if store.write_problem() is None and not (await store.alerts.listed()):
                    break
                await asyncio.sleep(0.05)
            assert store.write_problem() is None
            runs = {r.source: r for r in await store.runs.recent()}
            assert runs["nso"].outcome is RunOutcome.FAILED and runs["nso"].error == "not stored"
            assert runs["mof"].outcome is RunOutcome.FAILED and "could not start" in (runs["mof"].error or "")
            assert runs["mof"].requested_by == "admin"
            (alert,) = await store.alerts.listed(open_only=False)
            assert alert.rule == "storage.write_failed" and alert.state.value == "resolved"
            # And the store writes again as before.
            result = await store.observations.ingest(Batch("nso", records[:10]))
            assert result.new == 10
            assert await store.audit.integrity_check() == ["ok"]
        finally:
            await store.close()
