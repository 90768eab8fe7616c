"""Plain HTTP answers of the feed's port (beside the WebSocket): never cached unless said, never
sniffed, and always closing the connection (websockets closes it after a plain HTTP answer)."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

from websockets.datastructures import Headers
from websockets.http11 import Response


def response(
    status: HTTPStatus, body: bytes, content_type: str, cache: str = "no-store", extra: Iterable[tuple[str, str]] = ()
) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache),
            ("X-Content-Type-Options", "nosniff"),
            # websockets closes the connection after a plain HTTP answer: a keep-alive client must know.
            ("Connection", "close"),
            *extra,
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def text(status: HTTPStatus, message: str, extra: Iterable[tuple[str, str]] = ()) -> Response:
    return response(status, message.encode("utf-8"), "text/plain; charset=utf-8", extra=extra)
