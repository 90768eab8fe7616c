"""Area lineage in filters, as agencies already have it: a filter on a unit in force since 2025
covers the units merged into it, in the snapshot and in live deltas alike."""

from __future__ import annotations

from pathlib import Path

from storage import Batch, ObservationIn
from tests.feedkit import client, feed_server


def obs(area: str, period: str, value: float) -> ObservationIn:
    return ObservationIn(indicator="CPI_YOY", area=area, period=period, value=value)


def areas_of(observations: list[dict[str, object]]) -> list[tuple[object, object]]:
    return sorted((o["area"], o["period"]) for o in observations)


async def test_a_filter_on_a_2025_unit_includes_the_units_merged_into_it(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "ops.db") as server:
        store = server.store
        # 2024: Hà Giang (02) and Tuyên Quang (08) are two provinces; since 2025-07-01 they are one, 08.
        # Cao Bằng (04) stayed as it was.
        old = [obs("02", "2024-05", 3.1), obs("08", "2024-05", 3.3), obs("04", "2024-05", 2.9)]
        await store.observations.ingest(Batch("nso", [*old, obs("08", "2025-08", 3.5)]))
        async with (
            client(server, "display", hello={"filter": {"areas": ["08"]}}) as merged,
            client(server, "display", hello={"filter": {"areas": ["02"]}}) as former,
        ):
            snap = await merged.until("snapshot")
            assert areas_of(snap["observations"]) == [("02", "2024-05"), ("08", "2025-08")]
            # A former unit's filter is that unit alone: it did not become the whole new province.
            assert areas_of((await former.until("snapshot"))["observations"]) == [("02", "2024-05")]

            await store.observations.ingest(Batch("nso", [obs("02", "2024-06", 3.2), obs("04", "2024-06", 3.0)]))
            delta = await merged.until("delta")
            assert [(c["area"], c["period"], c["value"]) for c in delta["changes"]] == [("02", "2024-06", 3.2)]
            delta = await former.until("delta")
            assert [(c["area"], c["period"]) for c in delta["changes"]] == [("02", "2024-06")]
