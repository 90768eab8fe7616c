"""SDMX data messages (docs/agency-json.md, section 2), read with pysdmx.

pysdmx (the optional extra ``opscentre[sdmx]``) detects the flavour and reads SDMX-ML 2.1
(StructureSpecificData and GenericData; 3.0/3.1 structure-specific too) and SDMX-CSV 1.0/2.0/2.1
without a structure definition, into one DataFrame per data set. Each row is one observation; this
module turns its components into our records:

- the indicator and area dimensions (names and code lists from the source's ``mapping``, or one
  constant indicator or area for a data flow without that dimension), rows kept by its ``filters``;
- the time dimension (``TIME_PERIOD``) into our period text (``2024-M05`` -> ``2024-05``, ...);
- ``OBS_VALUE`` into a float, the status attribute (``OBS_STATUS``; codes A/P/E and the mapping's
  ``statuses``, in any case; absent: official) into our status.

A message that is cut off (an SDMX-CSV whose last line has no line terminator, an SDMX-ML document
that is never closed) fails whole: its tail is missing, and its cursor must not be saved. SDMX-ML is
read without XML-schema validation (real agencies' messages often break the schema in ways that
do not matter to the data); what the reader cannot make sense of is still refused.

A row that cannot become a record is rejected with a reason, at its position in the message (the
data row for SDMX-CSV, the observation's order for SDMX-ML); the other rows still go in.
"""

from __future__ import annotations

import calendar
import logging
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from io import BytesIO, StringIO
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import ValidationError

from collectors.config import SdmxFormat, SdmxMapping, SourceSettings, StatusMapping
from collectors.sources.base import Fetched, Parsed, PayloadError, describe
from collectors.sources.sdmx_header import complete_header
from storage.models import ObservationIn, ObservationStatus, Rejection

if TYPE_CHECKING:
    import pandas as pd
    from pysdmx.model.message import Message

INSTALL_HINT = "pip install 'opscentre[sdmx]'"
log = logging.getLogger(__name__)

TIME_PERIOD = "TIME_PERIOD"
OBS_VALUE = "OBS_VALUE"
OBS_STATUS = "OBS_STATUS"
REPORTING_YEAR_START_DAY = "REPORTING_YEAR_START_DAY"

_OURS = {
    StatusMapping.OFFICIAL: ObservationStatus.OFFICIAL,
    StatusMapping.PROVISIONAL: ObservationStatus.PROVISIONAL,
    StatusMapping.ESTIMATED: ObservationStatus.ESTIMATED,
}
# SDMX REST error codes (and the HTTP ones agencies reuse), to say what an error message means in our words.
SDMX_ERRORS = {
    100: "no results found",
    110: "unauthorised",
    130: "the response is too large for the request",
    140: "syntax error in the query",
    150: "semantic error in the query",
    413: "the answer is too large and is delivered as a file instead",
    500: "internal server error",
    501: "not implemented",
    503: "service unavailable",
    510: "the response exceeds the service's size limit",
}

# SDMX code list CL_OBS_STATUS, to name a refused code in the rejection reason.
STATUS_NAMES = {
    "B": "break in series",
    "D": "definition differs",
    "F": "forecast",
    "G": "experimental",
    "I": "imputed",
    "K": "included in another category",
    "L": "missing: exists but not collected",
    "M": "missing: not applicable",
    "N": "not significant",
    "O": "missing",
    "Q": "missing: suppressed",
    "S": "strike",
    "U": "low reliability",
    "V": "unvalidated",
    "W": "includes another category",
}

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'  # pysdmx only recognises XML by its declaration
_LABEL = {SdmxFormat.ML: "SDMX-ML", SdmxFormat.CSV: "SDMX-CSV"}

READ_PERIODS = "YYYY, YYYY-A1, YYYY-Qn, YYYY-MM, YYYY-Mnn, YYYY-MM-DD or YYYY-Dnnn"


class SdmxExtraMissing(ImportError):
    """pysdmx (with its data and xml extras) is not installed."""


def load_reader() -> Callable[..., Message]:
    """``pysdmx.io.read_sdmx``, imported on first use: SDMX support is an optional extra."""
    try:
        from pandas.errors import DtypeWarning
        from pysdmx.io import read_sdmx
    except ImportError as exc:
        raise SdmxExtraMissing(f"reading SDMX needs the optional extra: {INSTALL_HINT} ({exc})") from exc
    # pysdmx's CSV readers let pandas guess column types on large files, which warns; we re-read the codes as text.
    warnings.filterwarnings("ignore", category=DtypeWarning, module=r"pysdmx\.")
    # ... and warns of header parts it drops (a sender's Contact): nothing for our users, never in CLI output.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pysdmx\.")
    return read_sdmx


class SdmxAdapter:
    accepted_statuses = frozenset({404})  # SDMX REST answers "no results found" (error 100) with 404

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.format = settings.format or SdmxFormat.ML
        self.mapping = settings.mapping or SdmxMapping()
        self._statuses = self.mapping.status_table()
        self._filters = {k: frozenset(v) for k, v in self.mapping.filters.items()}
        self._structure = self.mapping.structure_reference()
        self._read = load_reader()

    def first_url(self, cursor: str | None) -> str:
        """The source URL, with ``updatedAfter=cursor`` replacing any there; other parameters kept as they are."""
        url = str(self.settings.url)
        if cursor is None:
            return url
        parts = urlsplit(url)
        # Not parse_qsl/urlencode on the whole query: that would drop repeated parameters and re-encode the rest.
        kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != "updatedAfter"]
        kept.append(urlencode({"updatedAfter": cursor}))
        return urlunsplit(parts._replace(query="&".join(kept)))

    def parse(self, fetched: Fetched) -> Parsed:
        # SDMX-CSV has no header with a prepared time: the server's clock (its Date header) is the cursor.
        server_time = fetched.date.astimezone(UTC).isoformat().replace("+00:00", "Z") if fetched.date else None
        body = self._check_body(fetched.body)
        raw = _text_csv(body) if self.format is SdmxFormat.CSV else None
        if raw is not None and raw.empty:  # no rows (nothing changed): pysdmx would refuse it, but it is a fine answer
            if "DATAFLOW" not in raw.columns and not {"STRUCTURE", "STRUCTURE_ID"} <= set(raw.columns):
                raise PayloadError(
                    "not an SDMX-CSV message: no DATAFLOW or STRUCTURE, STRUCTURE_ID column", _preview(body)
                )
            self._check_columns([], raw)
            self._check_terminated(body)
            return Parsed(cursor=server_time)
        try:
            message = self._message(body)
        except PayloadError:
            # A footer says why first: Eurostat's asynchronous 413 names no structure in its header,
            # which pysdmx cannot read; the agency's code and words are the answer, not our parse error.
            _check_footer(body, ())
            raise
        if raw is not None:
            self._check_terminated(body)
        if message is None:
            return Parsed(cursor=server_time)
        if message.data is None:
            raise PayloadError(f"an SDMX {_kind_of(message)} message, not a data message")
        tables = _tables(message, raw)
        _check_footer(body, tables)
        self._check_columns(tables, raw)
        records: list[ObservationIn] = []
        positions: list[int] = []
        rejected: list[Rejection] = []
        for table in tables:
            self._convert(table, records, positions, rejected)
        rejected.sort(key=lambda r: r.index)
        every = len(records) + len(rejected) == sum(len(t.positions) for t in tables)
        return Parsed(
            records=records,
            rejected=rejected,
            next_url=None,
            cursor=_cursor(message) or server_time,
            positions=None if every and positions == list(range(len(positions))) else positions,
        )

    # --- the message as a whole -------------------------------------------------------------------

    def _check_body(self, body: bytes) -> bytes:
        """The body without a byte-order mark or leading blanks, if it can be the configured format."""
        body = body.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not body:
            raise PayloadError("empty response: no SDMX message")
        is_xml = body.startswith(b"<")
        if self.format is SdmxFormat.ML and not is_xml:
            raise PayloadError("not an SDMX-ML message (XML expected)", _preview(body))
        if self.format is SdmxFormat.CSV:
            if is_xml or body.startswith((b"{", b"[")):
                kind = "XML" if is_xml else "JSON"
                raise PayloadError(f"not an SDMX-CSV message ({kind} received)", _preview(body))
        return body

    @staticmethod
    def _check_terminated(body: bytes) -> None:
        """An SDMX-CSV message (read as one) must end with a line terminator, or it was cut off."""
        if not body.endswith((b"\n", b"\r")):
            # A cut inside the last value still parses ("1.111345" read as "1.11"), and the rows after
            # it are missing: the whole message is refused, so its cursor is not saved either.
            last = body.rsplit(b"\n", 1)[-1]
            raise PayloadError(
                f"truncated SDMX-CSV message: it ends inside a record (its last line, {len(last):,} bytes, "
                f"has no line terminator; {len(body):,} bytes received); nothing from it is stored"
            )

    def _message(self, body: bytes) -> Message | None:
        """The message pysdmx reads; None for the SDMX error "no results found"."""
        from xml.parsers.expat import ExpatError

        from pysdmx.errors import Invalid

        xml = body if not body.startswith(b"<") or body.startswith(b"<?xml") else _DECLARATION + body
        if self.format is SdmxFormat.ML:
            xml = complete_header(xml, self._structure, self.mapping.time_dimension)
        try:
            # Bytes, never str: read_sdmx takes a str that names a file or starts with "http" as a place to read.
            # No schema validation: real messages break the schema in harmless ways (extra attributes,
            # Eurostat's footer severity "Infomation"); pysdmx still refuses what it cannot read.
            return self._read(BytesIO(xml), validate=False)
        except ImportError as exc:  # pysdmx is there but one of its extras (pandas, lxml, ...) is not
            raise SdmxExtraMissing(f"reading SDMX needs the optional extra: {INSTALL_HINT} ({exc})") from exc
        except Invalid as exc:
            # pysdmx raises an SDMX-ML Error message as Invalid("Invalid", "<code>: <text>").
            code = re.match(r"([0-9]+): (.*)", str(exc.description or ""), re.S)
            if code and code[1] == "100":  # SDMX REST "No results found": nothing changed since the cursor
                return None
            if code:
                raise PayloadError(_service_error(int(code[1]), "an error message"), _error_text(body)) from None
            raise PayloadError(self._unreadable(exc), _preview(body)) from None
        except ExpatError as exc:
            if _ends_unclosed(exc, xml):
                raise PayloadError(
                    f"truncated SDMX-ML message: the XML document ends at byte {len(body):,} before it is closed "
                    f"({_expat_reason(exc)}); nothing from it is stored"
                ) from None
            raise PayloadError(self._unreadable(exc), _preview(body)) from None
        except Exception as exc:  # pysdmx also lets KeyError & co. through on odd messages
            raise PayloadError(self._unreadable(exc), _preview(body)) from None

    def _unreadable(self, exc: BaseException) -> str:
        return f"not a readable {_LABEL[self.format]} data message ({_explain(exc)})"

    def _check_columns(self, tables: Sequence[_Table], raw: pd.DataFrame | None) -> None:
        m = self.mapping
        required = m.required()
        dims = (m.indicator_dimension, m.area_dimension, m.time_dimension)

        def hint(missing: list[str]) -> str:
            if not set(missing) & set(dims):
                return ""
            return (
                f" (the source's mapping names the dimensions: indicator_dimension = {dims[0]!r}, "
                f"area_dimension = {dims[1]!r}, time_dimension = {dims[2]!r}; or give a constant "
                "'indicator' or 'area' for a data flow without that dimension)"
            )

        if raw is not None:  # the CSV header says it even when there are no rows
            have = {str(c).split(": ")[0] for c in raw.columns}
            missing = [c for c in required if c not in have]
            if missing:
                raise PayloadError(
                    f"the SDMX-CSV message has no {', '.join(missing)} column; it has {sorted(have)}{hint(missing)}"
                )
        for table in tables:
            missing = [c for c in required if not table.has(c)]
            if missing and len(table.frame) and not table.deleting:
                raise PayloadError(
                    f"the SDMX data set {table.structure} has no {', '.join(missing)}; "
                    f"its components are {sorted(map(str, table.frame.columns))}{hint(missing)}"
                )

    # --- row by row -------------------------------------------------------------------------------

    def _convert(
        self, table: _Table, records: list[ObservationIn], positions: list[int], rejected: list[Rejection]
    ) -> None:
        m = self.mapping
        ind_dim, area_dim, time_dim = m.indicator_dimension, m.area_dimension, m.time_dimension
        indicators, areas = m.indicators, m.areas
        n = len(table.positions)
        kept = [True] * n
        for component, codes in self._filters.items():  # rows outside the filters are not ours: skipped, not rejected
            kept = [k and v in codes for k, v in zip(kept, table.column(component), strict=True)]
        columns = zip(
            table.positions,
            [m.indicator] * n if m.indicator else table.column(ind_dim),
            [m.area] * n if m.area else table.column(area_dim),
            table.column(time_dim),
            table.column(OBS_VALUE),
            table.column(m.status_attribute),
            table.column(REPORTING_YEAR_START_DAY),
            kept,
            strict=True,
        )
        for j, (pos, ind, area, when, text, code, year_start, keep) in enumerate(columns):
            if not keep:
                continue
            if table.deleting:
                reason = "the message deletes this observation (action Delete); deletions are not applied"
                rejected.append(Rejection(index=pos, record=table.record(j), reason=reason))
                continue
            reasons: list[str] = []
            if not ind:
                reasons.append(f"{ind_dim} is missing")
            if not area:
                reasons.append(f"{area_dim} is missing")
            period, why, reporting = _period(when, time_dim)
            if why:
                reasons.append(why)
            elif reporting and year_start not in ("", "--01-01"):
                reasons.append(f"{time_dim} {when!r} counts from a reporting year starting {year_start}, not 1 January")
            value, why = _value(text)
            if why:
                reasons.append(why)
            status = self._status(code)
            if status is None:
                reasons.append(_status_reason(m.status_attribute, code, self._statuses))
            elif not reasons:
                try:
                    records.append(
                        ObservationIn(
                            indicator=m.indicator or indicators.get(ind, ind),
                            area=m.area or areas.get(area, area),
                            period=period,
                            value=value,
                            status=status,
                        )
                    )
                except ValidationError as exc:
                    reasons.append(describe(exc))
                else:
                    positions.append(pos)
                    continue
            rejected.append(Rejection(index=pos, record=table.record(j), reason="; ".join(reasons)))

    def _status(self, code: str) -> ObservationStatus | None:
        """Our status for a status or flag code (any case; absent: a normal, official figure); None: refused."""
        if not code:
            return ObservationStatus.OFFICIAL
        ours = self._statuses.get(code.upper(), self.mapping.unknown_status)
        return _OURS.get(ours)


# --- the data sets of a message ---------------------------------------------------------------------


@dataclass
class _Table:
    """One data set's observations, with their positions in the message."""

    structure: str
    frame: pd.DataFrame
    positions: list[int]
    constants: dict[str, str]  # data-set-level attributes, for components absent from the rows
    raw: pd.DataFrame | None  # SDMX-CSV read as text: the exact codes for these rows
    deleting: bool = False

    def has(self, name: str) -> bool:
        return name in self.frame.columns or name in self.constants

    def column(self, name: str) -> list[str]:
        """The component's values as stripped text, '' where absent."""
        if self.raw is not None and name in self.raw.columns:
            # pysdmx's CSV readers let pandas guess types, which turns the code "01" into 1.
            return [v.strip() for v in self.raw[name].to_numpy()[self.positions].tolist()]
        if name in self.frame.columns:
            return _texts(self.frame[name])
        return [self.constants.get(name, "")] * len(self.positions)

    def record(self, j: int) -> dict[str, Any]:
        """Row ``j``'s components as text, for a rejection."""
        out = {str(c): _text(v) for c, v in zip(self.frame.columns, self.frame.iloc[j].tolist(), strict=True)}
        if self.raw is not None:
            out.update({str(c): str(self.raw[c].iat[self.positions[j]]) for c in self.raw.columns if c in out})
        return out


def _tables(message: Message, raw: pd.DataFrame | None) -> list[_Table]:
    header = message.header
    obs_dims = (header.structure or {}) if header is not None else {}
    tables: list[_Table] = []
    offset = 0
    covered: set[int] = set()
    for ds in message.data or ():
        frame: pd.DataFrame = ds.data  # type: ignore[attr-defined]  # a PandasDataset
        structure = str(ds.structure)
        constants = {str(k): _text(v) for k, v in (ds.attributes or {}).items()}
        deleting = getattr(ds.action, "value", ds.action) == "Delete"
        if raw is not None:
            # pysdmx keeps the CSV's row numbers as the index, also when it splits data sets by structure.
            positions = [int(i) for i in frame.index]
            if not _aligned(frame, raw, positions) or covered.intersection(positions):
                raise PayloadError("pysdmx and pandas read different rows from this SDMX-CSV message")  # never seen
            covered.update(positions)
        else:
            frame = _without_bare_series(frame, obs_dims.get(structure) or TIME_PERIOD)
            positions = list(range(offset, offset + len(frame)))
            offset += len(frame)
        tables.append(_Table(structure, frame, positions, constants, raw, deleting))
    if raw is not None and len(covered) < len(raw):
        # pysdmx drops the rows with ACTION "D" from a CSV that mixes them with others.
        left = [i for i in range(len(raw)) if i not in covered]
        tables.append(_Table("(deleted rows)", raw.iloc[left], left, {}, raw, deleting=True))
    return tables


def _aligned(frame: pd.DataFrame, raw: pd.DataFrame, positions: list[int]) -> bool:
    """Whether ``positions`` are the rows of ``raw`` that ``frame`` holds (TIME_PERIOD is text in both)."""
    if positions and not 0 <= min(positions) <= max(positions) < len(raw):
        return False
    if TIME_PERIOD not in frame.columns or TIME_PERIOD not in raw.columns:
        return True
    ours = [v.strip() for v in raw[TIME_PERIOD].to_numpy()[positions].tolist()]
    return ours == _texts(frame[TIME_PERIOD])


def _without_bare_series(frame: pd.DataFrame, obs_dim: str) -> pd.DataFrame:
    """SDMX-ML: pysdmx gives a series without observations a row of its own; that row is no observation."""
    marks = [c for c in (obs_dim, OBS_VALUE, OBS_STATUS) if c in frame.columns]
    if not len(frame) or not marks or obs_dim == "AllDimensions":  # flat observations: every row is one
        return frame
    bare = (frame[marks[0]].astype("string").fillna("").str.strip() == "").to_numpy()
    for c in marks[1:]:
        bare &= (frame[c].astype("string").fillna("").str.strip() == "").to_numpy()
    return frame[~bare] if bare.any() else frame


def _text_csv(body: bytes) -> pd.DataFrame:
    """The SDMX-CSV table as text, exactly as written."""
    import pandas as pd

    text = body.decode("utf-8", errors="replace").replace("\ufeff", "")  # as pysdmx decodes it
    try:
        return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except Exception as exc:  # pysdmx read it, so this is unlikely; still no pandas error unexplained
        raise PayloadError(
            f"not a readable SDMX-CSV message ({_explain(exc)}); it starts with {_preview(body)}"
        ) from None


def _texts(series: pd.Series) -> list[str]:
    values: list[str] = series.astype("string").fillna("").str.strip().tolist()
    return values


def _text(value: object) -> str:
    import pandas as pd

    return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)


# --- components -------------------------------------------------------------------------------------

_YEAR_AND = re.compile(r"([0-9]{4})(?:-(.+))?")
_FORMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[0-9]{2}"), "month"),
    (re.compile(r"[0-9]{2}-[0-9]{2}"), "day"),
    (re.compile(r"A1"), "annual"),
    (re.compile(r"Q[1-4]"), "quarter"),
    (re.compile(r"M[0-9]{2}"), "reporting month"),
    (re.compile(r"D[0-9]{3}"), "reporting day"),
    (re.compile(r"S[12]"), "semester"),
    (re.compile(r"T[1-3]"), "trimester"),
    (re.compile(r"W[0-9]{2}"), "week"),
]
_KEPT = "we keep daily, monthly, quarterly and yearly periods only"


@lru_cache(maxsize=8192)
def _period(text: str, name: str = TIME_PERIOD) -> tuple[str, str | None, bool]:
    """Our period for an SDMX TIME_PERIOD, or why there is none; and whether it is a reporting period.

    Ours is checked again by ObservationIn (a month 13 or 30 February is refused there).
    """
    if not text:
        return "", f"{name} is missing", False
    if "/" in text:
        return "", f"{name} {text!r} is a time range: {_KEPT}", False
    m = _YEAR_AND.fullmatch(text)
    if m is None:
        return "", f"{name} {text!r} is not an SDMX period we read ({READ_PERIODS})", False
    year, rest = m[1], m[2]
    if rest is None:
        return year, None, False
    form = next((name for pattern, name in _FORMS if pattern.fullmatch(rest)), None)
    if form in ("month", "day", "quarter"):
        return f"{year}-{rest}", None, form == "quarter"
    if form == "annual":
        return year, None, True
    if form == "reporting month":
        return f"{year}-{rest[1:]}", None, True
    if form == "reporting day":
        n, y = int(rest[1:]), int(year)
        if not 1 <= n <= (366 if calendar.isleap(y) else 365):
            return "", f"{name} {text!r}: {year} has no day {n}", True
        return (date(y, 1, 1) + timedelta(days=n - 1)).isoformat(), None, True
    if form is not None:  # semester, trimester, week
        return "", f"{name} {text!r} is a {form}: {_KEPT}", False
    if "T" in rest:
        return "", f"{name} {text!r} is a date-time, not a reporting period ({READ_PERIODS})", False
    return "", f"{name} {text!r} is not an SDMX period we read ({READ_PERIODS})", False


def _value(text: str) -> tuple[float, str | None]:
    if not text or text.lower() == "nan":
        return math.nan, "OBS_VALUE is missing"
    try:
        value = float(text)
    except ValueError:
        return math.nan, f"OBS_VALUE {text!r} is not a number"
    if math.isnan(value):
        return value, "OBS_VALUE is missing"
    return value, None


def _status_reason(attribute: str, code: str, table: dict[str, StatusMapping]) -> str:
    name = STATUS_NAMES.get(code.upper()) if attribute == OBS_STATUS else None
    named = f"{code!r} ({name})" if name else repr(code)
    taken = ", ".join(sorted(c for c, ours in table.items() if ours is not StatusMapping.REJECT))
    return (
        f"{attribute} {named} is not kept: we take {taken} (in any case; the source's mapping.statuses "
        "can map more codes)"
    )


def _service_error(code: int, where: str) -> str:
    meaning = SDMX_ERRORS.get(code, "an error code of the agency's own")
    return f"the SDMX service answered with {where} instead of data: code {code} ({meaning}); nothing is stored"


def _error_text(body: bytes) -> str | None:
    """The texts of an SDMX-ML Error message, as the agency wrote them (pysdmx gives a dict's repr)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    texts = [" ".join(t.itertext()) for t in root.iter() if t.tag.endswith("}Text")]
    return _squeeze(" ".join(texts)) or None


def _squeeze(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ends_unclosed(exc: Exception, xml: bytes) -> bool:
    """Whether expat stopped because the document ended, not because of a bad byte in the middle."""
    from xml.parsers.expat import errors

    ended = {errors.codes[e] for e in (errors.XML_ERROR_NO_ELEMENTS, errors.XML_ERROR_UNCLOSED_TOKEN,
                                       errors.XML_ERROR_PARTIAL_CHAR, errors.XML_ERROR_UNCLOSED_CDATA_SECTION)}  # fmt: skip
    return getattr(exc, "code", None) in ended


def _expat_reason(exc: Exception) -> str:
    from xml.parsers.expat import ErrorString

    code = getattr(exc, "code", None)
    return f"{ErrorString(code) if code else exc} at line {getattr(exc, 'lineno', '?')}"


_FOOTER_NS = b"/message/footer"


def _check_footer(body: bytes, tables: Sequence[_Table]) -> None:
    """An SDMX-ML footer's messages: an error, or any message where no observation came, fails the run.

    Eurostat answers a large query with an empty data set and a footer message 413 ("the response will
    be written to a file ... under URL ..."): reading it as "nothing new" would silently lose the data.
    pysdmx ignores footers, so they are read here (only when the footer namespace appears at all).
    """
    if _FOOTER_NS not in body:
        return
    import xml.etree.ElementTree as ET

    messages: list[tuple[int | None, str, str]] = []
    try:
        for _, elem in ET.iterparse(BytesIO(body), events=("end",)):
            if elem.tag.endswith("}Message") and "/message/footer}" in elem.tag:
                code = elem.get("code", "")
                text = " ".join(" ".join(t.itertext()) for t in elem if t.tag.endswith("}Text"))
                messages.append((int(code) if code.isdigit() else None, elem.get("severity", ""), _squeeze(text)))
            elif not elem.tag.endswith(("}Text", "}Message")):
                elem.clear()
    except ET.ParseError:
        return  # pysdmx read the message, so this is unlikely; the data stands on its own
    if not messages:
        return
    observations = sum(0 if t.deleting else len(t.positions) for t in tables)
    for code, severity, text in messages:
        if severity.lower() == "error" or not observations:
            where = f"a footer message ({severity or 'no severity'})"
            raise PayloadError(_service_error(code if code is not None else 0, where), text)
        log.warning("SDMX footer message %s (%s) beside %d observations: %s", code, severity, observations, text)


def _cursor(message: Message) -> str | None:
    """When the sender prepared the message: the next pull asks for what changed after it."""
    prepared = message.header.prepared if message.header is not None else None
    if not isinstance(prepared, datetime):
        return None
    if prepared.tzinfo is None:
        prepared = prepared.replace(tzinfo=UTC)  # SDMX-ML times without a zone are taken as UTC, as pysdmx does
    return prepared.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _kind_of(message: Message) -> str:
    if message.structures:
        return "structure"
    if message.submission:
        return "registry submission"
    if message.reports:
        return "reference metadata"
    return "non-data"


def _explain(exc: BaseException) -> str:
    """pysdmx's errors carry a title and a description; others, their type says most."""
    title, description = getattr(exc, "title", None), getattr(exc, "description", None)
    if title in ("Invalid", "Validation Error") and description:
        text = str(description)
    elif title:
        text = f"{title}: {description}" if description else str(title)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _preview(body: bytes) -> str:
    head = body[:60]
    try:
        shown = repr(head.decode("utf-8"))
    except UnicodeDecodeError:
        shown = repr(head)  # binary: show the bytes, escaped
    return "it starts with " + shown + ("..." if len(body) > 60 else "")
