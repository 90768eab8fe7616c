"""The feed's protocol restates some records of the store (the console may not import storage).
The store's definition is the one that counts: every field it has, the protocol carries, with the
same name, so no client ever misses part of a run, an alert or a figure."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from feed import protocol
from feed.protocol import AlertInfo, ObservationInfo, RunInfo, SilenceInfo
from storage.models import Alert, AlertParams, CollectionRun, Observation, Silence, SilenceMatch


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        (CollectionRun, RunInfo),
        (Alert, AlertInfo),
        (AlertParams, protocol.AlertParams),
        (Observation, ObservationInfo),
        (Silence, SilenceInfo),
        (SilenceMatch, protocol.SilenceMatch),
    ],
    ids=["run", "alert", "alert-params", "observation", "silence", "silence-match"],
)
def test_the_protocol_carries_every_field_the_store_keeps(stored: type[BaseModel], sent: type[BaseModel]) -> None:
    missing = set(stored.model_fields) - set(sent.model_fields)
    assert not missing, f"{sent.__name__} lacks {sorted(missing)} of {stored.__name__}"


def test_a_stored_run_round_trips_through_the_protocol() -> None:
    from datetime import UTC, datetime

    from storage.models import RunOutcome, RunTrigger

    run = CollectionRun(
        id=7,
        source="gso",
        trigger=RunTrigger.MANUAL,
        requested_by="admin",
        started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ended_at=datetime(2026, 1, 2, 3, 4, 9, tzinfo=UTC),
        outcome=RunOutcome.PARTIAL,
        fetched=10,
        new=3,
        revised=2,
        unchanged=4,
        rejected=1,
        error="1 record rejected",
        latency_ms=12.5,
        bytes=2048,
        http_status=200,
    )
    sent = RunInfo.model_validate(run.model_dump(mode="json"))
    assert sent.model_dump(mode="json") == {
        k: v for k, v in run.model_dump(mode="json").items() if k in RunInfo.model_fields
    }
