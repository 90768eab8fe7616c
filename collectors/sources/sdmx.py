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

This module reads the message as a whole (the adapter); beside it: ``sdmx_header`` (what real
headers leave out), ``sdmx_tables`` (the data sets as tables of text), ``sdmx_rows`` (the rows into
records, by the mapping), ``sdmx_errors`` (what the service says instead of data).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

from collectors.config import SdmxFormat, SdmxMapping, SourceSettings
from collectors.sources.base import Fetched, Parsed, PayloadError
from collectors.sources.sdmx_errors import (
    check_footer,
    ends_unclosed,
    error_text,
    expat_reason,
    explain,
    kind_of,
    preview,
    service_error,
)
from collectors.sources.sdmx_header import complete_header
from collectors.sources.sdmx_rows import RowReader
from collectors.sources.sdmx_tables import tables_of, text_csv
from storage.models import ObservationIn, Rejection

if TYPE_CHECKING:
    from pysdmx.model.message import Message

INSTALL_HINT = "pip install 'opscentre[sdmx]'"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'  # pysdmx only recognises XML by its declaration
_LABEL = {SdmxFormat.ML: "SDMX-ML", SdmxFormat.CSV: "SDMX-CSV"}


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
        self._rows = RowReader(self.mapping)
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
        raw = text_csv(body) if self.format is SdmxFormat.CSV else None
        if raw is not None and raw.empty:  # no rows (nothing changed): pysdmx would refuse it, but it is a fine answer
            if "DATAFLOW" not in raw.columns and not {"STRUCTURE", "STRUCTURE_ID"} <= set(raw.columns):
                raise PayloadError(
                    "not an SDMX-CSV message: no DATAFLOW or STRUCTURE, STRUCTURE_ID column", preview(body)
                )
            self._rows.check_columns([], raw)
            self._check_terminated(body)
            return Parsed(cursor=server_time)
        try:
            message = self._message(body)
        except PayloadError:
            # A footer says why first: Eurostat's asynchronous 413 names no structure in its header,
            # which pysdmx cannot read; the agency's code and words are the answer, not our parse error.
            check_footer(body, 0)
            raise
        if raw is not None:
            self._check_terminated(body)
        if message is None:
            return Parsed(cursor=server_time)
        if message.data is None:
            raise PayloadError(f"an SDMX {kind_of(message)} message, not a data message")
        tables = tables_of(message, raw)
        check_footer(body, sum(t.observations for t in tables))
        self._rows.check_columns(tables, raw)
        records: list[ObservationIn] = []
        positions: list[int] = []
        rejected: list[Rejection] = []
        for table in tables:
            self._rows.convert(table, records, positions, rejected)
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
            raise PayloadError("not an SDMX-ML message (XML expected)", preview(body))
        if self.format is SdmxFormat.CSV:
            if is_xml or body.startswith((b"{", b"[")):
                kind = "XML" if is_xml else "JSON"
                raise PayloadError(f"not an SDMX-CSV message ({kind} received)", preview(body))
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
                raise PayloadError(service_error(int(code[1]), "an error message"), error_text(body)) from None
            raise PayloadError(self._unreadable(exc), preview(body)) from None
        except ExpatError as exc:
            if ends_unclosed(exc, xml):
                raise PayloadError(
                    f"truncated SDMX-ML message: the XML document ends at byte {len(body):,} before it is closed "
                    f"({expat_reason(exc)}); nothing from it is stored"
                ) from None
            raise PayloadError(self._unreadable(exc), preview(body)) from None
        except Exception as exc:  # pysdmx also lets KeyError & co. through on odd messages
            raise PayloadError(self._unreadable(exc), preview(body)) from None

    def _unreadable(self, exc: BaseException) -> str:
        return f"not a readable {_LABEL[self.format]} data message ({explain(exc)})"


def _cursor(message: Message) -> str | None:
    """When the sender prepared the message: the next pull asks for what changed after it."""
    prepared = message.header.prepared if message.header is not None else None
    if not isinstance(prepared, datetime):
        return None
    if prepared.tzinfo is None:
        prepared = prepared.replace(tzinfo=UTC)  # SDMX-ML times without a zone are taken as UTC, as pysdmx does
    return prepared.astimezone(UTC).isoformat().replace("+00:00", "Z")
