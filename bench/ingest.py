"""Ingest throughput: observations per second through ``Store.ingest`` (validation against the
catalogue, revision detection, provenance, events, snapshot index), beside a bare ``sqlite3``
``executemany`` of the same rows into a table with the same columns and key, in the same run on
the same machine. Prints both rates and their ratio for each scenario.

    python bench/ingest.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from storage import Batch, ObservationIn, Store

INDICATORS = ["CPI_YOY", "CPI_MOM", "IIP_YOY", "RETAIL_SALES", "BUDGET_REVENUE", "BUDGET_EXPENDITURE",
              "EXPORTS", "IMPORTS", "NEW_ENTERPRISES", "ENTERPRISE_EXITS", "TRAFFIC_ACCIDENTS"]  # fmt: skip
OLD_PROVINCES = [
    "01", "02", "04", "06", "08", "10", "11", "12", "14", "15", "17", "19", "20", "22", "24", "25", "26", "27",
    "30", "31", "33", "34", "35", "36", "37", "38", "40", "42", "44", "45", "46", "48", "49", "51", "52", "54",
    "56", "58", "60", "62", "64", "66", "67", "68", "70", "72", "74", "75", "77", "79", "80", "82", "83", "84",
    "86", "87", "89", "91", "92", "93", "94", "95", "96",
]  # fmt: skip
MONTHS = [f"{y}-{m:02d}" for y in range(2010, 2025) for m in range(1, 13)]  # all before the 2025 merger


def records(n: int, seed: int = 1) -> list[ObservationIn]:
    rng = random.Random(seed)
    out = []
    for ind in INDICATORS:
        for area in OLD_PROVINCES:
            for period in MONTHS:
                out.append(ObservationIn(indicator=ind, area=area, period=period, value=round(rng.uniform(1, 500), 2)))
                if len(out) == n:
                    return out
    raise SystemExit(f"at most {len(out)} rows available")


def bare(path: Path, recs: list[ObservationIn]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        """CREATE TABLE observations (id INTEGER PRIMARY KEY, indicator TEXT NOT NULL, area TEXT NOT NULL,
        period TEXT NOT NULL, source TEXT NOT NULL, revision INTEGER NOT NULL, value REAL NOT NULL,
        status TEXT NOT NULL, collected_at TEXT NOT NULL, run_id INTEGER, payload_id INTEGER,
        UNIQUE (indicator, area, period, source, revision))"""
    )
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same rows as the store keeps: with their run and payload ids.
    rows = [(r.indicator, r.area, r.period, "bench", 1, r.value, r.status.value, at, 1, 1) for r in recs]
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO observations (indicator, area, period, source, revision, value, status, collected_at, run_id,"
        " payload_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


async def ours(path: Path, batches: list[list[ObservationIn]]) -> list[tuple[float, str]]:
    store = await Store.open(path)
    timings = []
    try:
        for recs in batches:
            payload = os.urandom(64) * 16  # a small raw payload per batch, stored and digested
            start = time.perf_counter()
            result = await store.ingest(Batch("bench", recs, payload=payload))
            elapsed = time.perf_counter() - start
            timings.append((elapsed, f"new={result.new} revised={len(result.revised)} unchanged={result.unchanged}"))
    finally:
        await store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    first = records(args.rows, seed=1)
    rng = random.Random(2)
    # 10% of the figures revised, the rest as before: a typical re-publication.
    tenth = [
        ObservationIn(indicator=r.indicator, area=r.area, period=r.period, value=r.value + 0.1)
        if rng.random() < 0.1
        else r
        for r in first
    ]
    revised_all = [ObservationIn(indicator=r.indicator, area=r.area, period=r.period, value=r.value + 1) for r in first]
    scenarios: dict[str, list[tuple[float, str]]] = {
        "new figures (history pull)": [],
        "all unchanged (re-poll)": [],
        "10% revised": [],
        "all revised": [],
    }
    bare_times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            bare_times.append(bare(Path(tmp) / "bare.db", first))
            timings = asyncio.run(ours(Path(tmp) / "ops.db", [first, first, tenth, revised_all]))
            for name, t in zip(scenarios, timings, strict=True):
                scenarios[name].append(t)
    n = args.rows
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    print(
        f"rows per batch: {n}; {args.repeat} rounds, each with a fresh database; WAL, synchronous=FULL, one transaction each"
    )
    print("rates are from the best round (least disturbed by the shared machine); ratio = ours / bare;")
    print("'median ratio' pairs each round's figures with the bare insert of the same round")
    best_bare = n / min(bare_times)
    print(f"{'bare sqlite3 executemany':<34} {best_bare:>10,.0f} obs/s   (ceiling)")
    for name, runs in scenarios.items():
        rate = n / min(t for t, _ in runs)
        per_round = statistics.median(b / t for b, (t, _) in zip(bare_times, runs, strict=True))
        print(
            f"{'ingest: ' + name:<34} {rate:>10,.0f} obs/s   ratio {rate / best_bare:.2f}"
            f"   median ratio {per_round:.2f}   [{runs[-1][1]}]"
        )


if __name__ == "__main__":
    main()
