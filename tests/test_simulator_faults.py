"""Fault injection, seen from the client side (docs/agency-json.md, section 4)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator import Fault, FaultError, load_faults
from tests.simulator_fixtures import Clock, key, running

GSO = "/agencies/GSO/observations"


async def put(client: httpx.AsyncClient, fault: dict[str, Any]) -> httpx.Response:
    r = await client.put("/_admin/faults", json=fault)
    assert r.status_code == 200, r.text
    return r


async def active(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/_admin/faults")
    assert r.status_code == 200
    faults: list[dict[str, Any]] = r.json()["faults"]
    return faults


async def test_http_error_answers_the_status_and_count_expires() -> None:
    async with running() as (_, client):
        await put(client, {"endpoint": GSO, "kind": "http_error", "status": 503, "count": 2})
        assert (await active(client))[0]["count"] == 2
        first = await client.get(GSO)
        assert first.status_code == 503 and "503" in first.text
        assert (await active(client))[0]["count"] == 1
        assert (await client.get(GSO)).status_code == 503
        assert await active(client) == []
        assert (await client.get(GSO)).status_code == 200
        await put(client, {"endpoint": "/agencies/*", "kind": "http_error", "status": 429})
        assert (await client.get("/agencies/MOF/observations")).status_code == 429
        assert (await client.get("/provinces/01/observations")).status_code == 200
        r = await put(client, {"endpoint": "/portal/*", "kind": "http_error"})
        assert r.json()["set"][0]["status"] == 503  # the default
        assert (await client.get("/portal/counters")).status_code == 503


async def test_patterns_pick_their_endpoints_and_the_admin_is_never_faulted() -> None:
    async with running() as (_, client):
        await put(client, {"endpoint": "/agencies/GSO/*", "kind": "http_error", "status": 500})
        await put(client, {"endpoint": "*", "kind": "http_error", "status": 502})
        # the latest fault set wins where both match
        assert (await client.get(GSO)).status_code == 502
        assert (await client.get("/healthz")).status_code == 502
        assert len(await active(client)) == 2
        r = await client.delete("/_admin/faults", params={"endpoint": "*"})
        assert r.json()["cleared"] == 1
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get(GSO)).status_code == 500
        assert (await client.get("/agencies/MOF/observations")).status_code == 200
        r = await client.delete("/_admin/faults")
        assert r.status_code == 200 and r.json() == {"cleared": 1, "faults": []}


async def test_latency_and_timeout_make_a_short_client_timeout_expire() -> None:
    async with running() as (_, client):
        await put(client, {"endpoint": "/healthz", "kind": "latency", "ms": 30_000, "count": 1})
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/healthz", timeout=0.3)
        await put(client, {"endpoint": "/healthz", "kind": "latency", "ms": 1, "count": 1})
        assert (await client.get("/healthz")).text == "ok"  # a short delay, then the normal answer
        await put(client, {"endpoint": GSO, "kind": "timeout"})
        with pytest.raises(httpx.ReadTimeout):
            await client.get(GSO, timeout=0.3)
        with pytest.raises(httpx.ReadTimeout):
            await client.get(GSO, timeout=0.3)
        assert (await client.get("/healthz")).text == "ok"  # the server itself stays responsive


async def test_a_hanging_request_does_not_keep_the_simulator_from_stopping() -> None:
    async with running() as (sim, client):
        await put(client, {"endpoint": "/healthz", "kind": "timeout"})
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/healthz", timeout=0.2)
        async with httpx.AsyncClient(timeout=60) as patient:
            waiting = asyncio.create_task(patient.get(f"{sim.url}/healthz"))
            await asyncio.sleep(0.2)
            await sim.stop()
            with pytest.raises(httpx.TransportError):
                await waiting


async def test_malformed_body_is_not_json() -> None:
    async with running() as (_, client):
        await put(client, {"endpoint": GSO, "kind": "malformed", "count": 1})
        r = await client.get(GSO)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.content.startswith(b'{"format":"opscentre.agency-observations/1"')
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.content)
        assert (await client.get(GSO)).json()["format"] == "opscentre.agency-observations/1"


async def test_schema_fault_mixes_broken_records_with_the_valid_ones() -> None:
    async with running() as (_, client):
        normal = (await client.get(GSO)).json()["observations"]
        await put(client, {"endpoint": GSO, "kind": "schema", "count": 1})
        body = (await client.get(GSO)).json()
        records = body["observations"]
        assert len(records) == len(normal) + 4
        broken = [r for r in records if r not in normal]
        assert any("value" not in r for r in broken)
        assert any(r.get("value") == "n/a" for r in broken)
        assert any(r["indicator"] == "NO_SUCH_INDICATOR" for r in broken)
        assert any(r["period"] in ("2024-13", "2023-02-30") for r in broken)
        assert [r for r in records if r in normal] == normal

        await put(client, {"endpoint": "/portal/counters", "kind": "schema", "count": 1})
        counters = (await client.get("/portal/counters")).json()["counters"]
        assert counters["PORTAL_FEEDBACK"] == "n/a" and "NO_SUCH_COUNTER" in counters


async def test_oversized_body_has_the_requested_size() -> None:
    async with running() as (_, client):
        size = 3 * 1024 * 1024 + 17
        await put(client, {"endpoint": GSO, "kind": "oversized", "bytes": size, "count": 1})
        r = await client.get(GSO)
        assert r.status_code == 200 and len(r.content) == size
        assert int(r.headers["content-length"]) == size
        tiny = 10
        await put(client, {"endpoint": GSO, "kind": "oversized", "bytes": tiny, "count": 1})
        assert len((await client.get(GSO)).content) == tiny


async def test_refused_drops_the_connection_without_an_answer() -> None:
    async with running() as (_, client):
        await put(client, {"endpoint": GSO, "kind": "refused", "count": 1})
        with pytest.raises(httpx.TransportError):
            await client.get(GSO)
        assert (await client.get(GSO)).status_code == 200


async def test_duplicate_records_appear_twice() -> None:
    async with running() as (_, client):
        normal = (await client.get(GSO)).json()["observations"]
        await put(client, {"endpoint": GSO, "kind": "duplicate", "count": 1})
        records = (await client.get(GSO)).json()["observations"]
        counts = Counter(json.dumps(r, sort_keys=True) for r in records)
        twice = [r for r, n in counts.items() if n == 2]
        assert twice and all(n <= 2 for n in counts.values())
        assert len(records) == len(normal) + len(twice)
        assert {key(r) for r in records} == {key(r) for r in normal}


async def test_revise_changes_published_figures_for_good() -> None:
    clock = Clock()
    async with running(clock) as (_, client):
        history = (await client.get(GSO)).json()
        before = {key(r): r for r in history["observations"]}
        cursor = history["next_updated_after"]
        await put(client, {"endpoint": GSO, "kind": "revise", "fraction": 0.1, "count": 1})
        clock.advance(minutes=5)
        body = (await client.get(GSO, params={"updated_after": cursor})).json()
        revised = body["observations"]
        assert len(revised) == round(0.1 * len(before))
        for r in revised:
            old = before[key(r)]
            assert r["value"] != old["value"]
            assert r["updated_at"] == body["generated_at"]
            assert r["status"] == old["status"]
        assert await active(client) == []  # count 1: used up
        # lasting: a history pull now shows the new values; the next incremental pull is empty
        clock.advance(minutes=5)
        now = {key(r): r for r in (await client.get(GSO)).json()["observations"]}
        assert all(now[key(r)]["value"] == r["value"] for r in revised)
        again = (await client.get(GSO, params={"updated_after": body["next_updated_after"]})).json()
        assert again["observations"] == []
        # the same figures are revised in the other outputs of the agency
        csv_text = (await client.get("/sdmx/GSO/data.csv")).text
        sample = revised[0]
        assert f",{sample['indicator']},VN,{sample['period']},{sample['value']}," in csv_text


async def test_simulator_revise_method_and_updated_after() -> None:
    clock = Clock()
    async with running(clock) as (sim, client):
        cursor = (await client.get("/provinces/08/observations", params={"page_size": 50000})).json()[
            "next_updated_after"
        ]
        clock.advance(seconds=30)
        done = sim.revise(0.01, "/provinces/08/*")
        assert done
        clock.advance(seconds=30)
        body = (await client.get("/provinces/08/observations", params={"updated_after": cursor})).json()
        assert sorted(key(r) for r in body["observations"]) == sorted((i, a, p) for i, a, p, *_ in done)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"endpoint": GSO, "kind": "earthquake"}, "kind"),
        ({"endpoint": GSO}, "kind"),
        ({"kind": "http_error"}, "endpoint"),
        ({"endpoint": GSO, "kind": "http_error", "count": "two"}, "count"),
        ({"endpoint": GSO, "kind": "http_error", "count": 0}, "count"),
        ({"endpoint": GSO, "kind": "http_error", "status": 200}, "status"),
        ({"endpoint": GSO, "kind": "http_error", "ms": 10}, "ms"),
        ({"endpoint": GSO, "kind": "latency", "ms": True}, "ms"),
        ({"endpoint": GSO, "kind": "revise", "fraction": 2}, "fraction"),
        ({"endpoint": GSO, "kind": "oversized", "bytes": -1}, "bytes"),
        ({"endpoint": GSO, "kind": "schema", "colour": "red"}, "colour"),
        ([{"endpoint": GSO, "kind": "schema"}, {"endpoint": GSO, "kind": "nope"}], "kind"),
        ("just text", "object"),
    ],
)
async def test_bad_fault_requests_are_rejected_and_change_nothing(payload: Any, reason: str) -> None:
    async with running() as (_, client):
        await put(client, {"endpoint": "/portal/counters", "kind": "latency", "ms": 1})
        before = await active(client)
        r = await client.put("/_admin/faults", json=payload)
        assert r.status_code == 400
        assert reason in r.json()["error"]
        assert await active(client) == before
        assert (await client.get(GSO)).status_code == 200


async def test_bad_json_is_rejected() -> None:
    async with running() as (_, client):
        r = await client.put("/_admin/faults", content=b'{"endpoint": "/x", "kind": ')
        assert r.status_code == 400 and "JSON" in r.json()["error"]
        assert await active(client) == []


async def test_faults_from_a_toml_file_apply_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(
        '[[faults]]\nendpoint = "/agencies/GSO/*"\nkind = "http_error"\nstatus = 504\ncount = 1\n\n'
        '[[faults]]\nendpoint = "/portal/counters"\nkind = "malformed"\n'
    )
    faults = load_faults(path)
    assert faults == [
        Fault(kind="http_error", endpoint="/agencies/GSO/*", status=504, count=1),
        Fault(kind="malformed", endpoint="/portal/counters"),
    ]
    async with running(faults=faults) as (_, client):
        assert len(await active(client)) == 2
        assert (await client.get(GSO)).status_code == 504
        assert (await client.get(GSO)).status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads((await client.get("/portal/counters")).content)


def test_a_bad_toml_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text('[[faults]]\nendpoint = "/x"\nkind = "http_error"\n\n[[faults]]\nendpoint = "/y"\nkind = "boom"\n')
    with pytest.raises(FaultError, match=r"faults\[1\].*kind"):
        load_faults(path)
    path.write_text("[[faults]\n")
    with pytest.raises(FaultError, match="TOML"):
        load_faults(path)
    with pytest.raises(FaultError, match="cannot read"):
        load_faults(tmp_path / "missing.toml")


async def test_revisions_reach_an_incremental_pull_even_when_the_clock_stands_still() -> None:
    async with running(Clock()) as (_, client):  # the clock never moves
        history = (await client.get(GSO)).json()
        cursor = history["next_updated_after"]
        assert (await client.get(GSO, params={"updated_after": cursor})).json()["observations"] == []
        await put(client, {"endpoint": GSO, "kind": "revise", "fraction": 0.05, "count": 1})
        body = (await client.get(GSO, params={"updated_after": cursor})).json()
        assert body["observations"] and all(r["updated_at"] > cursor for r in body["observations"])
        assert body["next_updated_after"] > cursor
        later = (await client.get(GSO, params={"updated_after": body["next_updated_after"]})).json()
        assert later["observations"] == []
