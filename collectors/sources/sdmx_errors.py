"""What an SDMX service says instead of data, and how a message that cannot be read is described.

The SDMX REST error codes in our words, the texts of an SDMX-ML Error message, the footer messages
(Eurostat's asynchronous 413), a document cut off before it is closed; every reason quotes at most a
short, squeezed preview of the body.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import TYPE_CHECKING

from collectors.sources.base import PayloadError

if TYPE_CHECKING:
    from pysdmx.model.message import Message

log = logging.getLogger(__name__)

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


def service_error(code: int, where: str) -> str:
    meaning = SDMX_ERRORS.get(code, "an error code of the agency's own")
    return f"the SDMX service answered with {where} instead of data: code {code} ({meaning}); nothing is stored"


def error_text(body: bytes) -> str | None:
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


def ends_unclosed(exc: Exception, xml: bytes) -> bool:
    """Whether expat stopped because the document ended, not because of a bad byte in the middle."""
    from xml.parsers.expat import errors

    ended = {errors.codes[e] for e in (errors.XML_ERROR_NO_ELEMENTS, errors.XML_ERROR_UNCLOSED_TOKEN,
                                       errors.XML_ERROR_PARTIAL_CHAR, errors.XML_ERROR_UNCLOSED_CDATA_SECTION)}  # fmt: skip
    return getattr(exc, "code", None) in ended


def expat_reason(exc: Exception) -> str:
    from xml.parsers.expat import ErrorString

    code = getattr(exc, "code", None)
    return f"{ErrorString(code) if code else exc} at line {getattr(exc, 'lineno', '?')}"


_FOOTER_NS = b"/message/footer"


def check_footer(body: bytes, observations: int) -> None:
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
    for code, severity, text in messages:
        if severity.lower() == "error" or not observations:
            where = f"a footer message ({severity or 'no severity'})"
            raise PayloadError(service_error(code if code is not None else 0, where), text)
        log.warning("SDMX footer message %s (%s) beside %d observations: %s", code, severity, observations, text)


def kind_of(message: Message) -> str:
    if message.structures:
        return "structure"
    if message.submission:
        return "registry submission"
    if message.reports:
        return "reference metadata"
    return "non-data"


def explain(exc: BaseException) -> str:
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


def preview(body: bytes) -> str:
    head = body[:60]
    try:
        shown = repr(head.decode("utf-8"))
    except UnicodeDecodeError:
        shown = repr(head)  # binary: show the bytes, escaped
    return "it starts with " + shown + ("..." if len(body) > 60 else "")
