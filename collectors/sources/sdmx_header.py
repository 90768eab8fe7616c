"""What real SDMX-ML headers leave out, put back before pysdmx reads the message.

pysdmx needs every data set's structure named in the header (``message:Structure``): its id, its
``dimensionAtObservation`` and a reference with agency, id and version. Agencies' servers omit parts:

- IMF writes ``<Ref agencyID="IMF" id="IFS"/>`` without ``version``, which the SDMX 2.1 schema
  defaults to ``1.0`` (pysdmx fails on ``KeyError: 'version'``);
- ISTAT's NSI web service has sent headers without the reference, or without ``message:Structure``.

Only the header (the bytes before ``</…:Header>``) is changed, never the data. The schema's default
is filled in silently; a missing reference is taken from the source's configuration
(``mapping.structure``), and without one the run fails saying which key to set.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from collectors.config import StructureReference
from collectors.sources.base import PayloadError

_HEADER_SCAN = 1 << 16  # a header is a few hundred bytes; its end is looked for this far in
_HEADER_END = re.compile(rb"</(?P<p>[A-Za-z_][\w.\-]*:)?Header\s*>")
_REF = re.compile(rb"<(?P<p>[A-Za-z_][\w.\-]*:)?Ref\b(?P<attrs>[^>]*?)(?P<end>/?>)")
_VERSION = re.compile(rb"\sversion\s*=")
_STRUCTURE_REF = re.compile(rb"\bstructureRef\s*=\s*(?P<q>[\"'])(?P<id>[^\"'<>]*)(?P=q)")
_COMMON = {
    b"v2_1": b"http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
    b"v3_0": b"http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
    b"v3_1": b"http://www.sdmx.org/resources/sdmxml/schemas/v3_1/common",
}
_SCHEMA = re.compile(rb"http://www\.sdmx\.org/resources/sdmxml/schemas/(v\d_\d)/message")
# The header element for each class: SDMX 2.1 spells the provision agreement's without its second "e".
_ELEMENT_21 = {"Dataflow": "StructureUsage", "DataStructure": "Structure", "ProvisionAgreement": "ProvisionAgrement"}


def _reference_element(ref: StructureReference, schema: bytes) -> bytes:
    """The reference as the child of ``message:Structure``, in the message's SDMX version."""
    common = _COMMON[schema]
    if schema == b"v2_1":
        name = _ELEMENT_21[ref.cls].encode()
        attrs = f"agencyID={quoteattr(ref.agency)} id={quoteattr(ref.id)} version={quoteattr(ref.version)}"
        inner = b'<Ref xmlns="" ' + attrs.encode() + b"/>"
    else:
        name = b"StructureUsage" if ref.cls == "Dataflow" else ref.cls.encode()
        inner = ref.urn().encode()
    return b"<" + name + b' xmlns="' + common + b'">' + inner + b"</" + name + b">"


def complete_header(body: bytes, configured: StructureReference | None, time_dimension: str) -> bytes:
    """The message with a header pysdmx can read: see the module's docstring. ``body`` is XML."""
    end = _HEADER_END.search(body, 0, _HEADER_SCAN)
    schema = _SCHEMA.search(body, 0, _HEADER_SCAN)
    if end is None or schema is None or schema[1] not in _COMMON:
        return body  # no header (or not SDMX-ML 2.1/3.x): pysdmx says what is wrong
    header, rest = body[: end.start()], body[end.start() :]
    prefix = end["p"] or b""
    structures = list(_structures(header, prefix))
    if not structures:
        data_set = _STRUCTURE_REF.search(rest)
        if data_set is None:
            return body  # nothing names a structure: not a data message, pysdmx says so
        empty = b"<" + prefix + b"Structure structureID=" + quoteattr(data_set["id"].decode()).encode() + b"/>"
        header += empty
        structures = list(_structures(header, prefix))
    out = bytearray()
    done = 0
    for start, stop in structures:
        out += header[done:start] + _completed(header[start:stop], prefix, configured, time_dimension, schema[1])
        done = stop
    return bytes(out + header[done:]) + rest


def _structures(header: bytes, prefix: bytes) -> list[tuple[int, int]]:
    """Where each ``message:Structure`` element of the header starts and ends."""
    opening = re.compile(rb"<" + re.escape(prefix) + rb"Structure\b[^>]*?(/?)>")
    closing = b"</" + prefix + b"Structure>"
    found = []
    pos = 0
    while (m := opening.search(header, pos)) is not None:
        if m[1]:
            found.append((m.start(), m.end()))
            pos = m.end()
            continue
        # The element holds a reference (common:Structure, a different prefix) or nothing.
        close = header.find(closing, m.end())
        if close < 0:
            break  # malformed: left to the XML parser to report
        found.append((m.start(), close + len(closing)))
        pos = close + len(closing)
    return found


def _completed(
    element: bytes, prefix: bytes, configured: StructureReference | None, time_dimension: str, schema: bytes
) -> bytes:
    open_end = element.index(b">") + 1
    opening, inner = element[:open_end], element[open_end:]
    if opening.endswith(b"/>"):
        opening, inner = opening[:-2].rstrip() + b">", b"</" + prefix + b"Structure>"
    if not re.search(rb"\sdimensionAtObservation\s*=", opening):
        # Required by the schema; the time dimension is at the observation in every message we read.
        opening = opening[:-1] + b" dimensionAtObservation=" + quoteattr(time_dimension).encode() + b">"
    inner = _REF.sub(_with_version, inner)
    if not _names_structure(inner):
        if configured is None:
            raise PayloadError(
                "the SDMX-ML message's header names no structure (data flow or data structure) for its data; "
                "give it in the source's configuration: mapping.structure = 'Dataflow=AGENCY:ID(VERSION)'"
            )
        inner = _reference_element(configured, schema) + inner
    return opening + inner


def _with_version(m: re.Match[bytes]) -> bytes:
    """A reference without ``version`` means version 1.0 (the SDMX 2.1 schema's default)."""
    if _VERSION.search(m["attrs"]):
        return m[0]
    return b"<" + (m["p"] or b"") + b"Ref" + m["attrs"].rstrip() + b' version="1.0"' + m["end"]


def _names_structure(inner: bytes) -> bool:
    """Whether the element's content is a reference: a ``Ref``, a ``URN`` or a URN as text."""
    return bool(re.search(rb"<(?:[\w.\-]+:)?(?:Ref|URN)\b|urn:sdmx:", inner))
