"""The shape of the simulator's HTTP answers: JSON bodies and errors, bad requests, page tokens,
instants given in a query, and the records of a set of series.

A page token carries the snapshot instant ``as_of`` with the offset, so the pages of one answer
neither overlap nor skip (see ``simulator.server``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from simulator.periods import parse_instant
from simulator.series import Record, Series

AGENCY_FORMAT = "opscentre.agency-observations/1"
PORTAL_FORMAT = "opscentre.portal-counters/1"
JSON_TYPE = "application/json"


class BadRequest(Exception):
    """A request the simulator answers with HTTP 400 and this message."""


def json_answer(body: Any, status: int = 200) -> web.Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return web.Response(body=data, status=status, content_type=JSON_TYPE, charset="utf-8")


def error(status: int, message: str) -> web.Response:
    return json_answer({"error": message, "status": status}, status)


def token(as_of: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"v1.{as_of}.{offset}".encode()).decode().rstrip("=")


def untoken(text: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        version, as_of, offset = raw.split(".")
        if version != "v1" or int(offset) < 0:
            raise ValueError(raw)
        return int(as_of), int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(f"invalid page token {text!r}: follow the 'next' URL of the previous page") from None


def instant(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return parse_instant(text)
    except ValueError:
        raise BadRequest(
            f"{name} must be an ISO 8601 time with a zone, such as 2026-11-01T00:00:00Z; got {text!r}"
        ) from None


def select(series: list[Series] | None, as_of: int, after: int | None) -> list[Record]:
    """The records of every series as published at ``as_of``, updated after ``after`` if given."""
    return [r for s in series or [] for r in s.select(as_of, after)]
