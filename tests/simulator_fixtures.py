"""Helpers for the simulator tests: a controllable clock and a real simulator on a free port."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import httpx

from simulator import Fault, Simulator, SimulatorConfig, start


def catalogue(name: str) -> list[dict[str, str]]:
    """A reference CSV file of the catalogue, as the simulator reads it."""
    text = resources.files("storage.reference").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


INDICATORS = {r["code"]: r for r in catalogue("indicators.csv")}
UNITS = catalogue("admin_units.csv")
CURRENT = sorted({u["code"] for u in UNITS if not u["valid_to"]})  # the 34 units since 2025-07-01
FORMER = sorted(  # the 63 units in force on 2025-06-30
    {u["code"] for u in UNITS if (u["valid_to"] or "9999") >= "2025-06-30" and (u["valid_from"] or "") <= "2025-06-30"}
)

# The operations centre's demo day: figures up to October 2026 are out.
DEMO_DAY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: datetime = DEMO_DAY) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)

    def set(self, t: datetime) -> None:
        self.t = t


@asynccontextmanager
async def running(
    clock: Clock | None = None, seed: int = 2020, faults: list[Fault] | None = None, **config: Any
) -> AsyncIterator[tuple[Simulator, httpx.AsyncClient]]:
    """A simulator on 127.0.0.1, any free port, and a client for it."""
    sim = await start(SimulatorConfig(port=0, seed=seed, now=clock or Clock(), faults=faults or [], **config))
    try:
        async with httpx.AsyncClient(base_url=sim.url, timeout=30) as client:
            yield sim, client
    finally:
        await sim.stop()


async def pull_all(
    client: httpx.AsyncClient, path: str, **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow ``next`` to the last page: (all records, the envelopes of each page)."""
    r = await client.get(path, params=params)
    r.raise_for_status()
    pages = [r.json()]
    while pages[-1]["next"]:
        r = await client.get(pages[-1]["next"])
        r.raise_for_status()
        pages.append(r.json())
    return [o for p in pages for o in p["observations"]], pages


def key(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["indicator"], record["area"], record["period"]
