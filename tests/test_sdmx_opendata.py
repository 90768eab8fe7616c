"""Open data in SDMX (docs/opendata.md): a real feed server over a real store, read as an outside
system would, with pysdmx's own readers on the bytes fetched with the token header. The data equal
the store's figure by figure and revision by revision, ``asOf`` included; the structure lists every
indicator and area; refusals are clear HTTP errors; a reader's token opens nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pysdmx.io import read_sdmx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from feed.config import UserSettings, hash_token
from feed.server import FeedServer
from storage import Batch, ObservationIn, Store
from storage.models import Observation
from tests.feedkit import TOKENS, USERS, feed_server

READER = "reader-token-0123456789"
USERS_AND_READER = [*USERS, UserSettings(name="stats-office", role="reader", token_sha256=hash_token(READER))]
T0 = datetime(2026, 1, 10, tzinfo=UTC)
AS_OF = T0 + timedelta(days=1, hours=12)  # after the first revision, before the second
FLOW_PATH = "/sdmx/v2/data/dataflow/VN_OPSC/OPSC_FIGURES/1.0.0"
CSV = "application/vnd.sdmx.data+csv;version=2.0.0"
XML = "application/vnd.sdmx.structurespecificdata+xml;version=3.0.0"
JSON = "application/vnd.sdmx.data+json;version=2.0.0"
STATUS = {"official": "A", "provisional": "P", "estimated": "E"}


def _rec(indicator: str, area: str, period: str, value: float, status: str = "official") -> ObservationIn:
    return ObservationIn(indicator=indicator, area=area, period=period, value=value, status=status)


async def _fill(store: Store) -> None:
    """Figures of two indicators, two areas and two sources; one figure revised twice (after AS_OF once)."""
    first = [_rec("FDI_DISBURSED", "VN", f"2025-{m:02d}", 1000.0 + m, "provisional") for m in (1, 2, 3)]
    first += [
        _rec("NEW_ENTERPRISES", area, "2025-01", 15000.5 if area == "VN" else 2100, "estimated")
        for area in ("VN", "01")
    ]
    await store.observations.ingest(Batch("nso", first, collected_at=T0, payload=b"first"))
    await store.observations.ingest(
        Batch("gso-sdmx", [_rec("FDI_DISBURSED", "VN", "2025-02", 1002.5)], collected_at=T0, payload=b"sdmx")
    )
    revised = [_rec("FDI_DISBURSED", "VN", "2025-02", 1010.0), _rec("FDI_DISBURSED", "VN", "2025-01", 1001.0)]
    await store.observations.ingest(Batch("nso", revised, collected_at=T0 + timedelta(days=1), payload=b"second"))
    again = [_rec("FDI_DISBURSED", "VN", "2025-02", 1020.0), _rec("FDI_DISBURSED", "VN", "2025-04", 1004.0)]
    await store.observations.ingest(Batch("nso", again, collected_at=T0 + timedelta(days=2), payload=b"third"))


async def _get(server: FeedServer, path: str, *, token: str | None = READER, accept: str = CSV) -> httpx.Response:
    headers = {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    async with httpx.AsyncClient() as http:
        return await http.get(f"http://127.0.0.1:{server.port}{path}", headers=headers)


def _rows(message: Any) -> list[dict[str, Any]]:
    """Every observation of every data set pysdmx read, as plain dicts."""
    out: list[dict[str, Any]] = []
    for dataset in message.data:
        out += dataset.data.to_dict("records")
    return out


def _expected(obs: Observation) -> tuple[Any, ...]:
    return (obs.indicator, obs.area, obs.source, obs.period, obs.value, STATUS[obs.status], obs.revision)


def _got(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["INDICATOR"], row["AREA"], row["SOURCE"], row["TIME_PERIOD"],
        float(row["OBS_VALUE"]), row["OBS_STATUS"], int(row["REVISION"]),
    )  # fmt: skip


async def _store_figures(store: Store, *, as_of: datetime | None = None, history: bool = False) -> set[tuple[Any, ...]]:
    """What the store's own repositories say: each series' history (as of), or every revision."""
    series = [("FDI_DISBURSED", "VN"), ("NEW_ENTERPRISES", "VN"), ("NEW_ENTERPRISES", "01")]
    out: set[tuple[Any, ...]] = set()
    for indicator, area in series:
        for obs in await store.observations.history(indicator, area, as_of=as_of):
            if history:
                out |= {
                    _expected(r) for r in await store.observations.revisions(indicator, area, obs.period, obs.source)
                }
            else:
                out.add(_expected(obs))
    return out


BOTH_ENGINES = True  # the open data's reads (store.observations.figures) on SQLite and PostgreSQL


@pytest.fixture
async def server(store_target: str) -> Any:
    store = await Store.open(store_target)
    await _fill(store)
    async with feed_server(store_target, store=store, users=USERS_AND_READER) as srv:
        yield srv
    await store.close()


@pytest.mark.parametrize("accept", [CSV, XML])
async def test_the_data_equal_the_stores_figure_by_figure_and_revision_by_revision(
    server: FeedServer, accept: str
) -> None:
    store = server.store
    latest = await _get(server, f"{FLOW_PATH}/*", accept=accept)
    assert latest.status_code == 200, latest.text
    assert latest.headers["content-type"].startswith(accept)
    rows = _rows(read_sdmx(latest.text))
    assert {_got(r) for r in rows} == await _store_figures(store)
    assert len(rows) == len({_got(r) for r in rows})

    history = await _get(server, f"{FLOW_PATH}/*?includeHistory=true", accept=accept)
    assert history.status_code == 200, history.text
    every = {_got(r) for r in _rows(read_sdmx(history.text))}
    assert every == await _store_figures(store, history=True)
    assert ("FDI_DISBURSED", "VN", "nso", "2025-02", 1020.0, "A", 3) in every

    then = await _get(server, f"{FLOW_PATH}/*?asOf={AS_OF.isoformat().replace('+00:00', 'Z')}", accept=accept)
    assert then.status_code == 200, then.text
    known = {_got(r) for r in _rows(read_sdmx(then.text))}
    assert known == await _store_figures(store, as_of=AS_OF)
    one = await store.observations.value_as_of("FDI_DISBURSED", "VN", "2025-02", AS_OF, source="nso")
    assert one is not None and ("FDI_DISBURSED", "VN", "nso", "2025-02", one.value, "A", 2) in known
    assert not any(r[3] == "2025-04" for r in known)  # stored after the instant


async def test_keys_and_period_filters_select_as_sdmx_says(server: FeedServer) -> None:
    async def keys(path: str) -> set[tuple[str, str, str, str]]:
        response = await _get(server, path)
        assert response.status_code == 200, response.text
        return {(r["INDICATOR"], r["AREA"], r["SOURCE"], r["TIME_PERIOD"]) for r in _rows(read_sdmx(response.text))}

    assert await keys(f"{FLOW_PATH}/M.NEW_ENTERPRISES.VN+01") == {
        ("NEW_ENTERPRISES", "VN", "nso", "2025-01"),
        ("NEW_ENTERPRISES", "01", "nso", "2025-01"),
    }
    assert await keys(f"{FLOW_PATH}/*.FDI_DISBURSED.*.gso-sdmx") == {("FDI_DISBURSED", "VN", "gso-sdmx", "2025-02")}
    ranged = await keys(f"{FLOW_PATH}/M.FDI_DISBURSED.VN.nso?c[TIME_PERIOD]=ge:2025-02+le:2025-03")
    assert {k[3] for k in ranged} == {"2025-02", "2025-03"}
    quarter = await keys(f"{FLOW_PATH}/M.FDI_DISBURSED?c[TIME_PERIOD]=ge:2025-Q2")
    assert {k[3] for k in quarter} == {"2025-04"}
    assert {k[3] for k in await keys(f"{FLOW_PATH}/M.FDI_DISBURSED.VN.nso?lastNObservations=1")} == {"2025-04"}


async def test_the_json_message_holds_the_same_figures(server: FeedServer) -> None:
    response = await _get(server, f"{FLOW_PATH}/M.FDI_DISBURSED.VN.nso", accept=JSON)
    assert response.status_code == 200, response.text
    data = json.loads(response.text)["data"]
    structure = data["structures"][0]
    periods = [v["value"] for v in structure["dimensions"]["observation"][0]["values"]]
    observations = data["dataSets"][0]["series"]["0:0:0:0"]["observations"]
    got = {periods[int(k)]: v[0] for k, v in observations.items()}
    want = {o.period: o.value for o in await server.store.observations.history("FDI_DISBURSED", "VN", source="nso")}
    assert got == want


def _structures(text: str) -> dict[str, Any]:
    structures: Any = read_sdmx(text).structures
    return {s.id: s for s in structures}


async def test_the_structure_lists_every_indicator_and_area(server: FeedServer) -> None:
    flows = await _get(server, "/sdmx/v2/structure/dataflow", accept="application/vnd.sdmx.structure+xml;version=3.0.0")
    assert flows.status_code == 200, flows.text
    assert [f.id for f in _structures(flows.text).values()] == ["OPSC_FIGURES"]
    full = await _get(server, "/sdmx/v2/structure/dataflow/VN_OPSC/OPSC_FIGURES/1.0.0?references=all", accept="*/*")
    assert full.status_code == 200, full.text
    by_id = _structures(full.text)
    indicators = {c.id: c for c in by_id["CL_INDICATOR"].codes}
    catalogue = server.store.reference.listed()
    assert set(indicators) == {i.code for i in catalogue}
    for i in catalogue:
        assert {"UNIT": i.unit}.items() <= {a.id: a.title for a in indicators[i.code].annotations}.items()
    areas = {c.id: c for c in by_id["CL_AREA"].codes}
    assert set(areas) == set(server.store.reference.catalogue.areas)
    gone = {a.id: a.title for a in areas["02"].annotations}  # Hà Giang, merged on 2025-07-01
    assert gone["VALID_TO"] == "2025-06-30" and gone["SUCCESSOR"] == "08"
    assert {c.id for c in by_id["CL_OBS_STATUS"].codes} == {"A", "P", "E"}
    dsd = by_id["DSD_OPSC_FIGURES"]
    assert [d.id for d in dsd.components.dimensions] == ["FREQ", "INDICATOR", "AREA", "SOURCE", "TIME_PERIOD"]


@pytest.mark.parametrize(
    ("path", "token", "accept", "status", "says"),
    [
        (f"{FLOW_PATH}/*", None, CSV, 401, "no token"),
        (f"{FLOW_PATH}/*", "not-a-token", CSV, 401, "wrong or unknown token"),
        ("/sdmx/v2/data/dataflow/VN_OPSC/NO_SUCH_FLOW/1.0.0/*", READER, CSV, 404, "unknown dataflow"),
        ("/sdmx/v2/structure/codelist/VN_OPSC/CL_NOTHING", READER, "*/*", 404, "no codelist"),
        (f"{FLOW_PATH}/*?c[TIME_PERIOD]=ge:2025-13", READER, CSV, 400, "month 13 is out of range"),
        (f"{FLOW_PATH}/*?asOf=yesterday", READER, CSV, 400, "asOf"),
        (f"{FLOW_PATH}/M.A.B.C.D.E", READER, CSV, 400, "key"),
        (f"{FLOW_PATH}/*?startPeriod=2025", READER, CSV, 400, "'startPeriod' is not supported"),
        (f"{FLOW_PATH}/*?token={READER}", READER, CSV, 400, "tokens never go in URLs"),
        (f"{FLOW_PATH}/*?{READER}", READER, CSV, 400, "parameter 1 is unknown"),
        (f"{FLOW_PATH}/*", READER, "text/html", 406, "application/vnd.sdmx.data+csv;version=2.0.0"),
    ],
)
async def test_refusals_are_clear_http_errors(
    server: FeedServer, path: str, token: str | None, accept: str, status: int, says: str
) -> None:
    response = await _get(server, path, token=token, accept=accept)
    assert response.status_code == status, response.text
    assert says in response.text
    assert READER not in response.text  # a token in the URL is never echoed
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_reads_and_refusals_are_audited_and_a_token_is_rate_limited(tmp_path: Path) -> None:
    async with feed_server(tmp_path / "a.db", users=USERS_AND_READER, queries_per_minute=30) as server:
        assert (await _get(server, f"{FLOW_PATH}/M.FDI_DISBURSED")).status_code == 200
        assert (await _get(server, f"{FLOW_PATH}/*?includeHistory=maybe")).status_code == 400
        entries = await server.store.audit.entries()
        actions = [(e.actor, e.role, e.action, e.target) for e in reversed(entries)]
        assert actions[-2:] == [
            ("stats-office", "reader", "opendata.read", "data/dataflow/VN_OPSC/OPSC_FIGURES/1.0.0/M.FDI_DISBURSED"),
            ("stats-office", "reader", "opendata.refused", "data/dataflow/VN_OPSC/OPSC_FIGURES/1.0.0/*"),
        ]
        statuses = [(await _get(server, f"{FLOW_PATH}/*")).status_code for _ in range(6)]
        assert statuses[-1] == 429  # a burst of 3 (a tenth of 30, at least 3), then refused
        other = await _get(server, f"{FLOW_PATH}/*", token=TOKENS["display"])
        assert other.status_code == 200  # the limit is per token


async def test_the_reader_role_cannot_use_the_websocket_feed(server: FeedServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.url, additional_headers={"Authorization": f"Bearer {READER}"}):
            pass
    assert refused.value.response.status_code == 403
    async with connect(server.url) as ws:  # a browser's way: the token in the hello
        await ws.send(json.dumps({"type": "hello", "token": READER}))
        await ws.wait_closed()
        assert ws.close_code == 4403 and "open data" in (ws.close_reason or "")
