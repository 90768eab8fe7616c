"""Upstream data as real agencies publish it: truncated payloads, messages that break the schema but
parse, mapping power real sources need, outcomes that tell the truth, `next` links kept on the
source's origin, upstream text kept out of what every role sees, and retries that name the source.

Servers are real (aiohttp, or a bare asyncio socket where aiohttp will not send a short body)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from collectors.config import CollectorSettings, SourceSettings
from collectors.sources import PayloadError, adapter_for
from collectors.sources.base import Fetched, Parsed
from rules.after_run import Collector
from storage import RunOutcome, Store
from tests.conftest import run_cli, run_cli_process

DATA = Path(__file__).parent / "data" / "sdmx"
URL = "http://127.0.0.1:1/sdmx/data"
HEAD = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS\n"
ROW = "dataflow,NSO:DF_CPI(1.0),I,M,"


def sdmx(fmt: str = "sdmx-csv", url: str = URL, **kw: Any) -> SourceSettings:
    return SourceSettings.model_validate(
        {"name": "nso-sdmx", "kind": "sdmx", "format": fmt, "url": url, "every": "1h", **kw}
    )


def parse(body: bytes, fmt: str = "sdmx-ml", **kw: Any) -> Parsed:
    return adapter_for(sdmx(fmt, **kw)).parse(Fetched(URL, 200, None, body))


def figures(parsed: Parsed) -> list[tuple[str, str, str, float, str]]:
    return [(r.indicator, r.area, r.period, r.value, r.status.value) for r in parsed.records]


def settings() -> CollectorSettings:
    return CollectorSettings(
        retries=0, backoff_initial=timedelta(milliseconds=5), backoff_max=timedelta(milliseconds=20)
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start a real HTTP server on a free port answering every GET with ``handler``; its base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler, host: str = "127.0.0.1") -> str:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def kept_payload(store: Store, run_id: int) -> bytes:
    [ingest] = await store.observations.ingest_log(run_id)
    assert ingest.payload_digest is not None
    body = await store.observations.payload(ingest.payload_digest)
    assert body is not None
    return body


# --- truncated payloads -------------------------------------------------------------------------------


def test_an_sdmx_csv_cut_inside_the_last_value_yields_no_figure() -> None:
    whole = HEAD + ROW + "CPI_YOY,VN,2024-04,4.40,A\n" + ROW + "CPI_YOY,VN,2024-05,1.111345,A\n"
    assert figures(parse(whole.encode(), "sdmx-csv"))[-1][3] == 1.111345
    cut = whole.encode()[: whole.index("1.111345") + 4]  # "...,1.11"
    with pytest.raises(PayloadError, match=r"truncated SDMX-CSV message: it ends inside a record"):
        parse(cut, "sdmx-csv")
    with pytest.raises(PayloadError, match=r"truncated SDMX-CSV"):
        parse((HEAD + ROW + "CPI_YOY,VN,2024-04,4.40,A").encode(), "sdmx-csv")  # even a whole-looking value


@pytest.mark.parametrize("name", ["cpi_2024-06.xml", "cpi_2024-06_generic.xml", "cpi_2024-07_ss30.xml"])
def test_an_unclosed_sdmx_ml_document_fails_whole_naming_truncation(name: str) -> None:
    body = (DATA / name).read_bytes()
    for cut in (len(body) // 2, body.rindex(b"</"), len(body.rstrip()) - 1):
        with pytest.raises(PayloadError, match=r"truncated SDMX-ML message: .* before it is closed"):
            parse(body[:cut])


def test_unclosed_json_documents_fail_naming_truncation() -> None:
    agency = SourceSettings(name="gso", kind="agency-json", url="http://127.0.0.1:1/a", every="1h")
    portal = SourceSettings(name="portal", kind="portal", url="http://127.0.0.1:1/p", every="5s")
    body = json.dumps(
        {
            "format": "opscentre.agency-observations/1",
            "observations": [{"indicator": "CPI_YOY", "area": "VN", "period": "2024-05", "value": 4.444}],
        }
    ).encode()
    for src in (agency, portal):
        with pytest.raises(PayloadError, match=r"truncated, the document ends at byte .* before it is closed"):
            adapter_for(src).parse(Fetched(URL, 200, None, body[: body.index(b"4.444") + 3]))
    with pytest.raises(PayloadError, match=r"not valid JSON \(Expecting"):  # broken in the middle: not "truncated"
        adapter_for(agency).parse(Fetched(URL, 200, None, body.replace(b":", b";", 1)))


async def test_a_cut_csv_over_http_fails_the_run_keeps_the_bytes_and_saves_no_cursor(
    store: Store, serve: Callable[..., Awaitable[str]]
) -> None:
    body = (HEAD + ROW + "CPI_YOY,VN,2024-04,4.40,A\n" + ROW + "CPI_YOY,VN,2024-05,1.11").encode()

    async def cut(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/csv")

    base = await serve(cut)
    async with Collector(store, [sdmx(url=f"{base}/data.csv")], settings()) as collector:
        run = await collector.run("nso-sdmx")
    assert run.outcome is RunOutcome.FAILED
    assert run.error is not None and "truncated SDMX-CSV" in run.error
    assert await store.observations.history("CPI_YOY", "VN") == []
    assert await store.observations.cursor("nso-sdmx") is None
    assert await kept_payload(store, run.id) == body  # the failure can be traced to the bytes


async def test_a_body_shorter_than_its_content_length_is_refused_as_cut_off(store: Store) -> None:
    """A bare socket server: it announces 400 bytes, sends a valid-looking SDMX-CSV prefix, and closes."""
    sent = (HEAD + ROW + "CPI_YOY,VN,2024-04,4.40,A\n").encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 400\r\n\r\n" + sent)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Collector(store, [sdmx(url=f"http://127.0.0.1:{port}/data.csv")], settings()) as collector:
            run = await collector.run("nso-sdmx")
    finally:
        server.close()
        await server.wait_closed()
    assert run.outcome is RunOutcome.FAILED
    assert run.error is not None
    assert f"cut off: {len(sent):,} of the 400 bytes its Content-Length announced" in run.error
    assert await store.observations.history("CPI_YOY", "VN") == []


# --- real messages ---------------------------------------------------------------------------------------------

ESTAT_MAPPING = {
    "indicator": "CPI_YOY",
    "area_dimension": "geo",
    "areas": {"HN": "01"},
    "filters": {"unit": ["RCH_A"]},
    "status_attribute": "OBS_FLAG",
    "statuses": {"SD": "estimated"},
}


def test_a_message_that_breaks_the_schema_but_parses_is_read() -> None:
    # Eurostat-style: lower-case dimensions, OBS_FLAG codes in lower case, a footer with severity "Infomation"
    # (sic) that strict XML-schema validation refuses.
    parsed = parse((DATA / "estat_hicp_manr.xml").read_bytes(), mapping=ESTAT_MAPPING)
    assert figures(parsed) == [
        ("CPI_YOY", "VN", "2024-03", 3.97, "official"),
        ("CPI_YOY", "VN", "2024-04", 4.4, "estimated"),
        ("CPI_YOY", "VN", "2024-05", 4.44, "provisional"),
        ("CPI_YOY", "01", "2024-04", 4.21, "estimated"),  # "sd", mapped as "SD"
    ]
    [rejected] = parsed.rejected  # the I15 series is filtered out (not ours), "u" has no mapping
    assert rejected.index == 5 and "OBS_FLAG 'u' is not kept" in rejected.reason
    assert parsed.positions == [0, 1, 2, 4]
    assert parsed.cursor == "2024-06-18T21:00:04.214000Z"


def test_sdmx_ml_3_0_structure_specific_data_is_read(recwarn: pytest.WarningsRecorder) -> None:
    parsed = parse((DATA / "cpi_2024-07_ss30.xml").read_bytes())
    assert figures(parsed) == [
        ("CPI_YOY", "VN", "2024-05", 4.36, "official"),
        ("CPI_YOY", "VN", "2024-06", 4.34, "provisional"),
        ("CPI_YOY", "79", "2024-06", 3.88, "provisional"),
    ]
    assert parsed.cursor == "2024-07-22T09:00:00Z"
    assert [str(w.message) for w in recwarn] == []  # pysdmx's "attributes will be lost" (the Contact) stays quiet


@pytest.mark.parametrize("specimen", ["estat_413_footer.xml", "estat_413_footer_async.xml"])
def test_a_footer_413_delivered_as_a_file_fails_with_the_agencys_text_kept_aside(specimen: str) -> None:
    """Eurostat's answer to a large query: an empty data set and a footer 413; in its asynchronous
    form the header names no structure at all (pysdmx then fails on the missing Structure): the
    footer is read first, so both say the agency's code and keep its words."""
    with pytest.raises(PayloadError) as caught:
        parse((DATA / specimen).read_bytes())
    message = str(caught.value)
    assert "code 413 (the answer is too large and is delivered as a file instead)" in message
    assert "https://" not in message and "schema" not in message.lower()
    assert caught.value.detail is not None
    assert "will be written to a file which will be located under URL: https://ec.europa.eu" in caught.value.detail
    assert "Please try it again in 5 minutes." in caught.value.detail


def test_imfs_time_series_message_whose_reference_has_no_version_is_read() -> None:
    """IMF writes the header's ``<Ref agencyID="IMF" id="IFS" />`` without ``version``, which the
    SDMX 2.1 schema defaults to 1.0; pysdmx alone fails on ``KeyError: 'version'``."""
    body = (DATA / "imf_ifs_timeseries.xml").read_bytes()
    assert b'<Ref agencyID="IMF" id="IFS" />' in body and b"StructureSpecificTimeSeriesData" in body
    mapping = {"indicators": {"PCPI_PC_CP_A_PT": "CPI_YOY"}, "filters": {"INDICATOR": ["PCPI_PC_CP_A_PT"]}}
    parsed = parse(body, mapping=mapping)
    assert figures(parsed) == [
        ("CPI_YOY", "VN", "2024-03", 3.97, "official"),
        ("CPI_YOY", "VN", "2024-04", 4.4, "official"),
        ("CPI_YOY", "VN", "2024-05", 4.44, "official"),
    ]
    assert parsed.rejected == [] and parsed.positions == [0, 1, 2]  # the index series is not ours
    assert parsed.cursor == "2024-06-20T09:00:00Z"


ISTAT_MAPPING = {"indicator": "CPI_YOY", "area": "VN", "filters": {"DATA_TYPE": ["39"]}}
_ISTAT = (DATA / "istat_no_structure_ref.xml").read_bytes()
_ISTAT_STRUCTURE = (
    b'    <message:Structure structureID="IT1_168_760_1_0" namespace="urn:sdmx:org.sdmx.infomodel.datastructure.'
    b'DataStructure=IT1:DCSP_IPCA(1.0):ObsLevelDim:TIME_PERIOD" dimensionAtObservation="TIME_PERIOD"/>\n'
)
ISTAT_HEADERS = {
    "structure-without-reference": _ISTAT,
    "no-structure-element": _ISTAT.replace(_ISTAT_STRUCTURE, b""),
    "structure-empty-without-dimension": _ISTAT.replace(
        _ISTAT_STRUCTURE, b'    <message:Structure structureID="IT1_168_760_1_0">\n    </message:Structure>\n'
    ),
}


@pytest.mark.parametrize("body", list(ISTAT_HEADERS.values()), ids=list(ISTAT_HEADERS))
@pytest.mark.parametrize("structure", ["DataStructure=IT1:DCSP_IPCA(1.0)", "Dataflow=IT1:168_760(1.0)"])
def test_istats_header_without_a_structure_reference_is_read_with_the_configured_one(
    body: bytes, structure: str
) -> None:
    assert b"<common:Structure" not in body and b"<common:StructureUsage" not in body
    parsed = parse(body, mapping={**ISTAT_MAPPING, "structure": structure})
    assert figures(parsed) == [
        ("CPI_YOY", "VN", "2024-03", 1.2, "official"),
        ("CPI_YOY", "VN", "2024-04", 0.9, "official"),
        ("CPI_YOY", "VN", "2024-05", 0.8, "provisional"),
    ]
    assert parsed.cursor == "2024-06-20T09:00:00Z"


@pytest.mark.parametrize("body", list(ISTAT_HEADERS.values()), ids=list(ISTAT_HEADERS))
def test_without_the_configured_structure_the_run_says_which_key_to_set(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(body, mapping=ISTAT_MAPPING)
    assert "header names no structure" in str(caught.value)
    assert "mapping.structure = 'Dataflow=AGENCY:ID(VERSION)'" in str(caught.value)
    assert "KeyError" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("IT1:168_760(1.0)", "Dataflow=IT1:168_760(1.0)"),
        (
            "urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=IT1:DCSP_IPCA(1.0)",
            "DataStructure=IT1:DCSP_IPCA(1.0)",
        ),
        ("ProvisionAgreement=ESTAT.ENV:PA_1(1.2.0)", "ProvisionAgreement=ESTAT.ENV:PA_1(1.2.0)"),
    ],
)
def test_the_configured_structure_is_read_in_its_three_spellings(given: str, kept: str) -> None:
    assert sdmx("sdmx-ml", mapping={"structure": given}).mapping.structure == kept  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["IT1:168_760", "Codelist=IT1:CL_FREQ(1.0)", "", "IT1:168 760(1.0)", "<Ref/>"])
def test_a_malformed_configured_structure_is_refused_at_load_naming_the_form(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not an SDMX structure reference: write CLASS=AGENCY:ID\(VERSION\)"):
        sdmx("sdmx-ml", mapping={"structure": bad})


def test_a_header_that_names_its_structure_keeps_it_over_the_configured_one() -> None:
    body = (DATA / "cpi_2024-06.xml").read_bytes()
    configured = parse(body, mapping={"structure": "Dataflow=OTHER:ELSEWHERE(9.9)"})
    assert figures(configured) == figures(parse(body)) and len(configured.records) == 9


def test_an_sdmx_error_message_reports_the_agencys_own_text() -> None:
    with pytest.raises(PayloadError, match=r"error message instead of data: code 413") as caught:
        parse((DATA / "error_413.xml").read_bytes())
    assert (
        caught.value.detail
        == "Your answer will be delivered as a file: https://stats.example.org/sdmx/async/7f3a2c.xml"
    )


# --- mapping power ------------------------------------------------------------------------------------------


def test_constant_area_and_indicator_filters_time_dimension_and_status_codes() -> None:
    body = (
        b"DATAFLOW,FREQ,CURRENCY,EXR_SUFFIX,REF_PERIOD,OBS_VALUE,OBS_STATUS\n"
        b"ECB:EXR(1.0),M,USD,A,2024-05,1.0812,a\n"
        b"ECB:EXR(1.0),M,USD,E,2024-05,1.0850,A\n"
        b"ECB:EXR(1.0),Q,USD,A,2024-Q2,1.0760,p\n"
        b"ECB:EXR(1.0),M,USD,A,2024-06,1.0760,x\n"
    )
    mapping = {
        "indicator": "CPI_YOY",
        "area": "VN",
        "time_dimension": "REF_PERIOD",
        "filters": {"EXR_SUFFIX": ["A"], "FREQ": ["M"]},
        "unknown_status": "estimated",
    }
    parsed = parse(body, "sdmx-csv", mapping=mapping)
    assert figures(parsed) == [
        ("CPI_YOY", "VN", "2024-05", 1.0812, "official"),  # "a" is A in any case
        ("CPI_YOY", "VN", "2024-06", 1.076, "estimated"),  # unknown code: the mapping's default
    ]
    assert parsed.rejected == [] and parsed.positions == [0, 3]
    with pytest.raises(PayloadError, match=r"no REF_PERIOD column.*time_dimension = 'REF_PERIOD'"):
        parse(body.replace(b"REF_PERIOD", b"TIME_PERIOD"), "sdmx-csv", mapping=mapping)
    # Without a constant, the dimension is required; unknown codes are rejected by default, naming what is taken.
    default = parse(HEAD.encode() + (ROW + "CPI_YOY,VN,2024-05,4.4,SD\n").encode(), "sdmx-csv")
    assert "OBS_STATUS 'SD' is not kept: we take A, E, P" in default.rejected[0].reason


def test_the_mapping_refuses_codes_that_differ_only_in_case_and_empty_filters() -> None:
    with pytest.raises(ValueError, match="differ only in case"):
        sdmx(mapping={"statuses": {"p": "provisional", "P": "official"}})
    with pytest.raises(ValueError, match="lists no codes"):
        sdmx(mapping={"filters": {"EXR_SUFFIX": []}})
    with pytest.raises(ValueError, match="unknown_status"):
        sdmx(mapping={"unknown_status": "maybe"})


CONFIG = """
[[sources]]
name = "nso-sdmx"
kind = "sdmx"
format = "sdmx-csv"
url = "http://127.0.0.1:8780/sdmx/NSO/data.csv"
every = "1h"
[sources.mapping]
area = "HANOI"
filters = {{ FREQ = [{freq}] }}
[sources.mapping.indicators]
CPI_Y = "CPI_YOY"
[sources.mapping.areas]
SG = "7900"
"""


def test_check_config_names_unknown_areas_and_frequencies_that_contradict_the_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "opscentre.toml"
    path.write_text(CONFIG.format(freq='"A"'), encoding="utf-8")
    result = run_cli("check-config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    out = " ".join(result.stderr.split())
    assert "sources[0] (nso-sdmx).mapping.area: unknown area 'HANOI'" in out
    assert "sources[0] (nso-sdmx).mapping.areas.SG: unknown area '7900'" in out
    assert "mapping.filters.FREQ: 'A' contradicts the catalogue: " in out and "CPI_YOY is 'M'" in out
    fixed = CONFIG.format(freq='"M"').replace('"HANOI"', '"01"').replace('"7900"', '"79"')
    path.write_text(fixed, encoding="utf-8")
    result = run_cli("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "UserWarning" not in result.stdout + result.stderr


# --- outcomes, payloads, errors ------------------------------------------------------------------------------


def agency(base: str, path: str = "/agencies/GSO/observations") -> SourceSettings:
    return SourceSettings(name="gso", kind="agency-json", url=f"{base}{path}", every="1h")


def page(observations: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    return {"format": "opscentre.agency-observations/1", "observations": observations, "next": next_url}


async def test_a_run_whose_every_record_was_rejected_failed(store: Store, serve: Callable[..., Awaitable[str]]) -> None:
    bad = [
        {"indicator": "CPI_YOY", "area": "VN", "period": "2024-13", "value": 4.4},
        {"indicator": "NO_SUCH", "area": "VN", "period": "2024-05", "value": 1.0},
    ]

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(page(bad))

    base = await serve(answer)
    async with Collector(store, [agency(base)], settings()) as collector:
        run = await collector.run("gso")
        assert collector.breakers["gso"].failures == 1
    assert run.outcome is RunOutcome.FAILED
    assert (run.fetched, run.rejected, run.new) == (2, 2, 0)
    assert run.error is not None and run.error.startswith("every record was rejected (2)")
    assert json.loads(await kept_payload(store, run.id)) == page(bad)
    [alert] = [a for a in await store.alerts.listed() if a.rule == "source.failing"]
    assert alert.subject == "gso"


async def test_every_record_rejected_makes_collect_local_exit_non_zero(
    tmp_path: Path, serve: Callable[..., Awaitable[str]]
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(page([{"indicator": "NO_SUCH", "area": "VN", "period": "2024-05", "value": 1}]))

    base = await serve(answer)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[database]\npath = "ops.db"\n[[sources]]\nname = "gso"\nkind = "agency-json"\n'
        f'url = "{base}/agencies/GSO/observations"\nevery = "1h"\n',
        encoding="utf-8",
    )
    result = await asyncio.to_thread(run_cli_process, "collect", "--source", "gso", "--local", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed" in result.stdout and "0 of 1 runs succeeded" in result.stdout


async def test_upstream_text_stays_out_of_the_error_every_role_sees(
    store: Store, serve: Callable[..., Awaitable[str]], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Traceback: db=prod-reporting password=hunter2 at /srv/app.py"

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text=secret)

    base = await serve(broken)
    caplog.set_level(logging.WARNING)
    async with Collector(store, [agency(base)], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.FAILED and run.http_status == 503
    assert run.error == f"HTTP 503 from the source (its {len(secret)}-byte answer is kept with the run)"
    assert [e.payload for e in await store.events.after(0) if "hunter2" in json.dumps(e.payload)] == []
    assert all("hunter2" not in a.message for a in await store.alerts.listed())
    assert (await kept_payload(store, run.id)).decode() == secret  # for the admin, with the run
    assert any("gso" in r.getMessage() and "hunter2" in r.getMessage() for r in caplog.records)  # the server log


async def test_next_links_are_followed_only_on_the_sources_own_origin(
    store: Store, serve: Callable[..., Awaitable[str]]
) -> None:
    elsewhere_hits: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        elsewhere_hits.append(request.path_qs)
        return web.json_response(page([]))

    other = await serve(elsewhere)
    record = {"indicator": "CPI_YOY", "area": "VN", "period": "2024-05", "value": 4.4}
    own_pages: list[str] = []

    async def own(request: web.Request) -> web.Response:
        own_pages.append(request.path_qs)
        if request.query.get("page") == "2":
            return web.json_response(page([record]))
        target = request.query.get("to", "")
        return web.json_response(page([], f"{target}/agencies/GSO/observations?page=2"))

    base = await serve(own)
    async with Collector(store, [agency(base, "/agencies/GSO/observations?to=" + other)], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.FAILED
    assert run.error is not None and "leads off the source's own origin" in run.error
    assert elsewhere_hits == []

    # The same origin is fine, also when the port is written out.
    async with Collector(store, [agency(base, "/agencies/GSO/observations?to=" + base)], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.SUCCESS, run.error
    assert run.new == 1


@pytest.mark.parametrize("elsewhere", ["another port", "another host name"])
async def test_a_redirect_off_the_sources_origin_is_never_requested(
    store: Store, serve: Callable[..., Awaitable[str]], elsewhere: str
) -> None:
    """Server-side request forgery by redirect: `302 Location: <an internal address>` is not
    followed; the target is never asked (its hits stay zero), and the run says why, without the
    target's path or query. The source's redirect_origins lets the agency's own other host in."""
    internal_hits: list[str] = []
    record = {"indicator": "CPI_YOY", "area": "VN", "period": "2024-05", "value": 4.4}

    async def internal(request: web.Request) -> web.Response:
        internal_hits.append(request.path_qs)
        return web.json_response(page([record]))

    # "localhost" names this machine as 127.0.0.1 does, but it is another origin.
    target = await serve(internal, host="127.0.0.1" if elsewhere == "another port" else "localhost")

    async def upstream(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{target}/internal/admin?secret=5")

    base = await serve(upstream)
    async with Collector(store, [agency(base)], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.FAILED
    assert run.error is not None and "redirected off its own origin" in run.error and "not followed" in run.error
    assert "secret" not in run.error and "/internal" not in run.error
    assert internal_hits == []

    allowed = agency(base).model_copy(update={"redirect_origins": [target]})
    async with Collector(store, [allowed], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.SUCCESS, run.error
    assert internal_hits == ["/internal/admin?secret=5"] and run.new == 1


async def test_redirects_within_the_origin_are_followed_and_a_loop_is_refused(
    store: Store, serve: Callable[..., Awaitable[str]]
) -> None:
    record = {"indicator": "CPI_YOY", "area": "VN", "period": "2024-06", "value": 4.1}

    async def upstream(request: web.Request) -> web.Response:
        if request.path == "/moved":
            raise web.HTTPMovedPermanently("/agencies/GSO/observations/v2")
        if request.path.endswith("/v2"):
            return web.json_response(page([record]))
        raise web.HTTPFound(request.path)  # to itself, for ever

    base = await serve(upstream)
    async with Collector(store, [agency(base, "/moved")], settings()) as collector:
        assert (await collector.run("gso")).outcome is RunOutcome.SUCCESS
    async with Collector(store, [agency(base, "/loop")], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.FAILED and run.error is not None and "redirected more than 5 times" in run.error


def test_redirect_origins_must_be_origins() -> None:
    for bad in ("ftp://x.gov.vn", "https://x.gov.vn/path", "https://x.gov.vn?k=1", "not a url"):
        with pytest.raises(ValueError, match="redirect_origins"):
            agency("http://127.0.0.1:1").model_validate(
                {**agency("http://127.0.0.1:1").model_dump(), "redirect_origins": [bad]}
            )


async def test_no_run_error_quotes_the_sources_url(
    store: Store, serve: Callable[..., Awaitable[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """Every role reads run errors; a source's URL may hold an upstream key in its query. Cut off,
    over the cap, unreachable: the error names no URL; the log has it, for the admin."""
    key = "apikey=SECRET-123"

    async def short(request: web.StreamResponse) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000", "Content-Type": "application/json"})
        await response.prepare(request)  # type: ignore[arg-type]
        await response.write(b'{"format": ')
        raise ConnectionResetError  # the connection ends before the 1,000 bytes announced

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000, content_type="application/json")

    caplog.set_level(logging.WARNING)
    cut = await serve(short)
    large = await serve(big)
    sources = [
        agency(cut, f"/obs?{key}").model_copy(update={"name": "cut"}),
        agency(large, f"/obs?{key}").model_copy(update={"name": "large", "max_bytes": 1000}),
        agency("http://127.0.0.1:1", f"/obs?{key}").model_copy(update={"name": "gone"}),
    ]
    async with Collector(store, sources, settings()) as collector:
        runs = [await collector.run(name) for name in ("cut", "large", "gone")]
    assert [r.outcome for r in runs] == [RunOutcome.FAILED] * 3, [r.error for r in runs]
    for run in runs:
        assert run.error is not None and "SECRET" not in run.error and "http://" not in run.error, run.error
    assert [e.payload for e in await store.events.after(0) if "SECRET" in json.dumps(e.payload)] == []
    assert all("SECRET" not in a.message for a in await store.alerts.listed())
    assert any("SECRET" in r.getMessage() for r in caplog.records)  # the server's log keeps it


async def test_each_retry_logs_one_line_naming_the_source(
    store: Store, serve: Callable[..., Awaitable[str]], caplog: pytest.LogCaptureFixture
) -> None:
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    base = await serve(down)
    caplog.set_level(logging.DEBUG)
    few = CollectorSettings(
        retries=2, backoff_initial=timedelta(milliseconds=5), backoff_max=timedelta(milliseconds=10)
    )
    async with Collector(store, [agency(base)], few) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.FAILED
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert retries[0].startswith("source gso: attempt 1 of 3 failed (HTTP 503 from the source")
    assert [r for r in caplog.records if "retry_scheduled" in r.getMessage()] == []


async def test_a_compressed_answer_records_that_the_digest_covers_the_decoded_bytes(
    store: Store, serve: Callable[..., Awaitable[str]]
) -> None:
    body = json.dumps(page([{"indicator": "CPI_YOY", "area": "VN", "period": "2024-05", "value": 4.4}])).encode()

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(body), headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    base = await serve(gzipped)
    async with Collector(store, [agency(base)], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.SUCCESS, run.error
    [figure] = await store.observations.of_run(run.id)
    provenance = await store.observations.provenance(figure.id)
    assert provenance is not None
    assert provenance["payload"]["wire_encoding"] == "gzip"
    assert (
        await store.observations.payload(provenance["payload"]["sha256"]) == body
    )  # the digest covers the decoded bytes


async def test_a_failed_runs_kept_payload_is_bounded(store: Store, serve: Callable[..., Awaitable[str]]) -> None:
    from collectors.pipeline import KEEP_FAILED_BYTES

    body = b"<html>" + b"x" * KEEP_FAILED_BYTES  # not JSON, and larger than what a failed run keeps

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/html")

    base = await serve(huge)
    async with Collector(store, [agency(base)], settings()) as collector:
        run = await collector.run("gso")
    assert run.outcome is RunOutcome.FAILED and run.bytes == len(body)
    assert run.error is not None and f"the first {KEEP_FAILED_BYTES:,} of its {len(body):,} bytes are kept" in run.error
    assert await kept_payload(store, run.id) == body[:KEEP_FAILED_BYTES]
