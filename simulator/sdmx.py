"""SDMX-ML 2.1 StructureSpecificData and SDMX-CSV 2.0 renderings of published figures.

Dimensions FREQ, INDICATOR, REF_AREA and TIME_PERIOD, measure OBS_VALUE, attribute OBS_STATUS
(A official, P provisional, E estimated). The dataflow is ``VN_{AGENCY}:DF_STATS(1.0)``. Both
forms can be read without a structure file (``pysdmx.io.read_sdmx``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SDMX_FREQ = {"D": "D", "M": "M", "Q": "Q", "Y": "A"}
OBS_STATUS = {"official": "A", "provisional": "P", "estimated": "E"}
XML_TYPE = "application/vnd.sdmx.structurespecificdata+xml; version=2.1"
CSV_TYPE = "application/vnd.sdmx.data+csv; version=2.0.0"

# One observation: indicator, area, period, value, status (already in SDMX codes where they differ)
Obs = tuple[str, str, str, Any, str]


def dataflow(agency: str) -> tuple[str, str, str]:
    return f"VN_{agency}", "DF_STATS", "1.0"


def _fmt(value: Any) -> str:
    return str(value)


def to_xml(agency: str, freq_of: dict[str, str], obs: Sequence[Obs], prepared: str, message_id: str) -> str:
    agency_id, flow, version = dataflow(agency)
    urn = f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={agency_id}:{flow}({version})"
    ns = f"{urn}:ObsLevelDim:TIME_PERIOD"
    sid = f"{agency_id}_{flow}_{version.replace('.', '_')}"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<message:StructureSpecificData xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"'
        ' xmlns:ss="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"'
        f' xmlns:ns1="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">\n'
        "<message:Header>\n"
        f"<message:ID>{message_id}</message:ID>\n<message:Test>false</message:Test>\n"
        f"<message:Prepared>{prepared}</message:Prepared>\n"
        f'<message:Sender id="{agency_id}"/>\n'
        f'<message:Structure structureID="{sid}" namespace="{ns}" dimensionAtObservation="TIME_PERIOD">\n'
        f'<common:StructureUsage><Ref agencyID="{agency_id}" id="{flow}" version="{version}" class="Dataflow"/>'
        "</common:StructureUsage>\n</message:Structure>\n</message:Header>\n"
        f'<message:DataSet ss:structureRef="{sid}" xsi:type="ns1:DataSetType" ss:dataScope="DataStructure"'
        ' action="Information">\n'
    ]
    key: tuple[str, str] | None = None
    for ind, area, period, value, status in obs:
        if (ind, area) != key:
            if key is not None:
                parts.append("</Series>\n")
            key = (ind, area)
            freq = SDMX_FREQ.get(freq_of.get(ind, ""), "M")
            parts.append(f'<Series FREQ="{freq}" INDICATOR="{_attr(ind)}" REF_AREA="{_attr(area)}">\n')
        parts.append(f'<Obs TIME_PERIOD="{_attr(period)}" OBS_VALUE="{_attr(_fmt(value))}" OBS_STATUS="{status}"/>\n')
    if key is not None:
        parts.append("</Series>\n")
    parts.append("</message:DataSet>\n</message:StructureSpecificData>\n")
    return "".join(parts)


def to_csv(agency: str, freq_of: dict[str, str], obs: Sequence[Obs]) -> str:
    agency_id, flow, version = dataflow(agency)
    ref = f"{agency_id}:{flow}({version})"
    lines = ["STRUCTURE,STRUCTURE_ID,ACTION,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS"]
    for ind, area, period, value, status in obs:
        freq = SDMX_FREQ.get(freq_of.get(ind, ""), "M")
        lines.append(
            f"dataflow,{ref},I,{freq},{_cell(ind)},{_cell(area)},{_cell(period)},{_cell(_fmt(value))},{status}"
        )
    return "\r\n".join(lines) + "\r\n"


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _cell(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
