"""The revised-figure alert's text: the feed carries it to every screen, so the old and the new
value it names must read differently whenever they differ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules import run_alerts
from storage import Batch, CollectionRun, ObservationIn, RunTrigger, Store

T0 = datetime(2024, 6, 20, tzinfo=UTC)


@pytest.mark.parametrize(("before", "after"), [(1.111345, 1.11), (1234.541, 1234.544), (1234567.1, 1234567.4)])
async def test_the_revised_figure_alert_tells_old_and_new_apart(store: Store, before: float, after: float) -> None:
    first = ObservationIn(indicator="RETAIL_SALES", area="VN", period="2024-05", value=before)
    await store.observations.ingest(Batch("nso", [first], collected_at=T0))
    run: CollectionRun = await store.runs.start("nso", RunTrigger.SCHEDULE)
    again = ObservationIn(indicator="RETAIL_SALES", area="VN", period="2024-05", value=after)
    result = await store.observations.ingest(Batch("nso", [again], collected_at=T0 + timedelta(days=1), run_id=run.id))
    assert len(result.revised) == 1
    await run_alerts.after_success(store, run, result.revised, None)
    [alert] = [a for a in await store.alerts.listed() if a.rule == run_alerts.FIGURES_REVISED]
    for text in (alert.message, alert.message_en):
        assert text is not None
        old_text, new_text = text.split(": ")[-1].split(" (", 1)[0].split(" → ")
        assert old_text != new_text, text
        # Just the digits that tell them apart: no trailing zero past the indicator's decimals.
        for figure in (old_text, new_text):
            digits = figure.split(" ")[0].replace(".", ",").split(",")[-1]
            assert len(digits) <= 1 or not digits.endswith("0"), text
