"""The simulator's data endpoints, over real HTTP on localhost (docs/agency-json.md)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from statistics import mean
from typing import Any

import httpx
import pytest

from tests.simulator_fixtures import CURRENT, DEMO_DAY, FORMER, INDICATORS, Clock, key, pull_all, running

CUTOFF = date(2025, 6, 30)
PERIOD_FORMS = {
    "D": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "M": re.compile(r"\d{4}-(0[1-9]|1[0-2])"),
    "Q": re.compile(r"\d{4}-Q[1-4]"),
    "Y": re.compile(r"\d{4}"),
}


def period_end(period: str) -> date:
    if len(period) == 10:
        return date.fromisoformat(period)
    year = int(period[:4])
    if len(period) == 4:
        return date(year, 12, 31)
    month = 3 * int(period[-1]) if "Q" in period else int(period[5:7])
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def by_key(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {key(r): r for r in records}
    assert len(out) == len(records), "a record appears twice in one answer"
    return out


async def test_health_and_unknown_paths_answer_json_errors() -> None:
    async with running() as (_, client):
        r = await client.get("/healthz")
        assert r.status_code == 200 and r.text == "ok"
        r = await client.get("/no/such/thing")
        assert r.status_code == 404 and "error" in r.json()
        r = await client.get("/agencies/XYZ/observations")
        assert r.status_code == 404 and "XYZ" in r.json()["error"]


async def test_agency_answer_has_the_documented_envelope_and_valid_records() -> None:
    async with running() as (sim, client):
        r = await client.get("/agencies/GSO/observations")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json; charset=utf-8"
        body = r.json()
        assert body["format"] == "opscentre.agency-observations/1"
        assert body["agency"] == "GSO"
        assert body["generated_at"] == "2026-11-23T12:00:00Z" == body["next_updated_after"]
        assert body["updated_after"] is None and body["next"] is None
        records = body["observations"]
        assert len(records) > 500
        by_key(records)
        for rec in records:
            assert set(rec) == {"indicator", "area", "period", "value", "status", "updated_at", "published_at"}
            ind = INDICATORS[rec["indicator"]]
            assert ind["owner"] == "GSO" and ind["level"] in ("national", "national+provincial")
            assert rec["area"] == "VN"
            assert PERIOD_FORMS[ind["frequency"]].fullmatch(rec["period"]), rec
            assert isinstance(rec["value"], int | float) and not isinstance(rec["value"], bool)
            assert rec["status"] in ("provisional", "official", "estimated")
            assert (
                period_end(rec["period"]) < stamp(rec["updated_at"]).date() or rec["period"] == rec["updated_at"][:10]
            )
            assert stamp(rec["updated_at"]) <= DEMO_DAY
        assert {rec["indicator"] for rec in records} == {
            "GDP_GROWTH", "CPI_YOY", "CPI_MOM", "IIP_YOY", "RETAIL_SALES", "UNEMPLOYMENT_RATE",
        }  # fmt: skip
        assert r.headers["content-type"].startswith("application/json")
        assert sim.url.startswith("http://127.0.0.1:")


async def test_successor_agencies_serve_the_indicators_of_the_agencies_merged_into_them() -> None:
    async with running() as (_, client):
        gso = (await client.get("/agencies/GSO/observations")).json()["observations"]
        nso = (await client.get("/agencies/NSO/observations")).json()["observations"]
        assert nso == gso
        mof = {r["indicator"] for r in (await client.get("/agencies/MOF/observations")).json()["observations"]}
        assert {"BUDGET_REVENUE", "BUDGET_EXPENDITURE", "FDI_REGISTERED", "NEW_ENTERPRISES"} <= mof
        mpi = {r["indicator"] for r in (await client.get("/agencies/MPI/observations")).json()["observations"]}
        assert "FDI_REGISTERED" in mpi and "BUDGET_REVENUE" not in mpi
        cus = {r["indicator"] for r in (await client.get("/agencies/CUS/observations")).json()["observations"]}
        assert cus == {"EXPORTS", "IMPORTS", "TRADE_BALANCE"}
        vpcp = {r["indicator"] for r in (await client.get("/agencies/VPCP/observations")).json()["observations"]}
        assert vpcp == {"LEVEL4_SERVICE_SHARE"}  # the live counters are on the portal endpoint
        portal = (await client.get("/agencies/DVCQG/observations")).json()
        assert portal["observations"] == []


async def test_trade_balance_is_exports_minus_imports() -> None:
    async with running() as (_, client):
        recs = by_key((await client.get("/agencies/CUS/observations")).json()["observations"])
        for (ind, area, period), rec in recs.items():
            if ind == "TRADE_BALANCE":
                exports, imports = recs[("EXPORTS", area, period)], recs[("IMPORTS", area, period)]
                assert rec["value"] == pytest.approx(exports["value"] - imports["value"], abs=1e-6)


async def test_province_history_comes_under_the_codes_of_the_former_units() -> None:
    async with running() as (_, client):
        records, _ = await pull_all(client, "/provinces/08/observations")
        recs = by_key(records)
        assert {r["area"] for r in records} == {"02", "08"}
        assert ("CPI_YOY", "02", "2024-12") in recs and ("CPI_YOY", "08", "2024-12") in recs
        assert ("CPI_YOY", "08", "2025-08") in recs and ("CPI_YOY", "02", "2025-08") not in recs
        assert all(period_end(r["period"]) <= CUTOFF for r in records if r["area"] == "02")
        for rec in records:  # only provincial indicators, never national-only or live ones
            assert INDICATORS[rec["indicator"]]["level"] in ("provincial", "national+provincial")
        # the yearly GRDP growth of 2025 ends after the merger: the new unit reports it
        assert ("GRDP_GROWTH", "08", "2025") in recs and ("GRDP_GROWTH", "02", "2025") not in recs
        huế, _ = await pull_all(client, "/provinces/46/observations")
        assert {r["area"] for r in huế} == {"46"}
        assert {r["period"][:4] for r in huế if r["indicator"] == "CPI_YOY"} >= {"2024", "2025", "2026"}


async def test_unknown_or_former_province_codes_are_404_with_a_pointer() -> None:
    async with running() as (_, client):
        r = await client.get("/provinces/02/observations")
        assert r.status_code == 404 and "/provinces/08/observations" in r.json()["error"]
        r = await client.get("/provinces/99/observations")
        assert r.status_code == 404 and "99" in r.json()["error"]


async def test_provinces_add_up_to_the_nation_before_and_after_the_merger() -> None:
    async with running() as (_, client):
        national = by_key((await client.get("/agencies/GSO/observations")).json()["observations"])
        provincial: list[dict[str, Any]] = []
        for code in CURRENT:
            records, _ = await pull_all(client, f"/provinces/{code}/observations", page_size=50000)
            provincial.extend(r for r in records if r["indicator"] in ("RETAIL_SALES", "CPI_YOY"))
        for period, units in (("2025-05", FORMER), ("2025-08", CURRENT), ("2019-01", FORMER)):
            parts = [r for r in provincial if r["indicator"] == "RETAIL_SALES" and r["period"] == period]
            assert sorted(r["area"] for r in parts) == units
            total = national[("RETAIL_SALES", "VN", period)]["value"]
            assert sum(r["value"] for r in parts) == pytest.approx(total, abs=0.005)
            assert {r["status"] for r in parts} == {national[("RETAIL_SALES", "VN", period)]["status"]}
            rates = [r["value"] for r in provincial if r["indicator"] == "CPI_YOY" and r["period"] == period]
            cpi = national[("CPI_YOY", "VN", period)]["value"]
            assert len(rates) == len(units) and all(abs(v - cpi) < 4 for v in rates)
            assert abs(mean(rates) - cpi) < 1
        assert len(FORMER) == 63 and len(CURRENT) == 34


async def test_same_seed_and_clock_give_identical_bytes_another_seed_differs() -> None:
    paths = ["/agencies/GSO/observations", "/provinces/08/observations", "/portal/counters", "/sdmx/NSO/data.csv"]
    bodies: dict[int, list[bytes]] = {}
    for run, seed in enumerate((2020, 2020, 7)):
        async with running(Clock(), seed=seed) as (_, client):
            bodies[run] = [
                (await client.get(p, params={"page_size": 50000} if "obs" in p else {})).content for p in paths
            ]
    assert bodies[0] == bodies[1]
    assert all(a != b for a, b in zip(bodies[0], bodies[2], strict=True))


async def test_reporting_calendar_nothing_before_its_publication() -> None:
    clock = Clock()
    async with running(clock) as (_, client):
        gso = (await client.get("/agencies/GSO/observations")).json()["observations"]
        monthly = [r for r in gso if r["indicator"] == "CPI_YOY"]
        assert monthly[-1]["period"] == "2026-10"
        assert not [r for r in gso if r["period"].startswith("2026-11") or r["period"] == "2026-Q4"]
        october = [r for r in gso if r["period"] == "2026-10"]
        assert {r["status"] for r in october} == {"provisional"}
        for r in october:  # around the 20th of the next month
            assert datetime(2026, 11, 18, tzinfo=UTC) <= stamp(r["updated_at"]) < datetime(2026, 11, 23, tzinfo=UTC)
        gdp = [r for r in gso if r["indicator"] == "GDP_GROWTH"]
        assert gdp[-1]["period"] == "2026-Q3" and gdp[-1]["status"] == "estimated"
        assert stamp(gdp[-1]["updated_at"]).date() >= date(2026, 10, 27)
        sbv = (await client.get("/agencies/SBV/observations")).json()["observations"]
        daily = [r for r in sbv if r["indicator"] == "USD_CENTRAL_RATE"]
        assert daily[-1]["period"] == "2026-11-22"  # published the next morning
        # a week earlier, the October figures were not out yet
        clock.set(datetime(2026, 11, 16, 12, tzinfo=UTC))
        earlier = (await client.get("/agencies/GSO/observations")).json()["observations"]
        assert [r for r in earlier if r["indicator"] == "CPI_YOY"][-1]["period"] == "2026-09"


async def test_provisional_figures_are_revised_and_an_incremental_pull_returns_the_revisions() -> None:
    clock = Clock(datetime(2026, 10, 26, 12, tzinfo=UTC))
    async with running(clock) as (_, client):
        first = (await client.get("/agencies/GSO/observations")).json()
        cursor = first["next_updated_after"]
        before = by_key(first["observations"])
        september = before[("CPI_YOY", "VN", "2026-09")]
        assert september["status"] == "provisional"

        clock.set(DEMO_DAY)
        full = by_key((await client.get("/agencies/GSO/observations")).json()["observations"])
        r = await client.get("/agencies/GSO/observations", params={"updated_after": cursor})
        body = r.json()
        assert body["updated_after"] == cursor
        increment = by_key(body["observations"])
        # exactly what was published or revised since the cursor
        assert increment == {k: v for k, v in full.items() if stamp(v["updated_at"]) > stamp(cursor)}
        revised = increment[("CPI_YOY", "VN", "2026-09")]
        assert revised["status"] == "official" and stamp(revised["updated_at"]) > stamp(september["updated_at"])
        # A revised figure still says when it first came out; one never revised, that it is this value.
        assert revised["published_at"] == september["updated_at"] == september["published_at"]
        assert all(stamp(v["published_at"]) <= stamp(v["updated_at"]) for v in full.values())
        assert ("CPI_YOY", "VN", "2026-10") in increment and increment[("CPI_YOY", "VN", "2026-10")][
            "status"
        ] == "provisional"
        changed = [k for k in increment if k in before and increment[k]["value"] != before[k]["value"]]
        assert changed, "the official figures differ a little from the provisional ones"
        for k in changed:
            old, new = before[k]["value"], increment[k]["value"]
            assert abs(new - old) <= max(1.0, 0.1 * abs(old))
        # and from the new cursor, nothing until the next release
        again = (
            await client.get("/agencies/GSO/observations", params={"updated_after": body["next_updated_after"]})
        ).json()
        assert again["observations"] == []


async def test_pages_cover_the_answer_exactly_once_even_while_figures_are_published() -> None:
    clock = Clock(datetime(2026, 11, 17, 12, tzinfo=UTC))
    async with running(clock) as (_, client):
        whole = (await client.get("/provinces/79/observations", params={"page_size": 50000})).json()
        assert whole["next"] is None
        r = await client.get("/provinces/79/observations", params={"page_size": 1000})
        pages = [r.json()]
        clock.advance(days=10)  # the November release happens while the client pages through
        while pages[-1]["next"]:
            pages.append((await client.get(pages[-1]["next"])).json())
        records = [o for p in pages for o in p["observations"]]
        assert all(len(p["observations"]) == 1000 for p in pages[:-1])
        assert records == whole["observations"]
        assert {p["next_updated_after"] for p in pages} == {whole["next_updated_after"]}
        # a fresh pull now sees the new release
        fresh, _ = await pull_all(client, "/provinces/79/observations", page_size=5000)
        assert len(fresh) > len(records)


async def test_bad_query_parameters_are_400_with_a_reason() -> None:
    async with running() as (_, client):
        for params in ({"updated_after": "yesterday"}, {"updated_after": "2026-11-01T00:00:00"}, {"page_size": "0"},
                       {"page_size": "many"}, {"page_size": "50001"}, {"page": "not-a-token"}):  # fmt: skip
            r = await client.get("/agencies/GSO/observations", params=params)
            assert r.status_code == 400, params
            assert r.json()["error"]


async def test_portal_counters_grow_with_the_clock_and_provinces_add_up() -> None:
    clock = Clock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # 08:00 in Hà Nội, a Monday
    async with running(clock) as (_, client):
        readings = []
        for _ in range(12):
            r = await client.get("/portal/counters")
            assert r.status_code == 200
            readings.append(r.json())
            clock.advance(minutes=10)
        first = readings[0]
        assert first["format"] == "opscentre.portal-counters/1"
        assert first["as_of"] == "2026-11-23T01:00:00Z"
        live = {c for c, r in INDICATORS.items() if r["frequency"] == "live"}
        assert set(first["counters"]) == live
        for a, b in itertools.pairwise(readings):
            assert all(b["counters"][c] >= a["counters"][c] for c in live)
        assert readings[-1]["counters"]["PORTAL_VISITS"] > first["counters"]["PORTAL_VISITS"]
        assert readings[-1]["counters"]["PORTAL_DOSSIERS_SYNCED"] > first["counters"]["PORTAL_DOSSIERS_SYNCED"]
        assert isinstance(first["counters"]["PORTAL_PAYMENT_AMOUNT"], float | int)
        for reading in readings:
            assert sorted(reading["by_area"]) == CURRENT
            for counter in ("PORTAL_DOSSIERS_SYNCED", "PORTAL_DOSSIERS_ONLINE"):
                assert sum(a[counter] for a in reading["by_area"].values()) == reading["counters"][counter]
        # a clock moved back never makes a counter go down on the same simulator
        clock.set(datetime(2026, 11, 1, tzinfo=UTC))
        back = (await client.get("/portal/counters")).json()
        assert all(back["counters"][c] >= readings[-1]["counters"][c] for c in live)


async def test_portal_counters_follow_the_milestones_and_office_hours() -> None:
    clock = Clock(datetime(2021, 3, 7, 17, 0, tzinfo=UTC))  # 2021-03-08 00:00 in Hà Nội, a milestone
    async with running(clock) as (_, client):
        body = (await client.get("/portal/counters")).json()
        assert body["counters"]["PORTAL_VISITS"] == pytest.approx(116_000_000, rel=0.001)
        assert body["counters"]["PORTAL_DOSSIERS_SYNCED"] == pytest.approx(42_500_000, rel=0.001)
        assert len(body["by_area"]) == 63  # before the merger, the 63 former units
        growth = {}
        # Tuesday 2021-03-09: 03:00-04:00 and 10:00-11:00 in Hà Nội
        for hour, start_utc in ((3, datetime(2021, 3, 8, 20, tzinfo=UTC)), (10, datetime(2021, 3, 9, 3, tzinfo=UTC))):
            clock.set(start_utc)
            before = (await client.get("/portal/counters")).json()["counters"]["PORTAL_DOSSIERS_SYNCED"]
            clock.advance(hours=1)
            after = (await client.get("/portal/counters")).json()["counters"]["PORTAL_DOSSIERS_SYNCED"]
            growth[hour] = after - before
        assert growth[10] > 3 * growth[3] > 0


async def test_portal_counters_between_milestones_and_before_the_portal_opened() -> None:
    clock = Clock(datetime(2019, 6, 1, tzinfo=UTC))
    async with running(clock) as (_, client):
        early = (await client.get("/portal/counters")).json()["counters"]
        assert early["PORTAL_VISITS"] == 0 and early["EDOCS_EXCHANGED"] > 0  # the document axis came first
        clock.set(datetime(2020, 11, 1, tzinfo=UTC))
        mid = (await client.get("/portal/counters")).json()["counters"]
        assert 60_000_000 < mid["PORTAL_VISITS"] < 116_000_000
        assert 1000 < mid["PORTAL_SERVICES"] < 2800


async def test_synthetic_sources_are_small_deterministic_and_valid() -> None:
    async with running() as (_, client):
        a = (await client.get("/synthetic/17/observations", params={"records": 25})).json()
        b = (await client.get("/synthetic/17/observations", params={"records": 25})).json()
        c = (await client.get("/synthetic/18/observations", params={"records": 25})).json()
        assert a == b and a["observations"] != c["observations"]
        assert a["format"] == "opscentre.agency-observations/1" and len(a["observations"]) == 25
        by_key(a["observations"])
        for rec in a["observations"]:
            ind = INDICATORS[rec["indicator"]]
            assert ind["level"] == "national+provincial" and ind["frequency"] == "M"
            assert rec["area"] in CURRENT and PERIOD_FORMS["M"].fullmatch(rec["period"])
            assert rec["period"] >= "2025-07"
        default = (await client.get("/synthetic/3/observations")).json()
        assert len(default["observations"]) == 10
        many = (await client.get("/synthetic/3/observations", params={"records": 5000})).json()
        assert len(by_key(many["observations"])) == 5000
        later = (
            await client.get("/synthetic/3/observations", params={"updated_after": many["next_updated_after"]})
        ).json()
        assert later["observations"] == []
        assert (await client.get("/synthetic/3/observations", params={"records": "x"})).status_code == 400


def _series(records: list[dict[str, Any]], indicator: str) -> dict[str, float]:
    return {r["period"]: r["value"] for r in records if r["indicator"] == indicator}


async def test_series_look_like_the_published_figures() -> None:
    async with running() as (_, client):
        gso = (await client.get("/agencies/GSO/observations")).json()["observations"]
        cpi = _series(gso, "CPI_YOY")
        assert min(cpi) == "2010-01"  # the statistics office's long history
        assert all(0 <= v <= 6.5 for p, v in cpi.items() if p >= "2014")
        assert max(cpi.values()) > 12  # 2011
        gdp = _series(gso, "GDP_GROWTH")
        assert gdp["2021-Q3"] < 0 < gdp["2021-Q4"] and gdp["2022-Q3"] > 10
        assert all(5 <= gdp[f"{y}-Q{q}"] <= 8.5 for y in (2018, 2019) for q in range(1, 5))
        retail = _series(gso, "RETAIL_SALES")
        assert mean(v for p, v in retail.items() if p.startswith("2019")) == pytest.approx(412, rel=0.05)
        assert all(isinstance(v, float) and round(v, 2) == v for v in retail.values())

        vnat = _series((await client.get("/agencies/VNAT/observations")).json()["observations"], "INTL_ARRIVALS")
        assert min(vnat) == "2017-01"  # other agencies' history starts in 2017
        normal = mean(v for p, v in vnat.items() if p.startswith("2019"))
        assert all(v < 0.05 * normal for p, v in vnat.items() if "2020-05" <= p <= "2022-02")
        assert vnat["2024-06"] > 0.6 * normal

        sbv = (await client.get("/agencies/SBV/observations")).json()["observations"]
        usd = _series(sbv, "USD_CENTRAL_RATE")
        values = [usd[p] for p in sorted(usd)]
        assert all(isinstance(v, int) for v in values)
        assert 22_000 < values[0] < 22_500 and 24_500 < values[-1] < 26_500
        assert all(abs(b - a) < 0.005 * a for a, b in itertools.pairwise(values))
        overnight = _series(sbv, "INTERBANK_OVERNIGHT")
        assert all(0 < v < 12 for v in overnight.values())

        moh = (await client.get("/agencies/MOH/observations")).json()["observations"]
        cases = _series(moh, "COVID19_NEW_CASES")
        assert min(cases) == "2020-01-23"
        assert max(cases.values()) > 100_000  # the Omicron wave of early 2022
        assert all(isinstance(v, int) and v >= 0 for v in cases.values())


@pytest.mark.parametrize("agency", ["GSO", "SBV"])
async def test_a_full_history_pull_is_quick(agency: str) -> None:
    """Not a timing assertion: the whole history comes in a few pages of the default size."""
    async with running() as (_, client):
        records, pages = await pull_all(client, f"/agencies/{agency}/observations")
        assert len(pages) == -(-len(records) // 5000)
        assert len(by_key(records)) == len(records)


async def test_http_client_sees_a_refused_connection_once_the_simulator_stops() -> None:
    async with running() as (sim, _client):
        url = sim.url
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as other:
            await other.get(f"{url}/healthz")
