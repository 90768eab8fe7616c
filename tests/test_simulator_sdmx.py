"""The SDMX outputs, read back with pysdmx: the same figures as the agency JSON."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator_fixtures import CURRENT, INDICATORS, key, pull_all, running

pysdmx_io = pytest.importorskip("pysdmx.io")

STATUS = {"official": "A", "provisional": "P", "estimated": "E"}
FREQ = {"GDP_GROWTH": "Q", "UNEMPLOYMENT_RATE": "Q", "GRDP_GROWTH": "A"}


def _rows(text: str) -> tuple[str, dict[tuple[str, str, str], tuple[str, str, str]]]:
    message = pysdmx_io.read_sdmx(text)
    (dataset,) = message.data
    frame = dataset.data
    rows = {
        (r.INDICATOR, r.REF_AREA, r.TIME_PERIOD): (r.FREQ, str(r.OBS_VALUE), r.OBS_STATUS)
        for r in frame.itertuples(index=False)
    }
    assert len(rows) == len(frame), "an observation appears twice"
    return str(dataset.short_urn), rows


async def _expected(client: Any, agency: str, **params: Any) -> dict[tuple[str, str, str], tuple[str, str]]:
    """National figures of the agency and the provincial ones of all 34 provinces, as JSON."""
    national, _ = await pull_all(client, f"/agencies/{agency}/observations", **params)
    records = list(national)
    owners = {"NSO": {"NSO", "GSO"}}.get(agency, {agency})
    mine = {c for c, r in INDICATORS.items() if r["owner"] in owners and r["frequency"] != "live"}
    for code in CURRENT:
        figures, _ = await pull_all(client, f"/provinces/{code}/observations", page_size=50000, **params)
        records += [r for r in figures if r["indicator"] in mine]
    return {key(r): (str(r["value"]), STATUS[r["status"]]) for r in records}


@pytest.mark.parametrize("form", ["xml", "csv"])
async def test_sdmx_outputs_hold_the_same_figures_as_the_json_endpoints(form: str) -> None:
    async with running() as (_, client):
        r = await client.get(f"/sdmx/NSO/data.{form}")
        assert r.status_code == 200
        assert ("structurespecificdata+xml" if form == "xml" else "data+csv") in r.headers["content-type"]
        urn, rows = _rows(r.text)
        assert urn == "Dataflow=VN_NSO:DF_STATS(1.0)"
        expected = await _expected(client, "NSO")
        assert {k: v[1:] for k, v in rows.items()} == expected
        assert {k[1] for k in rows} >= {"VN", "02", "08", "79"}
        for (ind, _, period), (freq, _, _) in rows.items():
            assert freq == FREQ.get(ind, "M")
            assert ind != "GRDP_GROWTH" or len(period) == 4
        grdp = [k for k in rows if k[0] == "GRDP_GROWTH"]
        assert grdp and all(k[1] != "VN" for k in grdp)  # a provincial-only indicator


async def test_sdmx_updated_after_returns_the_latest_release_only() -> None:
    async with running() as (_, client):
        full = _rows((await client.get("/sdmx/GSO/data.csv")).text)[1]
        r = await client.get("/sdmx/GSO/data.xml", params={"updatedAfter": "2026-11-01T00:00:00Z"})
        _, recent = _rows(r.text)
        assert recent and set(recent) < set(full)
        assert {k[2] for k in recent} == {"2026-09", "2026-10"}
        assert {v[2] for k, v in recent.items() if k[2] == "2026-10"} == {"P"}
        assert {v[2] for k, v in recent.items() if k[2] == "2026-09"} == {"A"}
        assert all(full[k] == v for k, v in recent.items())


async def test_sdmx_errors() -> None:
    async with running() as (_, client):
        assert (await client.get("/sdmx/XYZ/data.xml")).status_code == 404
        assert (await client.get("/sdmx/NSO/data.json")).status_code == 404
        assert (await client.get("/sdmx/NSO/data.csv", params={"updatedAfter": "soon"})).status_code == 400
