"""The centre's open data as SDMX structures: one dataflow, ``VN_OPSC:OPSC_FIGURES(1.0.0)``, whose
series key is FREQ.INDICATOR.AREA.SOURCE (TIME_PERIOD at the observation), and the data structure,
concept scheme and codelists (frequencies, indicators with their units, areas with their validity and
successor, observation status) that describe it; written as an SDMX-ML 3.0 structure message.

One flow, not one per category: a reader filters by INDICATOR (or by the category, named in each
indicator's annotations), and one data structure serves every indicator. SOURCE is a dimension
because the centre keeps the same figure from each source that gives it (a statistics office's JSON
and its SDMX): without it two observations would share a key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from collectors.config import DEFAULT_STATUSES, SDMX_FREQUENCIES
from storage.models import Area, Indicator, ObservationStatus
from wording.periods import Frequency

AGENCY = "VN_OPSC"
FLOW = "OPSC_FIGURES"
VERSION = "1.0.0"
DSD = "DSD_OPSC_FIGURES"
CONCEPTS = "CS_OPSC"
SERIES_DIMENSIONS = ("FREQ", "INDICATOR", "AREA", "SOURCE")
TIME = "TIME_PERIOD"
DIMENSIONS = (*SERIES_DIMENSIONS, TIME)
# Observation attributes: the status, and where the figure stands among its revisions.
OBS_ATTRIBUTES = ("OBS_STATUS", "REVISION", "COLLECTED_AT", "PAYLOAD_SHA256")
SERIES_ATTRIBUTES = ("UNIT_MEASURE",)

# SDMX CL_OBS_STATUS, the reverse of what the SDMX collector reads (collectors/config.py): A, P, E.
STATUS_CODES = {ObservationStatus(ours.value): code for code, ours in DEFAULT_STATUSES.items()}
# SDMX FREQ codes of our frequencies (Y is A; B, business days, is only read); a live counter's
# readings come at irregular instants: I.
FREQ_CODES = {Frequency(ours): code for code, ours in SDMX_FREQUENCIES.items() if code != "B"} | {Frequency.LIVE: "I"}

CONCEPT_NAMES = {
    "FREQ": "Frequency",
    "INDICATOR": "Indicator",
    "AREA": "Area (nation, province or centrally-run city)",
    "SOURCE": "Source system the figure was collected from",
    "TIME_PERIOD": "Time period",
    "OBS_VALUE": "Observation value",
    "OBS_STATUS": "Observation status",
    "UNIT_MEASURE": "Unit of measure",
    "REVISION": "Revision number of the figure (1: first published)",
    "COLLECTED_AT": "When the centre stored this revision (UTC)",
    "PAYLOAD_SHA256": "sha256 of the payload the figure came from",
}
FREQ_NAMES = {"D": "Daily", "M": "Monthly", "Q": "Quarterly", "A": "Annual", "I": "Irregular (live counter readings)"}
STATUS_NAMES = {"A": "Normal value (official)", "P": "Provisional value", "E": "Estimated value"}

NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
    "ss": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/data/structurespecific",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
URN = "urn:sdmx:org.sdmx.infomodel"


def flow_urn() -> str:
    return f"{URN}.datastructure.Dataflow={AGENCY}:{FLOW}({VERSION})"


def flow_ref() -> str:
    """The short reference SDMX-CSV and SDMX-JSON name the flow by."""
    return f"{AGENCY}:{FLOW}({VERSION})"


@dataclass(frozen=True)
class Reference:
    """What the structure lists: the catalogue's indicators and every area that ever was."""

    indicators: list[Indicator]
    areas: dict[str, list[Area]]  # code -> its versions, oldest first


def esc(text: object) -> str:
    s = str(text)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def header(root: str, prepared: datetime, extra: str = "") -> str:
    xmlns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:{root} {xmlns}>\n<mes:Header>'
        f"<mes:ID>{root}-{prepared.strftime('%Y%m%dT%H%M%S%f')}</mes:ID><mes:Test>false</mes:Test>"
        f"<mes:Prepared>{prepared.strftime('%Y-%m-%dT%H:%M:%SZ')}</mes:Prepared>"
        f'<mes:Sender id="{AGENCY}"/>{extra}</mes:Header>\n'
    )


def _annotations(notes: list[tuple[str, str]], texts: dict[str, str] | None = None) -> str:
    """Annotations ``id`` (also their type) with ``title``; ``texts``: a Vietnamese text for some ids."""
    if not notes:
        return ""
    texts = texts or {}
    inner = "".join(
        f'<com:Annotation id="{esc(k)}"><com:AnnotationTitle>{esc(v)}</com:AnnotationTitle>'
        f"<com:AnnotationType>{esc(k.rstrip('_0123456789'))}</com:AnnotationType>"
        + (f'<com:AnnotationText xml:lang="vi">{esc(texts[k])}</com:AnnotationText>' if k in texts else "")
        + "</com:Annotation>"
        for k, v in notes
    )
    return f"<com:Annotations>{inner}</com:Annotations>"


def _names(names: dict[str, str]) -> str:
    return "".join(f'<com:Name xml:lang="{lang}">{esc(text)}</com:Name>' for lang, text in names.items() if text)


def _maintainable(tag: str, id_: str, names: dict[str, str], body: str, extra: str = "") -> str:
    return (
        f'<str:{tag} id="{id_}" agencyID="{AGENCY}" version="{VERSION}" isExternalReference="false"{extra}>'
        f"{_names(names)}{body}</str:{tag}>\n"
    )


def _code(
    id_: str, names: dict[str, str], notes: list[tuple[str, str]] | None = None, texts: dict[str, str] | None = None
) -> str:
    return f'<str:Code id="{esc(id_)}">{_annotations(notes or [], texts)}{_names(names)}</str:Code>'


def _day(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def codelists(ref: Reference) -> dict[str, str]:
    """Each codelist's id and its SDMX-ML element."""
    freq = "".join(_code(c, {"en": FREQ_NAMES[c]}) for c in FREQ_CODES.values())
    status = "".join(_code(c, {"en": STATUS_NAMES[c]}) for c in STATUS_CODES.values())
    indicators = "".join(
        _code(
            i.code,
            {"vi": i.name_vi, "en": i.name_en},
            [("UNIT", i.unit), ("FREQ", FREQ_CODES[i.frequency]), ("CATEGORY", i.category), ("OWNER", i.owner)],
        )
        for i in ref.indicators
    )
    areas = []
    for code, versions in sorted(ref.areas.items()):
        first, last = versions[0], versions[-1]
        notes = [("KIND", last.kind)]
        notes += [("VALID_FROM", _day(first.valid_from))] if first.valid_from else []
        notes += [("VALID_TO", _day(last.valid_to))] if last.valid_to else []
        notes += [("SUCCESSOR", last.successor_code)] if last.successor_code else []
        # Each version of the unit (a code may change name or territory, e.g. on 2025-07-01):
        # VERSION_n, titled FROM/TO (open ends empty), its name as the text.
        texts = {}
        for n, v in enumerate(versions, start=1):
            title = f"{_day(v.valid_from)}/{_day(v.valid_to)}" + (f" -> {v.successor_code}" if v.successor_code else "")
            notes.append((f"VERSION_{n}", title))
            texts[f"VERSION_{n}"] = v.name_vi
        areas.append(_code(code, {"vi": last.name_vi}, notes, texts))
    lists = {
        "CL_FREQ": ({"en": "Frequency", "vi": "Tần suất"}, freq),
        "CL_INDICATOR": ({"en": "Indicators", "vi": "Chỉ tiêu"}, indicators),
        "CL_AREA": ({"en": "Areas", "vi": "Đơn vị hành chính"}, "".join(areas)),
        "CL_OBS_STATUS": ({"en": "Observation status"}, status),
    }
    return {id_: _maintainable("Codelist", id_, names, body) for id_, (names, body) in lists.items()}


def concept_scheme() -> str:
    body = "".join(f'<str:Concept id="{c}">{_names({"en": n})}</str:Concept>' for c, n in CONCEPT_NAMES.items())
    return _maintainable("ConceptScheme", CONCEPTS, {"en": "Concepts of the centre's figures"}, body)


def _concept(c: str) -> str:
    return f"<str:ConceptIdentity>{URN}.conceptscheme.Concept={AGENCY}:{CONCEPTS}({VERSION}).{c}</str:ConceptIdentity>"


def _coded(codelist: str) -> str:
    return (
        f"<str:LocalRepresentation><str:Enumeration>{URN}.codelist.Codelist={AGENCY}:{codelist}({VERSION})"
        "</str:Enumeration></str:LocalRepresentation>"
    )


def _text(kind: str) -> str:
    return f'<str:LocalRepresentation><str:TextFormat textType="{kind}"/></str:LocalRepresentation>'


CODED = {"FREQ": "CL_FREQ", "INDICATOR": "CL_INDICATOR", "AREA": "CL_AREA", "OBS_STATUS": "CL_OBS_STATUS"}
TEXT_TYPES = {
    "SOURCE": "String",
    "TIME_PERIOD": "ObservationalTimePeriod",
    "OBS_VALUE": "Double",
    "UNIT_MEASURE": "String",
    "REVISION": "Integer",
    "COLLECTED_AT": "DateTime",
    "PAYLOAD_SHA256": "String",
}


def _representation(c: str) -> str:
    return _coded(CODED[c]) if c in CODED else _text(TEXT_TYPES[c])


def data_structure() -> str:
    dims = "".join(
        f'<str:Dimension id="{d}" position="{n}">{_concept(d)}{_representation(d)}</str:Dimension>'
        for n, d in enumerate(SERIES_DIMENSIONS, start=1)
    )
    dims += f'<str:TimeDimension id="{TIME}">{_concept(TIME)}{_representation(TIME)}</str:TimeDimension>'
    series = "".join(f"<str:Dimension>{d}</str:Dimension>" for d in SERIES_DIMENSIONS)
    attrs = "".join(
        f'<str:Attribute id="{a}" usage="optional">{_concept(a)}{_representation(a)}'
        f"<str:AttributeRelationship>{series}</str:AttributeRelationship></str:Attribute>"
        for a in SERIES_ATTRIBUTES
    )
    attrs += "".join(
        f'<str:Attribute id="{a}" usage="{"mandatory" if a == "OBS_STATUS" else "optional"}">{_concept(a)}'
        f"{_representation(a)}<str:AttributeRelationship><str:Observation/></str:AttributeRelationship></str:Attribute>"
        for a in OBS_ATTRIBUTES
    )
    measure = f'<str:Measure id="OBS_VALUE">{_concept("OBS_VALUE")}{_representation("OBS_VALUE")}</str:Measure>'
    body = (
        f"<str:DataStructureComponents><str:DimensionList>{dims}</str:DimensionList>"
        f"<str:AttributeList>{attrs}</str:AttributeList><str:MeasureList>{measure}</str:MeasureList>"
        "</str:DataStructureComponents>"
    )
    return _maintainable("DataStructure", DSD, {"en": "The centre's figures", "vi": "Số liệu của Trung tâm"}, body)


def dataflow() -> str:
    dsd = f"<str:Structure>{URN}.datastructure.DataStructure={AGENCY}:{DSD}({VERSION})</str:Structure>"
    names = {"en": "Socio-economic figures of the operations centre", "vi": "Số liệu kinh tế - xã hội của Trung tâm"}
    return _maintainable("Dataflow", FLOW, names, dsd)


# What each structure type holds, in the order SDMX-ML 3.0 lists them in a structure message.
KINDS = ("codelist", "conceptscheme", "dataflow", "datastructure")
ELEMENTS = {
    "codelist": "Codelists",
    "conceptscheme": "ConceptSchemes",
    "dataflow": "Dataflows",
    "datastructure": "DataStructures",
}


def artefacts(ref: Reference) -> dict[str, dict[str, str]]:
    """Every structure the centre publishes: kind -> id -> its SDMX-ML element."""
    return {
        "codelist": codelists(ref),
        "conceptscheme": {CONCEPTS: concept_scheme()},
        "dataflow": {FLOW: dataflow()},
        "datastructure": {DSD: data_structure()},
    }


def structure_message(chosen: dict[str, dict[str, str]], prepared: datetime) -> bytes:
    """An SDMX-ML 3.0 structure message holding ``chosen`` (kind -> id -> element)."""
    parts = [header("Structure", prepared), "<mes:Structures>"]
    for kind in KINDS:
        if chosen.get(kind):
            parts.append(f"<str:{ELEMENTS[kind]}>{''.join(chosen[kind].values())}</str:{ELEMENTS[kind]}>")
    parts.append("</mes:Structures>\n</mes:Structure>\n")
    return "".join(parts).encode("utf-8")
