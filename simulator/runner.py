"""Standalone runner: ``opscentre simulate`` and ``python -m simulator``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from simulator.faults import Fault, FaultError, load_faults
from simulator.scenarios import SCENARIOS
from simulator.server import SimulatorConfig, start

ENDPOINTS = (
    (
        "GET",
        "/agencies/{AGENCY}/observations",
        "agency JSON: national figures of an agency (and agencies merged into it)",
    ),
    (
        "GET",
        "/provinces/{CODE}/observations",
        "agency JSON: a province's figures; history of merged units under their old codes",
    ),
    ("GET", "/sdmx/{AGENCY}/data.xml", "SDMX-ML 2.1 StructureSpecificData (?updatedAfter=ISO)"),
    ("GET", "/sdmx/{AGENCY}/data.csv", "SDMX-CSV 2.0 (?updatedAfter=ISO)"),
    ("GET", "/portal/counters", "public service portal counters"),
    ("GET", "/synthetic/{N}/observations?records=K", "a small deterministic payload per source N"),
    ("GET|PUT|DELETE", "/_admin/faults", "fault injection"),
    ("GET", "/_admin/scenario", "the scenario: steps applied and the next one"),
    ("GET", "/healthz", "ok"),
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="opscentre simulate",
        description="Serve stand-in agency reporting systems, SDMX output and the service portal over HTTP.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8780, help="port to listen on; 0 picks a free one (default 8780)")
    p.add_argument("--seed", type=int, default=2020, help="seed of all simulated series (default 2020)")
    p.add_argument("--faults", metavar="FILE", help="TOML file of [[faults]] tables to apply from the start")
    p.add_argument("--page-size", type=int, default=5000, help="default records per page (default 5000)")
    add_scenario_arguments(p, default="none")
    return p


def add_scenario_arguments(p: argparse.ArgumentParser, default: str) -> None:
    """``--scenario`` and ``--speed`` (shared with ``opscentre simulate`` and ``opscentre demo``)."""
    names = "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
    p.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        default=default,
        metavar="NAME",
        help=f"what happens to the simulated agencies, on a compressed timeline (default {default}). {names}",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="the scenario's steps come this many times faster (default 1)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT or SIGTERM; 0 on a clean stop, 1 if the port cannot be used, 2 on bad input."""
    args = build_parser().parse_args(argv)
    faults: list[Fault] = []
    if args.faults:
        try:
            faults = load_faults(args.faults)
        except FaultError as exc:
            print(f"opscentre simulate: {exc}", file=sys.stderr)
            return 2
    if not 1 <= args.page_size <= 50_000:
        print("opscentre simulate: --page-size must be between 1 and 50000", file=sys.stderr)
        return 2
    if not args.speed > 0:
        print("opscentre simulate: --speed must be more than 0", file=sys.stderr)
        return 2
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        faults=faults,
        page_size=args.page_size,
        scenario=args.scenario,
        speed=args.speed,
    )
    try:
        return asyncio.run(_serve(config))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 0


async def _serve(config: SimulatorConfig) -> int:
    try:
        sim = await start(config)
    except OSError as exc:
        print(
            f"opscentre simulate: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"opscentre simulator listening on {sim.url} (seed {config.seed})")
    for method, path, what in ENDPOINTS:
        print(f"  {method:<14} {sim.url}{path}  {what}")
    print(f"  agencies: {', '.join(sorted(sim.ref.agencies))}")
    print(f"  provinces: {', '.join(sim.ref.current)}")
    for f in sim.faults.list():
        print(f"  fault: {f.to_dict()}")
    print(f"  scenario: {sim.scenario.name} ({sim.scenario.description})")
    for step in sim.scenario.steps:
        print(f"    +{step.at / config.speed:>5.0f}s  {step.what}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await sim.stop()
    print("opscentre simulator stopped", flush=True)
    return 0
