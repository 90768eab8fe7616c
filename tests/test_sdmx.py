"""The SDMX adapter on hand-made SDMX-ML 2.1 and SDMX-CSV 2.0 messages: both formats agree, codes and
statuses map, bad records are rejected one by one, unusable messages fail whole, and a later vintage
arrives in the real store as a revision that keeps the previous value."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from collectors.config import CollectorSettings, SdmxFormat, SourceSettings
from collectors.sources import PayloadError, adapter_for
from collectors.sources.base import Fetched, Parsed
from collectors.sources.sdmx import SdmxAdapter, SdmxExtraMissing
from rules.after_run import Collector
from storage import Batch, RunOutcome, Store

DATA = Path(__file__).parent / "data" / "sdmx"
URL = "http://127.0.0.1:8780/sdmx/NSO/data"

CSV_HEAD = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS"
CSV_ROW = "dataflow,NSO:DF_CPI(1.0),I,M,"

XML_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<message:StructureSpecificData xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
    xmlns:ss="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
    xmlns:ns1="urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=NSO:DF_CPI(1.0):ObsLevelDim:TIME_PERIOD"
    xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <message:Header>
    <message:ID>T</message:ID><message:Test>true</message:Test>
    <message:Prepared>2024-08-01T08:30:00+07:00</message:Prepared><message:Sender id="NSO"/>
    <message:Structure structureID="S" dimensionAtObservation="TIME_PERIOD"
        namespace="urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=NSO:DF_CPI(1.0)">
      <common:StructureUsage><Ref agencyID="NSO" id="DF_CPI" version="1.0"/></common:StructureUsage>
    </message:Structure>
  </message:Header>
"""

# Vintage 1 (June 2024) as the store should see it, from either format.
VINTAGE_1 = {
    ("CPI_YOY", "VN", "2024-03", 3.97, "official"),  # no OBS_STATUS: a normal figure
    ("CPI_YOY", "VN", "2024-04", 4.40, "official"),
    ("CPI_YOY", "VN", "2024-05", 4.44, "provisional"),
    ("CPI_YOY", "01", "2024-03", 3.85, "official"),
    ("CPI_YOY", "01", "2024-04", 4.21, "official"),
    ("CPI_YOY", "01", "2024-05", 4.30, "provisional"),
    ("CPI_YOY", "79", "2024-03", 3.60, "official"),
    ("CPI_YOY", "79", "2024-04", 3.95, "official"),
    ("CPI_YOY", "79", "2024-05", 4.02, "provisional"),
}
# Vintage 2 (July 2024): VN May revised 4.44 P -> 4.36 A, and June appears.
VINTAGE_2 = (VINTAGE_1 - {("CPI_YOY", "VN", "2024-05", 4.44, "provisional")}) | {
    ("CPI_YOY", "VN", "2024-05", 4.36, "official"),
    ("CPI_YOY", "VN", "2024-06", 4.34, "provisional"),
    ("CPI_YOY", "01", "2024-06", 4.12, "provisional"),
    ("CPI_YOY", "79", "2024-06", 3.88, "provisional"),
}


def sdmx_source(fmt: str = "sdmx-csv", url: str = URL, **kw: Any) -> SourceSettings:
    return SourceSettings.model_validate(
        {"name": "nso-sdmx", "kind": "sdmx", "format": fmt, "url": url, "every": "1h", **kw}
    )


def parse(body: bytes | str, fmt: str = "sdmx-csv", **kw: Any) -> Parsed:
    raw = body.encode() if isinstance(body, str) else body
    return adapter_for(sdmx_source(fmt, **kw)).parse(Fetched(URL, 200, None, raw))


def specimen(name: str) -> tuple[bytes, str]:
    fmt = "sdmx-ml" if name.endswith(".xml") else "sdmx-csv"
    return (DATA / name).read_bytes(), fmt


def figures(parsed: Parsed) -> set[tuple[str, str, str, float, str]]:
    return {(r.indicator, r.area, r.period, r.value, r.status.value) for r in parsed.records}


def csv(*rows: str) -> str:
    return "\n".join([CSV_HEAD, *(CSV_ROW + r for r in rows)]) + "\n"


# --- the two formats ----------------------------------------------------------------------------------


def test_the_adapter_is_picked_for_sdmx_sources_and_pysdmx_reads_both_formats() -> None:
    assert isinstance(adapter_for(sdmx_source("sdmx-ml")), SdmxAdapter)
    assert adapter_for(sdmx_source("sdmx-csv")).format is SdmxFormat.CSV  # type: ignore[attr-defined]


@pytest.mark.parametrize(("stem", "expected"), [("cpi_2024-06", VINTAGE_1), ("cpi_2024-07", VINTAGE_2)])
def test_sdmx_ml_and_sdmx_csv_give_the_same_observations(stem: str, expected: set[Any]) -> None:
    from_xml = parse(*specimen(f"{stem}.xml"))
    from_csv = parse(*specimen(f"{stem}.csv"))
    assert figures(from_xml) == figures(from_csv) == expected
    assert len(from_xml.records) == len(from_csv.records) == len(expected)
    for parsed in (from_xml, from_csv):
        assert parsed.rejected == [] and parsed.positions is None and parsed.next_url is None


def test_generic_data_reads_like_structure_specific_data() -> None:
    generic = parse(*specimen("cpi_2024-06_generic.xml"))
    assert figures(generic) == VINTAGE_1
    assert generic.cursor == "2024-06-20T09:00:00Z"


@pytest.mark.parametrize(
    ("stem", "root"),
    [("cpi_2024-06", b"StructureSpecificData"), ("cpi_2024-06_generic", b"GenericData")],
    ids=["StructureSpecificTimeSeriesData", "GenericTimeSeriesData"],
)
def test_the_sdmx_ml_2_1_time_series_forms_read_exactly(stem: str, root: bytes) -> None:
    """SDMX-ML 2.1's time-series messages are the same data with the time dimension at the
    observation and another root element: read exactly, as docs/agency-json.md says."""
    body = (
        (DATA / f"{stem}.xml")
        .read_bytes()
        .replace(b"message:" + root, b"message:" + root.replace(b"Data", b"TimeSeriesData"))
    )
    assert b"TimeSeriesData" in body and b'dimensionAtObservation="TIME_PERIOD"' in body
    parsed = parse(body, "sdmx-ml")
    assert figures(parsed) == VINTAGE_1 and len(parsed.records) == len(VINTAGE_1)
    assert parsed.rejected == [] and parsed.cursor == "2024-06-20T09:00:00Z"


def test_the_cursor_is_when_the_message_was_prepared_in_utc() -> None:
    assert parse(*specimen("cpi_2024-06.xml")).cursor == "2024-06-20T09:00:00Z"
    assert parse(*specimen("cpi_2024-07.xml")).cursor == "2024-07-22T09:00:00Z"  # prepared 16:00 +07:00
    assert parse(*specimen("cpi_2024-07.csv")).cursor is None  # SDMX-CSV has no header


def test_sdmx_csv_1_0_is_read_too() -> None:
    body = "DATAFLOW,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS\nNSO:DF_CPI(1.0),M,CPI_YOY,01,2024-05,4.30,P\n"
    assert figures(parse(body)) == {("CPI_YOY", "01", "2024-05", 4.30, "provisional")}


def test_province_codes_keep_their_leading_zero_in_sdmx_csv() -> None:
    # pysdmx alone reads a column of "01", "79" as the numbers 1, 79.
    parsed = parse(csv("CPI_YOY,01,2024-05,4.30,P", "CPI_YOY,79,2024-05,4.02,P"))
    assert [r.area for r in parsed.records] == ["01", "79"]


def test_labelled_sdmx_csv_gives_the_codes() -> None:
    body = (
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ: Frequency,INDICATOR: Indicator,REF_AREA: Area,TIME_PERIOD,OBS_VALUE,OBS_STATUS\n"
        "dataflow,NSO:DF_CPI(1.0),I,M: Monthly,CPI_YOY: CPI year on year,01: Hà Nội,2024-05,4.30,P\n"
    )
    assert figures(parse(body)) == {("CPI_YOY", "01", "2024-05", 4.30, "provisional")}


# --- mapping components ---------------------------------------------------------------------------


def test_obs_status_maps_and_other_codes_are_rejected_by_name() -> None:
    parsed = parse(
        csv(
            "CPI_YOY,VN,2024-01,3.37,A",
            "CPI_YOY,VN,2024-02,3.98,P",
            "CPI_YOY,VN,2024-03,3.97,E",
            "CPI_YOY,VN,2024-04,4.40,",
            "CPI_YOY,VN,2024-12,3.90,F",
            "CPI_YOY,VN,2024-11,,M",
        )
    )
    assert [(r.period, r.status.value) for r in parsed.records] == [
        ("2024-01", "official"),
        ("2024-02", "provisional"),
        ("2024-03", "estimated"),
        ("2024-04", "official"),
    ]
    assert [r.index for r in parsed.rejected] == [4, 5]
    assert "OBS_STATUS 'F' (forecast)" in parsed.rejected[0].reason
    assert "OBS_STATUS 'M'" in parsed.rejected[1].reason and "OBS_VALUE is missing" in parsed.rejected[1].reason
    assert parsed.rejected[0].record["OBS_STATUS"] == "F"


def test_the_mapping_renames_indicator_and_area_codes_and_dimensions() -> None:
    body = (
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,SERIES,GEO,TIME_PERIOD,OBS_VALUE,OBS_STATUS\n"
        "dataflow,NSO:DF_CPI(1.0),I,M,CPI_Y,HN,2024-05,4.30,P\n"
        "dataflow,NSO:DF_CPI(1.0),I,M,CPI_Y,79,2024-05,4.02,P\n"
        "dataflow,NSO:DF_CPI(1.0),I,M,CPI_MOM,VN,2024-05,0.05,A\n"
    )
    mapping = {
        "indicator_dimension": "SERIES",
        "area_dimension": "GEO",
        "indicators": {"CPI_Y": "CPI_YOY"},
        "areas": {"HN": "01"},
    }
    parsed = parse(body, mapping=mapping)
    assert [(r.indicator, r.area) for r in parsed.records] == [("CPI_YOY", "01"), ("CPI_YOY", "79"), ("CPI_MOM", "VN")]
    with pytest.raises(PayloadError, match=r"no SERIES, GEO.*indicator_dimension = 'SERIES'"):
        parse(*specimen("cpi_2024-06.csv"), mapping=mapping)


@pytest.mark.parametrize(
    ("sdmx", "ours"),
    [
        ("2024", "2024"),
        ("2024-A1", "2024"),
        ("2024-Q3", "2024-Q3"),
        ("2024-05", "2024-05"),
        ("2024-M05", "2024-05"),
        ("2024-05-01", "2024-05-01"),
        ("2024-D060", "2024-02-29"),
    ],
)
def test_sdmx_time_periods_become_ours(sdmx: str, ours: str) -> None:
    [record] = parse(csv(f"CPI_YOY,VN,{sdmx},1.5,A")).records
    assert record.period == ours


@pytest.mark.parametrize(
    ("sdmx", "reason"),
    [
        ("2024-S1", "is a semester"),
        ("2024-W05", "is a week"),
        ("2024-T2", "is a trimester"),
        ("2024-01/P3M", "is a time range"),
        ("2024-05-01T10:00:00", "is a date-time"),
        ("May 2024", "not an SDMX period"),
        ("2024-13", "month 13 is out of range"),
        ("2024-M13", "month 13 is out of range"),
        ("2023-D366", "2023 has no day 366"),
        ("", "TIME_PERIOD is missing"),
    ],
)
def test_time_periods_we_do_not_keep_are_rejected_with_a_reason(sdmx: str, reason: str) -> None:
    parsed = parse(csv(f"CPI_YOY,VN,{sdmx},1.5,A", "CPI_YOY,VN,2024-06,4.34,P"))
    assert [r.period for r in parsed.records] == ["2024-06"]
    [rejection] = parsed.rejected
    assert rejection.index == 0 and reason in rejection.reason
    assert parsed.positions == [1]  # the store reports its own rejections at payload positions


def test_bad_records_are_rejected_one_by_one_and_the_good_ones_kept() -> None:
    parsed = parse(
        csv(
            "CPI_YOY,VN,2024-04,4.40,A",
            "CPI_YOY,VN,2024-S1,4.10,A",
            "CPI_YOY,01,2024-05,,P",
            "CPI_YOY,01,2024-06,NaN,P",
            "CPI_YOY,79,2024-05,n/a,P",
            "CPI_YOY,79,2024-06,inf,P",
            "CPI YOY,79,2024-06,3.88,P",
            ",VN,2024-06,4.34,P",
            "CPI_YOY,VN,2024-06,4.34,P",
        )
    )
    assert figures(parsed) == {
        ("CPI_YOY", "VN", "2024-04", 4.40, "official"),
        ("CPI_YOY", "VN", "2024-06", 4.34, "provisional"),
    }
    reasons = {r.index: r.reason for r in parsed.rejected}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7]
    assert "semester" in reasons[1]
    assert reasons[2] == reasons[3] == "OBS_VALUE is missing"
    assert reasons[4] == "OBS_VALUE 'n/a' is not a number"
    assert "finite" in reasons[5]
    assert reasons[6].startswith("indicator:")
    assert reasons[7] == "INDICATOR is missing"
    assert parsed.positions == [0, 8]
    # the record is the row's SDMX components, as text
    assert parsed.rejected[1].record == {
        "FREQ": "M",
        "INDICATOR": "CPI_YOY",
        "REF_AREA": "01",
        "TIME_PERIOD": "2024-05",
        "OBS_VALUE": "",
        "OBS_STATUS": "P",
    }


def test_sdmx_ml_rejections_count_observations_in_document_order() -> None:
    body = (
        XML_HEAD
        + """  <message:DataSet ss:structureRef="S" xsi:type="ns1:DataSetType" action="Information">
    <Series FREQ="M" INDICATOR="CPI_YOY" REF_AREA="VN" UNIT_MEASURE="PT"/>
    <Series FREQ="M" INDICATOR="CPI_YOY" REF_AREA="01" UNIT_MEASURE="PT">
      <Obs TIME_PERIOD="2024-M05" OBS_VALUE="4.30" OBS_STATUS="P"/>
      <Obs TIME_PERIOD="2024-M06" OBS_STATUS="M"/>
      <Obs TIME_PERIOD="2024-W27" OBS_VALUE="4.1"/>
    </Series>
    <Series FREQ="M" INDICATOR="CPI_YOY" REF_AREA="79" UNIT_MEASURE="PT">
      <Obs TIME_PERIOD="2024-M05" OBS_VALUE="4.02" OBS_STATUS="F"/>
      <Obs TIME_PERIOD="2024-M06" OBS_VALUE="3.88"/>
    </Series>
  </message:DataSet>
</message:StructureSpecificData>
"""
    )
    parsed = parse(body, "sdmx-ml")
    assert figures(parsed) == {
        ("CPI_YOY", "01", "2024-05", 4.30, "provisional"),
        ("CPI_YOY", "79", "2024-06", 3.88, "official"),
    }
    # the series without observations is no observation; the positions count <Obs> elements
    assert [(r.index, r.reason.split(" ")[0]) for r in parsed.rejected] == [
        (1, "OBS_VALUE"),
        (2, "TIME_PERIOD"),
        (3, "OBS_STATUS"),
    ]
    assert parsed.rejected[2].record == {
        "FREQ": "M",
        "INDICATOR": "CPI_YOY",
        "REF_AREA": "79",
        "UNIT_MEASURE": "PT",
        "TIME_PERIOD": "2024-M05",
        "OBS_VALUE": "4.02",
        "OBS_STATUS": "F",
    }
    assert parsed.positions == [0, 4]
    assert parsed.cursor == "2024-08-01T01:30:00Z"


def test_deletions_are_rejected_not_applied() -> None:
    body = (
        CSV_HEAD
        + "\n"
        + "\n".join(
            [
                "dataflow,NSO:DF_CPI(1.0),I,M,CPI_YOY,VN,2024-05,4.36,A",
                "dataflow,NSO:DF_CPI(1.0),D,M,CPI_YOY,01,2024-05,,",
                "dataflow,NSO:DF_CPI(1.0),I,M,CPI_YOY,79,2024-05,4.02,P",
            ]
        )
        + "\n"
    )
    parsed = parse(body)
    assert [r.area for r in parsed.records] == ["VN", "79"] and parsed.positions == [0, 2]
    [deleted] = parsed.rejected
    assert deleted.index == 1 and "deletes" in deleted.reason and deleted.record["ACTION"] == "D"

    xml = (
        XML_HEAD
        + """  <message:DataSet ss:structureRef="S" xsi:type="ns1:DataSetType" action="Delete">
    <Series FREQ="M" INDICATOR="CPI_YOY" REF_AREA="01"><Obs TIME_PERIOD="2024-05"/></Series>
  </message:DataSet>
</message:StructureSpecificData>
"""
    )
    parsed = parse(xml, "sdmx-ml")
    assert parsed.records == [] and [r.index for r in parsed.rejected] == [0]


# --- messages that are unusable as a whole, or empty ----------------------------------------------------


STRUCTURE_MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<message:Structure xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
    xmlns:structure="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
    xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
  <message:Header><message:ID>S</message:ID><message:Test>false</message:Test>
    <message:Prepared>2024-06-20T09:00:00Z</message:Prepared><message:Sender id="NSO"/></message:Header>
  <message:Structures><structure:Codelists>
    <structure:Codelist id="CL_AREA" agencyID="NSO" version="1.0"><common:Name xml:lang="en">Areas</common:Name>
      <structure:Code id="VN"><common:Name xml:lang="en">Viet Nam</common:Name></structure:Code>
    </structure:Codelist>
  </structure:Codelists></message:Structures>
</message:Structure>
"""


def sdmx_error(code: int, text: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<message:Error xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
    xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
  <message:ErrorMessage code="{code}"><common:Text xml:lang="en">{text}</common:Text></message:ErrorMessage>
</message:Error>
"""


@pytest.mark.parametrize(
    ("fmt", "body", "message"),
    [
        ("sdmx-ml", b"\x00\xff\x13garbage\x9c" * 10, "not an SDMX-ML message"),
        ("sdmx-csv", b"\x00\xff\x13garbage\x9c" * 10, "not an SDMX-CSV message"),
        ("sdmx-csv", b"\x00\xff,\x13garb,age\x9c\n" * 10, "not a readable SDMX-CSV data message"),
        ("sdmx-csv", b"", "empty response"),
        ("sdmx-ml", b"<html><body>502 Bad Gateway</body></html>", "not a readable SDMX-ML data message"),
        ("sdmx-ml", b'<?xml version="1.0"?><message:StructureSpecificData', "truncated SDMX-ML message"),
        ("sdmx-csv", b'{"format": "opscentre.agency-observations/1"}', "not an SDMX-CSV message \\(JSON"),
        ("sdmx-csv", (DATA / "cpi_2024-06.xml").read_bytes(), "not an SDMX-CSV message \\(XML"),
        ("sdmx-ml", (DATA / "cpi_2024-06.csv").read_bytes(), "not an SDMX-ML message"),
        ("sdmx-csv", b"indicator,area,period,value\nCPI_YOY,VN,2024-05,4.4\n", "Cannot parse input as SDMX-CSV"),
        ("sdmx-csv", csv("CPI_YOY,VN,2024-05,4.4,A").replace("OBS_VALUE", "VALUE").encode(), "no OBS_VALUE column"),
        ("sdmx-csv", CSV_HEAD.replace(",OBS_VALUE", "").encode() + b"\n", "no OBS_VALUE column"),
        ("sdmx-csv", b"STRUCTURE,STRUCTURE_ID,ACTION,FREQ,INDICATOR,TIME_PERIOD,OBS_VALUE\n", "no REF_AREA column"),
        ("sdmx-ml", (DATA / "cpi_2024-06.xml").read_bytes().replace(b'REF_AREA="', b'GEO="'), "has no REF_AREA"),
        ("sdmx-ml", STRUCTURE_MESSAGE.encode(), "an SDMX structure message, not a data message"),
        (
            "sdmx-ml",
            sdmx_error(500, "Internal error").encode(),
            "answered with an error message instead of data: code 500 \\(internal server error\\)",
        ),
    ],
)
def test_unusable_messages_fail_whole_with_a_clear_reason(fmt: str, body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse(body, fmt)


def test_nothing_new_is_an_empty_answer_not_an_error() -> None:
    empty_ml = parse(sdmx_error(100, "No Results Found"), "sdmx-ml")
    empty_csv = parse(CSV_HEAD + "\n")
    for parsed in (empty_ml, empty_csv):
        assert parsed.records == [] and parsed.rejected == [] and parsed.cursor is None
    no_obs = parse(XML_HEAD + "</message:StructureSpecificData>\n", "sdmx-ml")
    assert no_obs.records == [] and no_obs.cursor == "2024-08-01T01:30:00Z"


def test_a_byte_order_mark_and_a_missing_xml_declaration_are_tolerated() -> None:
    xml = (DATA / "cpi_2024-06.xml").read_bytes()
    assert figures(parse(b"\xef\xbb\xbf\n  " + xml.split(b"\n", 1)[1], "sdmx-ml")) == VINTAGE_1
    assert figures(parse(b"\xef\xbb\xbf" + (DATA / "cpi_2024-06.csv").read_bytes())) == VINTAGE_1


# --- URLs and the optional extra -------------------------------------------------------------------------


def test_first_url_adds_updated_after_encoded_and_keeps_the_other_parameters() -> None:
    plain = adapter_for(sdmx_source(url="http://127.0.0.1:8780/sdmx/NSO/data.csv"))
    assert plain.first_url(None) == "http://127.0.0.1:8780/sdmx/NSO/data.csv"
    assert plain.first_url("2024-07-22T09:00:00Z") == (
        "http://127.0.0.1:8780/sdmx/NSO/data.csv?updatedAfter=2024-07-22T09%3A00%3A00Z"
    )
    query = (
        "http://h/rest/data/NSO,DF_CPI,1.0/M.CPI_YOY..?c%5BTIME_PERIOD%5D=ge:2020&detail=full&updatedAfter=2020-01-01"
    )
    adapter = adapter_for(sdmx_source(url=query))
    assert adapter.first_url(None) == query
    assert adapter.first_url("2024-07-22T16:00:00.5+07:00") == (
        "http://h/rest/data/NSO,DF_CPI,1.0/M.CPI_YOY..?c%5BTIME_PERIOD%5D=ge:2020&detail=full"
        "&updatedAfter=2024-07-22T16%3A00%3A00.5%2B07%3A00"
    )


def test_without_pysdmx_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pysdmx.io", None)  # makes `import pysdmx.io` fail
    with pytest.raises(SdmxExtraMissing, match=r"pip install 'opscentre\[sdmx\]'") as caught:
        SdmxAdapter(sdmx_source())
    assert isinstance(caught.value, ImportError)


# --- large messages ------------------------------------------------------------------------------------


def big_messages(n: int) -> tuple[bytes, bytes]:
    areas = ["VN", *(f"{i:02d}" for i in range(1, 100))]
    months = [f"{1900 + m // 12}-{m % 12 + 1:02d}" for m in range(n // len(areas))]
    rows = [CSV_HEAD]
    xml = [XML_HEAD, '<message:DataSet ss:structureRef="S" xsi:type="ns1:DataSetType" action="Information">']
    for area in areas:
        xml.append(f'<Series FREQ="M" INDICATOR="CPI_YOY" REF_AREA="{area}">')
        for i, month in enumerate(months):
            value, status = f"{(i % 97) / 10:.2f}", "AP"[i % 2]
            rows.append(f"{CSV_ROW}CPI_YOY,{area},{month},{value},{status}")
            xml.append(f'<Obs TIME_PERIOD="{month}" OBS_VALUE="{value}" OBS_STATUS="{status}"/>')
        xml.append("</Series>")
    xml.append("</message:DataSet></message:StructureSpecificData>")
    return ("\n".join(rows) + "\n").encode(), "\n".join(xml).encode()


def test_a_100k_observation_message_parses_whole() -> None:
    # Correctness at size only: how fast is for a benchmark, not a test (shared, noisy machines).
    as_csv, as_xml = big_messages(100_000)
    for body, fmt in ((as_csv, "sdmx-csv"), (as_xml, "sdmx-ml")):
        parsed = adapter_for(sdmx_source(fmt)).parse(Fetched(URL, 200, None, body))
        assert len(parsed.records) == 100_000 and parsed.rejected == []
        assert {r.area for r in parsed.records} >= {"VN", "01", "79"}


# --- into the real store ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["xml", "csv"])
async def test_a_later_vintage_is_stored_as_a_revision_that_keeps_the_previous_value(store: Store, ext: str) -> None:
    first_raw, fmt = specimen(f"cpi_2024-06.{ext}")
    later_raw, _ = specimen(f"cpi_2024-07.{ext}")
    adapter = adapter_for(sdmx_source(fmt))

    first = adapter.parse(Fetched(URL, 200, None, first_raw))
    result = await store.observations.ingest(Batch("nso-sdmx", first.records, payload=first_raw, cursor=first.cursor))
    assert result.new == 9 and result.revised == [] and result.rejected == []

    later = adapter.parse(Fetched(URL, 200, None, later_raw))
    result = await store.observations.ingest(Batch("nso-sdmx", later.records, payload=later_raw, cursor=later.cursor))
    assert result.new == 3 and result.unchanged == 8 and result.rejected == []
    [revision] = result.revised
    assert (revision.indicator, revision.area, revision.period) == ("CPI_YOY", "VN", "2024-05")
    assert (revision.previous_value, revision.previous_status) == (4.44, "provisional")
    assert (revision.value, revision.status) == (4.36, "official")

    revs = await store.observations.revisions("CPI_YOY", "VN", "2024-05")
    assert [(o.revision, o.value, o.status.value, o.source) for o in revs] == [
        (1, 4.44, "provisional", "nso-sdmx"),
        (2, 4.36, "official", "nso-sdmx"),
    ]
    assert revs[0].payload_digest != revs[1].payload_digest  # each revision points at the message it came from
    assert [o.value for o in await store.observations.revisions("CPI_YOY", "01", "2024-05")] == [4.30]

    again = await store.observations.ingest(Batch("nso-sdmx", later.records, payload=later_raw))
    assert again.new == 0 and again.revised == [] and again.unchanged == 12

    cursor = await store.observations.cursor("nso-sdmx")
    assert cursor == ("2024-07-22T09:00:00Z" if ext == "xml" else None)
    if cursor:
        assert adapter.first_url(cursor) == f"{URL}?updatedAfter=2024-07-22T09%3A00%3A00Z"


async def test_rejections_by_the_store_are_reported_at_their_position_in_the_message(store: Store) -> None:
    parsed = parse(
        csv(
            "CPI_YOY,VN,2024-S1,4.10,A",  # rejected by the adapter
            "CPI_YOY,VN,2024-05,4.44,P",
            "NO_SUCH_INDICATOR,VN,2024-05,1.0,A",  # rejected by the store
            "CPI_YOY,01,2024-05,4.30,P",
        )
    )
    batch = Batch("nso-sdmx", parsed.records, rejected=parsed.rejected, positions=parsed.positions)
    result = await store.observations.ingest(batch)
    assert result.new == 2
    assert [r.index for r in result.rejected] == [0, 2]
    assert "NO_SUCH_INDICATOR" in result.rejected[1].reason


async def test_the_collector_pulls_history_then_asks_for_what_changed_after_the_prepared_time(
    store: Store, unused_tcp_port: int
) -> None:
    """The whole path over HTTP: fetch, parse, store, save the cursor, and send it back as updatedAfter."""
    queries: list[dict[str, str]] = []

    async def data(request: web.Request) -> web.Response:
        queries.append(dict(request.query))
        name = "cpi_2024-06.xml" if len(queries) == 1 else "cpi_2024-07.xml"
        return web.Response(body=(DATA / name).read_bytes(), content_type="application/xml")

    app = web.Application()
    app.router.add_get("/sdmx/NSO/data.xml", data)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        src = sdmx_source("sdmx-ml", url=f"http://127.0.0.1:{unused_tcp_port}/sdmx/NSO/data.xml?detail=full")
        async with Collector(store, [src], CollectorSettings(retries=0)) as collector:
            first = await collector.run("nso-sdmx")
            assert first.outcome is RunOutcome.SUCCESS, first.error
            assert first.new == 9
            second = await collector.run("nso-sdmx")
            assert second.outcome is RunOutcome.SUCCESS, second.error
            assert (second.new, second.revised, second.unchanged) == (3, 1, 8)
    finally:
        await runner.cleanup()
    assert queries == [{"detail": "full"}, {"detail": "full", "updatedAfter": "2024-06-20T09:00:00Z"}]
    assert [o.value for o in await store.observations.revisions("CPI_YOY", "VN", "2024-05")] == [4.44, 4.36]
