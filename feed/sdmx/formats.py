"""The data messages: SDMX-CSV 2.0, SDMX-JSON 2.0 and SDMX-ML 3.0 structure-specific data, chosen by
the request's ``Accept``. With ``includeHistory`` the XML and JSON messages hold one data set per
moment the centre stored figures (``validFrom``: that moment), as the REST API's history asks; the
CSV, one table, says the same in each row's REVISION and COLLECTED_AT."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import groupby

from feed.sdmx.data import Row
from feed.sdmx.structure import (
    AGENCY,
    DIMENSIONS,
    FLOW,
    OBS_ATTRIBUTES,
    SERIES_ATTRIBUTES,
    SERIES_DIMENSIONS,
    TIME,
    esc,
    flow_ref,
    flow_urn,
    header,
)
from storage.clock import to_text

CSV = "application/vnd.sdmx.data+csv;version=2.0.0"
JSON = "application/vnd.sdmx.data+json;version=2.0.0"
XML = "application/vnd.sdmx.structurespecificdata+xml;version=3.0.0"
XML_REST = "application/vnd.sdmx.data+xml;version=3.0.0"  # the REST API 2.0's name for the same
STRUCTURE_XML = "application/vnd.sdmx.structure+xml;version=3.0.0"


def _number(value: float) -> str:
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _instant(at: datetime) -> str:
    return to_text(at).replace("+00:00", "Z")


def _series_attributes(row: Row) -> dict[str, str]:
    return {"UNIT_MEASURE": row.unit}


def to_csv(rows: list[Row], history: bool, dimension_at_observation: str, prepared: datetime) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["STRUCTURE", "STRUCTURE_ID", "ACTION", *DIMENSIONS, "OBS_VALUE", *SERIES_ATTRIBUTES, *OBS_ATTRIBUTES]
    )
    for r in rows:
        attrs = r.attributes()
        writer.writerow(
            [
                "dataflow",
                flow_ref(),
                "I",
                *r.series_key(),
                r.period,
                _number(r.value),
                r.unit,
                *(attrs.get(a, "") for a in OBS_ATTRIBUTES),
            ]
        )
    return out.getvalue().encode("utf-8")


def _datasets(rows: list[Row], history: bool) -> Iterable[tuple[datetime | None, list[Row]]]:
    if not history:
        yield None, rows
        return
    for at, group in groupby(sorted(rows, key=lambda r: r.collected_at), key=lambda r: r.collected_at):
        yield at, sorted(group, key=lambda r: (r.series_key(), r.period))


def _attrs(pairs: dict[str, str]) -> str:
    return "".join(f' {k}="{esc(v)}"' for k, v in pairs.items())


def to_xml(rows: list[Row], history: bool, dimension_at_observation: str, prepared: datetime) -> bytes:
    level = dimension_at_observation
    structure = (
        f'<mes:Structure structureID="{FLOW}" namespace="{flow_urn()}" dimensionAtObservation="{level}">'
        f"<com:StructureUsage>{flow_urn()}</com:StructureUsage></mes:Structure>"
    )
    text = header("StructureSpecificData", prepared, structure)
    text = text.replace(
        "<mes:StructureSpecificData ", f'<mes:StructureSpecificData xmlns:ns1="{flow_urn()}:ObsLevelDim:{level}" ', 1
    )
    parts = [text]
    for at, group in _datasets(rows, history):
        valid = f' validFromDate="{_instant(at)}"' if at is not None else ""
        parts.append(f'<mes:DataSet ss:structureRef="{FLOW}" xsi:type="ns1:DataSetType" action="Information"{valid}>\n')
        if level == TIME:
            for key, series in groupby(group, key=Row.series_key):
                figures = list(series)
                dims = dict(zip(SERIES_DIMENSIONS, key, strict=True)) | _series_attributes(figures[0])
                parts.append(f"<Series{_attrs(dims)}>")
                parts += [
                    f'<Obs TIME_PERIOD="{esc(r.period)}" OBS_VALUE="{_number(r.value)}"{_attrs(r.attributes())}/>'
                    for r in figures
                ]
                parts.append("</Series>\n")
        else:
            for r in group:
                dims = dict(zip(SERIES_DIMENSIONS, r.series_key(), strict=True)) | {TIME: r.period}
                values = dims | {"OBS_VALUE": _number(r.value)} | _series_attributes(r) | r.attributes()
                parts.append(f"<Obs{_attrs(values)}/>\n")
        parts.append("</mes:DataSet>\n")
    parts.append("</mes:StructureSpecificData>\n")
    return "".join(parts).encode("utf-8")


def to_json(rows: list[Row], history: bool, dimension_at_observation: str, prepared: datetime) -> bytes:
    """SDMX-JSON 2.0: series keyed by the positions of their codes, observations by the period's."""
    series_values = {d: sorted({r.component(d) for r in rows}) for d in SERIES_DIMENSIONS}
    periods = sorted({r.period for r in rows})
    units = sorted({r.unit for r in rows})
    obs_values = {a: sorted({r.attributes().get(a, "") for r in rows}) for a in OBS_ATTRIBUTES}
    position = {d: {v: n for n, v in enumerate(vs)} for d, vs in series_values.items()}
    period_at = {p: n for n, p in enumerate(periods)}
    attr_at = {a: {v: n for n, v in enumerate(vs)} for a, vs in obs_values.items()}
    datasets = []
    for at, group in _datasets(rows, history):
        series: dict[str, dict[str, object]] = {}
        for r in group:
            key = ":".join(str(position[d][v]) for d, v in zip(SERIES_DIMENSIONS, r.series_key(), strict=True))
            entry = series.setdefault(key, {"attributes": [units.index(r.unit)], "observations": {}})
            attrs = r.attributes()
            observations = entry["observations"]
            assert isinstance(observations, dict)
            observations[str(period_at[r.period])] = [r.value, *(attr_at[a][attrs.get(a, "")] for a in OBS_ATTRIBUTES)]
        dataset: dict[str, object] = {"structure": 0, "action": "Information", "series": series}
        if at is not None:
            dataset["validFrom"] = _instant(at)
        datasets.append(dataset)
    structure = {
        "structure": flow_urn(),
        "dimensions": {
            "dataSet": [],
            "series": [
                {"id": d, "keyPosition": n, "values": [{"id": v} for v in series_values[d]]}
                for n, d in enumerate(SERIES_DIMENSIONS)
            ],
            "observation": [
                {
                    "id": TIME,
                    "keyPosition": len(SERIES_DIMENSIONS),
                    "roles": ["TIME_PERIOD"],
                    "values": [{"value": p} for p in periods],
                }
            ],
        },
        "attributes": {
            "dataSet": [],
            "series": [{"id": "UNIT_MEASURE", "values": [{"value": u} for u in units]}],
            "observation": [{"id": a, "values": [{"value": v} for v in obs_values[a]]} for a in OBS_ATTRIBUTES],
        },
        "measures": {"observation": [{"id": "OBS_VALUE"}]},
    }
    message = {
        "meta": {
            "schema": "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/data-message/tools/schemas/2.0.0/sdmx-json-data-schema.json",
            "id": f"{FLOW}-{prepared.strftime('%Y%m%dT%H%M%S%f')}",
            "test": False,
            "prepared": prepared.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "contentLanguages": ["en"],
            "sender": {"id": AGENCY},
        },
        "data": {"structures": [structure], "dataSets": datasets},
    }
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


Writer = Callable[[list[Row], bool, str, datetime], bytes]
DATA_FORMATS: dict[str, Writer] = {CSV: to_csv, JSON: to_json, XML: to_xml, XML_REST: to_xml}
