"""What the faults do to an answer: a connection reset, an oversized or cut-off body, records
repeated or broken against the schema. ``simulator.server`` decides when; docs/agency-json.md
(section 4) lists the faults.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Any, TypeVar

from aiohttp import web

from simulator.answers import AGENCY_FORMAT, JSON_TYPE
from simulator.sdmx import Obs

T = TypeVar("T")


def drop(request: web.Request) -> None:
    """Reset the connection (SO_LINGER 0): the client sees it die without an answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def oversized(request: web.Request, size: int) -> web.StreamResponse:
    """A JSON body of exactly ``size`` bytes, written in chunks (never whole in memory)."""
    resp = web.StreamResponse(status=200)
    resp.content_type = JSON_TYPE
    resp.charset = "utf-8"
    resp.content_length = size
    await resp.prepare(request)
    head = f'{{"format":"{AGENCY_FORMAT}","observations":[],"padding":"'.encode()
    tail = b'"}'
    if size < len(head) + len(tail):
        head, tail = b" " * size, b""
    await resp.write(head)
    left = size - len(head) - len(tail)
    chunk = b"x" * 65536
    while left > 0:
        await resp.write(chunk[: min(left, len(chunk))])
        left -= min(left, len(chunk))
    if tail:
        await resp.write(tail)
    await resp.write_eof()
    return resp


def cut_off(answer: web.StreamResponse) -> web.Response:
    """The first half of an answer's body (at least one byte), as a 200 of its content type."""
    body = answer.body if isinstance(answer, web.Response) and isinstance(answer.body, bytes) else b"{}"
    cut = body[: max(1, len(body) // 2)]
    return web.Response(body=cut, status=200, content_type=answer.content_type or JSON_TYPE, charset="utf-8")


def duplicated(obs: list[T]) -> list[T]:
    """Every 20th record (at least one) appears twice, right after itself (JSON or SDMX alike)."""
    return [o for k, o in enumerate(obs) for _ in range(2 if k % 20 == 0 else 1)]


def broken(obs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Four records that break the schema, spread among the valid ones."""
    base = (
        obs[0]
        if obs
        else {
            "indicator": "CPI_YOY",
            "area": "VN",
            "period": "2024-05",
            "value": 1.0,
            "status": "official",
            "updated_at": "2024-06-20T02:00:00Z",
        }
    )
    missing = {k: v for k, v in base.items() if k != "value"}
    not_a_number = {**base, "value": "n/a"}
    unknown = {**base, "indicator": "NO_SUCH_INDICATOR"}
    impossible = {**base, "period": "2024-13" if len(str(base["period"])) == 7 else "2023-02-30"}
    out = list(obs)
    for k, bad in enumerate((missing, not_a_number, unknown, impossible)):
        out.insert(min(len(out), (k + 1) * max(1, len(out) // 5)), bad)
    return out


def broken_sdmx(obs: list[Obs]) -> list[Obs]:
    """Three observations that break the schema, after the valid ones."""
    ind, area, period, value, status = obs[0] if obs else ("CPI_YOY", "VN", "2024-05", 1.0, "A")
    return [
        *obs,
        (ind, area, period, "n/a", status),
        ("NO_SUCH_INDICATOR", area, period, value, status),
        (ind, area, "2024-13", value, status),
    ]
