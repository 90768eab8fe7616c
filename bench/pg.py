"""A PostgreSQL failover, measured, on the benchmarks' durable throwaway server (``bench/pgserver.py``).

    python -m bench.pg failover [--batch 100] [--before 3] [--after 3]

measures a failover: a primary with a synchronous hot standby, writes through a Store, the primary
killed and the standby promoted (``failover()``).

The tests' server turns ``fsync``, ``synchronous_commit`` and ``full_page_writes`` off (throwaway data,
their time matters); a benchmark that did so would measure commits that never reach the disk, while the
SQLite benchmarks run with ``synchronous=FULL``. So this one starts the same way (``initdb`` in a temp
dir as an unprivileged user, TCP on a free loopback port, stopped with its parent) with PostgreSQL's
durable defaults: every commit is flushed before it is acknowledged, as in production.

    with throwaway_server() as server:
        url = server.create_database(TEMPLATE_DB)  # the whole schema, migrated
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.ingest import INDICATORS, MONTHS, OLD_PROVINCES, records
from bench.pgserver import SUPERUSER, TEMPLATE_DB, DurablePgServer, PgServer, throwaway_server
from storage import Batch, ObservationIn, Store
from storage.writes import StoreError

__all__ = ["failover"]


# --- a failover, measured: `python -m bench.pg failover` ---------------------------------------------


def start_standby(primary: PgServer) -> DurablePgServer:
    """A hot standby of ``primary`` by streaming replication (``pg_basebackup -R``), started."""
    standby = DurablePgServer(
        bin=primary.bin,
        root=Path(tempfile.mkdtemp(prefix="opscentre-bench-standby-")),
        user=primary.user,
        password=primary.password,
    )
    os.chown(standby.root, standby.user.pw_uid, standby.user.pw_gid)
    os.environ["PGPASSWORD"] = primary.password  # pg_basebackup's; the child inherits it
    try:
        standby._run(
            str(primary.bin / "pg_basebackup"),
            "--pgdata", str(standby.root / "data"),
            "--host", "127.0.0.1",
            "--port", str(primary.port),
            "--username", SUPERUSER,
            "--write-recovery-conf",  # standby.signal and primary_conninfo
            "--checkpoint", "fast",
            "--wal-method", "stream",
        )  # fmt: skip
    finally:
        del os.environ["PGPASSWORD"]
    standby.start()
    return standby


def failover(batch: int, before: float, after: float) -> None:
    """Writes acknowledged through a Store on a synchronous primary; the primary killed (SIGKILL) and the
    standby promoted; the same Store, with a multi-host URL, writes on by itself. Everything
    acknowledged must be on the promoted standby."""

    figures = records(len(INDICATORS) * len(OLD_PROVINCES) * len(MONTHS))
    with throwaway_server() as primary:
        url = primary.create_database(TEMPLATE_DB)
        dbname = url.rsplit("/", 1)[1]
        standby = start_standby(primary)
        try:
            with primary.admin() as conn:
                conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
                conn.execute("SELECT pg_reload_conf()")
                deadline = time.monotonic() + 60
                while conn.execute("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'").fetchone() is None:
                    if time.monotonic() > deadline:
                        raise SystemExit("the standby did not become synchronous within 60 s")
                    time.sleep(0.1)
            multi = (
                f"postgresql://{SUPERUSER}:{primary.password}@127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
                f"/{dbname}?target_session_attrs=read-write"
            )
            run = asyncio.run(_write_through(multi, figures, batch, before, after, primary, standby))
            with psycopg.connect(standby.url(dbname)) as conn:
                kept = set(conn.execute("SELECT indicator, area, period FROM observations WHERE source = 'bench'"))
        finally:
            standby.stop()
    lost = [k for k in run.acked if k not in kept]
    back = run.back_at - run.killed_at
    print(f"PostgreSQL {primary.version}, primary and a hot standby on this machine, fsync on;")
    print(
        "synchronous_commit on, synchronous_standby_names '*'; the Store's URL names both, target_session_attrs=read-write"
    )
    print(
        f"writes acknowledged: {len(run.acked):,} figures in batches of {batch}; batches refused while no primary: {run.refused}"
    )
    print(f"promotion (SELECT pg_promote(wait => true)): {run.promoted_in:.2f} s")
    print(f"from the primary's SIGKILL to the next acknowledged write, by the same Store: {back:.2f} s")
    print(
        f"{'PASS' if not lost else 'FAIL'} nothing acknowledged lost: {len(lost):,} of {len(run.acked):,} missing on the promoted standby"
    )
    print(f"{'PASS' if back < 30 else 'FAIL'} the Store writes again by itself within 30 s of the kill: {back:.2f} s")


@dataclass
class Failover:
    acked: list[tuple[str, str, str]] = field(default_factory=list)  # the figures whose batch was acknowledged
    refused: int = 0
    killed_at: float = 0.0
    promoted_in: float = 0.0
    back_at: float = 0.0


async def _write_through(
    url: str, figures: list[ObservationIn], size: int, before: float, after: float, primary: PgServer, standby: PgServer
) -> Failover:
    store = await Store.open(url)
    out = Failover()
    started = time.monotonic()
    promotion: asyncio.Task[float] | None = None

    def promote() -> float:
        began = time.monotonic()
        with standby.admin() as conn:
            conn.execute("SELECT pg_promote(wait => true, wait_seconds => 60)")
        return time.monotonic() - began

    try:
        for i in range(0, len(figures), size):
            chunk = figures[i : i + size]
            now = time.monotonic()
            if not out.killed_at and now - started > before:
                assert primary.proc is not None
                primary.proc.kill()  # SIGKILL to the postmaster; its backends end when they see it gone
                primary.proc.wait()
                out.killed_at = time.monotonic()
                promotion = asyncio.create_task(asyncio.to_thread(promote))
            if out.back_at and now - out.back_at > after:
                break
            try:
                await store.observations.ingest(Batch("bench", chunk))
            except StoreError:
                out.refused += 1  # not acknowledged: it may or may not have committed; either is right
                await asyncio.sleep(0.1)
                continue
            out.acked += [(r.indicator, r.area, r.period) for r in chunk]
            if out.killed_at and not out.back_at:
                out.back_at = time.monotonic()
        if promotion is not None:
            out.promoted_in = await promotion
    finally:
        await store.close()
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="A PostgreSQL failover under writes, measured (see failover()).")
    parser.add_argument("what", choices=["failover"])
    parser.add_argument("--batch", type=int, default=100, help="figures per ingest batch")
    parser.add_argument("--before", type=float, default=3.0, help="seconds of writes before the kill")
    parser.add_argument("--after", type=float, default=3.0, help="seconds of writes after the first one back")
    args = parser.parse_args()
    if not 1 <= args.batch <= 10_000:
        parser.error("--batch 1 to 10000")
    failover(args.batch, args.before, args.after)


if __name__ == "__main__":
    main()
