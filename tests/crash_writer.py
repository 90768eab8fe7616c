"""Child process for the crash test: ingests whole batches in a loop until it is killed."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from storage import Batch, ObservationIn, RunOutcome, RunTrigger, Store

BATCH = 500


async def main(path: str) -> None:
    store = await Store.open(path)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    while True:
        run = await store.runs.start("crash-test", RunTrigger.SCHEDULE)
        offset = run.id * BATCH
        records = [
            ObservationIn(
                indicator="PORTAL_VISITS",
                area="VN",
                period=(base + timedelta(seconds=offset + i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                value=float(offset + i),
            )
            for i in range(BATCH)
        ]
        payload = repr(records).encode()
        await store.observations.ingest(Batch("crash-test", records, run_id=run.id, payload=payload))
        await store.runs.finish(run.id, RunOutcome.SUCCESS, fetched=BATCH, new=BATCH)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
