"""The rules' cost: every `[rules]` rule evaluated after each ingest batch of a full history pull,
beside the ingest time of that batch (the ceiling: the store's own ingest, measured in the same
run), and a timer pass over the whole catalogue.

    python -m bench.rules [--indicators 200] [--years 10] [--batch 10]

A synthetic catalogue of ``--indicators`` monthly indicators (most national+provincial flows, so
the provinces are summed against the nation; every twentieth a derived difference of two others;
a tenth of them published by a second source too) over the nation and the 34 provinces in force
since 2025-07-01, ``--years`` years of months from 2026-01 (the clock is moved to the 2030s: the
34 exist then). The history arrives as the collectors would pull it: one source's run per
``--batch`` indicators, each through ``store.observations.ingest``, then ``evaluate_rules`` with what the
batch touched (per indicator its newest periods and those it revised, and the areas it carried, the
run's id and the state the serving process keeps, as ``Collector`` does). The newest month lacks
two provinces' reports, which the timer pass, once they fall due, flags as late.

Targets: rules add less than 50 % to ingest (over the whole pull); a timer pass over the whole
catalogue under 1 s. Printed as PASS/FAIL; the exit status is 0 either way.
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
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from collectors.config import RulesSettings, SourceKind, SourceSettings
from rules.after_run import RULE_PERIODS
from rules.evaluation import RulesState, evaluate_rules
from storage import NATION, Batch, Indicator, ObservationIn, RunOutcome, RunTrigger, Store
from storage.clock import ManualClock, use_clock
from storage.models import IndicatorKind, Level, Revision

FIRST_YEAR = 2026
SECOND = "bench-sdmx"  # the second source of a tenth of the national figures
MISSING = 2  # provinces whose newest month is not in (late reports at the timer pass)


def catalogue(n: int, category: str, owner: str) -> list[Indicator]:
    out = []
    for i in range(1, n + 1):
        code = f"BENCH_{i:03d}"
        derived = i % 20 == 0 and i > 2
        out.append(
            Indicator(
                code=code,
                name_vi=f"Chỉ tiêu {i}",
                name_en=f"Indicator {i}",
                unit="tỷ đồng",
                frequency="M",
                category=category,
                owner=owner,
                level=Level.NATIONAL if derived else Level.BOTH,
                kind=IndicatorKind.DERIVED if derived else IndicatorKind.FLOW,
                formula=f"derived:BENCH_{i - 2:03d}-BENCH_{i - 1:03d}" if derived else None,
            )
        )
    return out


def months(years: int) -> list[str]:
    return [f"{y}-{m:02d}" for y in range(FIRST_YEAR, FIRST_YEAR + years) for m in range(1, 13)]


def history(
    inds: list[Indicator],
    provinces: list[str],
    periods: list[str],
    rng: random.Random,
    values: dict[tuple[str, str], float],
) -> list[ObservationIn]:
    """Every figure of ``inds``: provinces, then the nation as their sum (a derived one as its formula).

    ``values``: the national figures made so far, by (indicator, period), for the derived ones."""
    out = []
    newest = periods[-1]
    for ind in inds:
        for period in periods:
            if ind.formula is not None:
                a, b = ind.formula.removeprefix("derived:").split("-")
                value = round(values.get((a, period), 0.0) - values.get((b, period), 0.0), 2)
            else:
                parts = [round(rng.uniform(10, 1000), 2) for _ in provinces]
                for j, (area, v) in enumerate(zip(provinces, parts, strict=True)):
                    if period != newest or j >= MISSING:
                        out.append(ObservationIn(indicator=ind.code, area=area, period=period, value=v))
                value = round(sum(parts), 2)
            values[(ind.code, period)] = value
            out.append(ObservationIn(indicator=ind.code, area=NATION, period=period, value=value))
    return out


def touched(recs: list[ObservationIn], revised: Sequence[Revision] = ()) -> dict[str, list[str]]:
    """What ``Collector`` hands the rules after a run: per indicator, its newest periods and every
    period it revised."""
    got: dict[str, set[str]] = {}
    for r in recs:
        got.setdefault(r.indicator, set()).add(r.period)
    again: dict[str, set[str]] = {}
    for rev in revised:
        again.setdefault(rev.indicator, set()).add(rev.period)
    return {
        code: sorted(set(sorted(p, reverse=True)[:RULE_PERIODS]) | again.get(code, set())) for code, p in got.items()
    }


def carried(recs: list[ObservationIn]) -> dict[str, set[str]]:
    """What ``Collector`` hands the rules after a run as well: per indicator, the areas it carried."""
    got: dict[str, set[str]] = {}
    for r in recs:
        got.setdefault(r.indicator, set()).add(r.area)
    return got


def source(name: str, agency: str | None, kind: SourceKind = SourceKind.AGENCY_JSON) -> SourceSettings:
    fmt = {"format": "sdmx-csv"} if kind is SourceKind.SDMX else {}
    return SourceSettings.model_validate(
        {"name": name, "kind": kind, "url": f"http://127.0.0.1:9/{name}", "agency": agency, "every": "15m", **fmt}
    )


async def run(args: argparse.Namespace, path: Path) -> None:
    periods = months(args.years)
    # Mid-month after the newest month: its reports are not due yet while the history comes in.
    last = date.fromisoformat(periods[-1] + "-01")
    clock = ManualClock(datetime(last.year + (last.month == 12), last.month % 12 + 1, 10, tzinfo=UTC))
    rules = RulesSettings()
    rng = random.Random(1)
    with use_clock(clock):
        store = await Store.open(path)
        try:
            category = (await store.reference.categories())[0].code
            owner = (await store.reference.agencies())[0].code
            inds = catalogue(args.indicators, category, owner)
            await store.close()
            store = await Store.open(path, extra_indicators=inds)
            provinces = [a.code for a in await store.reference.areas_in_force(date.fromisoformat(periods[0] + "-01"))]
            by_code = {i.code: i for i in inds}
            groups = [inds[i : i + args.batch] for i in range(0, len(inds), args.batch)]
            sources = [source(f"bench-{n:02d}", owner) for n in range(len(groups))]
            sources.append(source(SECOND, owner, SourceKind.SDMX))
            batches: list[tuple[str, list[ObservationIn]]] = []
            national: list[ObservationIn] = []
            values: dict[tuple[str, str], float] = {}
            for n, group in enumerate(groups):
                # Derived indicators need their parts' figures: those come first in the catalogue order.
                recs = history(group, provinces, periods, rng, values)
                batches.append((f"bench-{n:02d}", recs))
                national += [r for r in recs if r.area == NATION and int(r.indicator[-3:]) % 10 == 1]
            batches.append((SECOND, national))
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
                f" SQLite {sqlite3.sqlite_version}"
            )
            total_rows = sum(len(r) for _, r in batches)
            print(
                f"{len(inds)} indicators x {len(provinces)} provinces and the nation x {len(periods)} months:"
                f" {total_rows:,} figures in {len(batches)} batches (one source's run each)"
            )
            print(f"{'batch':<12} {'figures':>8} {'ingest s':>9} {'rules s':>8} {'rules/ingest':>13}")
            ingest_times, rule_times = [], []
            state = RulesState()  # what the serving process keeps between passes (its Collector's)
            for name, recs in batches:
                started = await store.runs.start(name, RunTrigger.SCHEDULE)
                t0 = time.perf_counter()
                result = await store.observations.ingest(
                    Batch(name, recs, run_id=started.id, payload=os.urandom(64) * 16)
                )
                t_ingest = time.perf_counter() - t0
                await store.runs.finish(started.id, RunOutcome.SUCCESS, fetched=len(recs), new=len(recs))
                wanted = touched(recs, result.revised)
                t0 = time.perf_counter()
                # As RunRules (rules/after_run.py) calls it: with the run's id and revisions (without the
                # id the outlier rule would judge every series of every batch, which no run does).
                await evaluate_rules(
                    store,
                    rules,
                    sources,
                    source=name,
                    indicators=[by_code[c] for c in wanted],
                    periods=wanted,
                    revised=result.revised,
                    run_id=started.id,
                    state=state,
                    areas=carried(recs),
                )
                t_rules = time.perf_counter() - t0
                ingest_times.append(t_ingest)
                rule_times.append(t_rules)
                print(f"{name:<12} {len(recs):>8,} {t_ingest:>9.3f} {t_rules:>8.3f} {t_rules / t_ingest:>12.1%}")
            # The newest month falls due: the timer pass finds the two provinces' reports late.
            clock.advance(timedelta(days=20))
            timer = []
            for _ in range(args.timer_passes):
                t0 = time.perf_counter()
                await evaluate_rules(store, rules, sources, state=state)
                timer.append(time.perf_counter() - t0)
            open_alerts = await store.alerts.listed(limit=100_000)
        finally:
            await store.close()
    ingest_total, rules_total = sum(ingest_times), sum(rule_times)
    share = rules_total / ingest_total
    by_rule: dict[str, int] = {}
    for a in open_alerts:
        by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
    print(
        f"whole pull: ingest {ingest_total:.2f} s, rules {rules_total:.2f} s ({share:.1%} of ingest);"
        f" per batch rules/ingest median {statistics.median(r / i for r, i in zip(rule_times, ingest_times, strict=True)):.1%}"
    )
    print(
        f"timer pass over the whole catalogue: best {min(timer):.3f} s, median {statistics.median(timer):.3f} s"
        f" of {len(timer)}; open alerts after it: "
        + (", ".join(f"{rule} {n}" for rule, n in sorted(by_rule.items())) or "none")
    )
    print(f"{'PASS' if share < 0.5 else 'FAIL'} rules add less than 50 % to ingest: {share:.1%}")
    best = statistics.median(timer)
    print(f"{'PASS' if best < 1.0 else 'FAIL'} a timer pass over the whole catalogue under 1 s: {best:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=200, help="catalogue size (at least 3)")
    parser.add_argument("--years", type=int, default=10, help="years of months per series (1 to 10)")
    parser.add_argument("--batch", type=int, default=10, help="indicators per source's run")
    parser.add_argument("--timer-passes", type=int, default=5, help="timer passes measured")
    args = parser.parse_args()
    if args.indicators < 3 or not 1 <= args.years <= 10 or args.batch < 1 or args.timer_passes < 1:
        parser.error("--indicators at least 3, --years 1 to 10, --batch and --timer-passes at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp) / "rules.db"))


if __name__ == "__main__":
    main()
