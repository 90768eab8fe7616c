"""The circuit breaker's states, and the JSON adapters on payloads as they arrive (good and bad)."""

from __future__ import annotations

import json

import pytest

from collectors.breaker import BreakerState, CircuitBreaker
from collectors.config import SourceSettings
from collectors.sources import PayloadError, adapter_for
from collectors.sources.base import Fetched


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_failures_in_a_row_and_probes_once_after_the_reset_time() -> None:
    clock = FakeClock()
    b = CircuitBreaker(failures_to_open=3, reset_after=60, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_success()  # a success in between starts the count again
    for _ in range(3):
        assert b.allow()
        b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    assert b.seconds_until_probe() == 60
    clock.now += 59.9
    assert not b.allow()
    clock.now += 0.2
    assert b.allow()  # the probe
    assert b.state is BreakerState.HALF_OPEN
    assert not b.allow()  # only one probe at a time
    b.record_failure()  # the probe failed: open again, for another full reset period
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now += 60
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.allow() and b.failures == 0


def agency_source() -> SourceSettings:
    return SourceSettings(
        name="nso", kind="agency-json", url="http://127.0.0.1:1/agencies/NSO/observations?page_size=10", every="1m"
    )


def fetched(body: object) -> Fetched:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Fetched("http://x", 200, "application/json", raw)


def test_agency_json_first_url_carries_the_cursor_and_keeps_other_parameters() -> None:
    adapter = adapter_for(agency_source())
    assert adapter.first_url(None) == "http://127.0.0.1:1/agencies/NSO/observations?page_size=10"
    assert adapter.first_url("2026-11-01T00:00:00Z") == (
        "http://127.0.0.1:1/agencies/NSO/observations?page_size=10&updated_after=2026-11-01T00%3A00%3A00Z"
    )


def test_agency_json_keeps_good_records_and_rejects_bad_ones_with_their_position() -> None:
    body = {
        "format": "opscentre.agency-observations/1",
        "agency": "NSO",
        "next_updated_after": "2026-11-23T12:00:00+07:00",
        "next": None,
        "observations": [
            {
                "indicator": "CPI_YOY",
                "area": "VN",
                "period": "2024-05",
                "value": 4.44,
                "status": "provisional",
                "updated_at": "2024-06-20T09:00:00Z",
            },
            {"indicator": "CPI_YOY", "area": "VN", "period": "2024-06", "value": "n/a"},
            {"indicator": "CPI_YOY", "area": "VN", "value": 4.0},
            {"indicator": "CPI_YOY", "area": "VN", "period": "2024-07", "value": 4.36},
        ],
    }
    parsed = adapter_for(agency_source()).parse(fetched(body))
    assert [(r.period, r.value, r.status.value) for r in parsed.records] == [
        ("2024-05", 4.44, "provisional"),
        ("2024-07", 4.36, "official"),
    ]
    assert [(r.index, r.reason.split(":")[0]) for r in parsed.rejected] == [(1, "value"), (2, "period")]
    assert parsed.positions == [0, 3]
    assert parsed.cursor == "2026-11-23T05:00:00Z"  # saved in UTC
    assert parsed.next_url is None


def test_agency_json_keeps_when_the_agency_published_each_figure_and_rejects_a_time_it_cannot_place() -> None:
    """The figure's publication time is its ``published_at`` (a revised figure's first release), else
    its ``updated_at``; each must be ISO 8601 text with its zone, and not after the other."""

    def record(**times: object) -> dict[str, object]:
        return {"indicator": "CPI_YOY", "area": "VN", "period": "2024-05", "value": 4.36, **times}

    body = {
        "format": "opscentre.agency-observations/1",
        "observations": [
            record(updated_at="2024-06-20T16:00:00+07:00"),
            record(period="2024-06", updated_at="2024-08-22T09:00:00Z", published_at="2024-07-20T09:00:00Z"),
            record(period="2024-07"),
            record(period="2024-08", updated_at="2024-09-20T09:00:00"),  # no zone: whose clock?
            record(period="2024-09", updated_at=1729400000),  # a number: seconds since 1970, or a typo?
            record(period="2024-10", published_at="yesterday"),
            record(period="2024-11", updated_at="2024-12-01T00:00:00Z", published_at="2024-12-20T09:00:00Z"),
        ],
    }
    parsed = adapter_for(agency_source()).parse(fetched(body))
    assert [(r.period, r.published_at and r.published_at.isoformat()) for r in parsed.records] == [
        ("2024-05", "2024-06-20T16:00:00+07:00"),
        ("2024-06", "2024-07-20T09:00:00+00:00"),
        ("2024-07", None),  # the agency did not say: the centre's own clock will judge it
    ]
    assert [(r.index, r.reason) for r in parsed.rejected] == [
        (3, "updated_at: Input should have timezone info"),
        (4, "updated_at: must be an ISO 8601 time with its zone, such as 2024-06-20T09:00:00Z"),
        (5, "published_at: Input should be a valid datetime or date, input is too short"),
        (6, "record: published_at 2024-12-20T09:00:00Z is after updated_at 2024-12-01T00:00:00Z: "
         "a figure is first published before any update of it"),
    ]  # fmt: skip
    assert parsed.positions == [0, 1, 2]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ([1, 2], "expected a JSON object"),
        ({"format": "something/else", "observations": []}, "format"),
        ({"format": "opscentre.agency-observations/1"}, "observations"),
        ({"format": "opscentre.agency-observations/1", "observations": {}}, "observations"),
    ],
)
def test_agency_json_payloads_that_are_unusable_as_a_whole(body: object, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        adapter_for(agency_source()).parse(fetched(body))


def test_portal_counters_become_live_observations() -> None:
    source = SourceSettings(name="portal", kind="portal", url="http://127.0.0.1:1/portal/counters", every="5s")
    body = {
        "format": "opscentre.portal-counters/1",
        "as_of": "2026-11-23T19:00:05.750+07:00",
        "counters": {"PORTAL_VISITS": 1523456789, "PORTAL_PAYMENT_AMOUNT": 12345.67},
        "by_area": {"01": {"PORTAL_DOSSIERS_SYNCED": 1234567}},
    }
    parsed = adapter_for(source).parse(fetched(body))
    assert {(r.indicator, r.area, r.period, r.value) for r in parsed.records} == {
        ("PORTAL_VISITS", "VN", "2026-11-23T12:00:05Z", 1523456789),
        ("PORTAL_PAYMENT_AMOUNT", "VN", "2026-11-23T12:00:05Z", 12345.67),
        ("PORTAL_DOSSIERS_SYNCED", "01", "2026-11-23T12:00:05Z", 1234567),
    }
    with pytest.raises(PayloadError, match="as_of"):
        adapter_for(source).parse(fetched({"format": "opscentre.portal-counters/1", "counters": {}}))
