"""What the feed's plain HTTP answers share (feed/server.py's paths, feed/briefings.py's download): the
response with its headers, and the users known by their tokens' sha256."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

from websockets.datastructures import Headers
from websockets.http11 import Response

from feed.config import UserSettings, hash_token
from feed.protocol import Role


@dataclass(frozen=True)
class User:
    name: str
    role: Role


class Users:
    def __init__(self, users: Iterable[UserSettings]) -> None:
        self._by_hash = {u.token_sha256: User(u.name, u.role) for u in users}

    def check(self, token: str | None) -> User | None:
        if not token:
            return None
        digest = hash_token(token)
        for known, user in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return user
        return None


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


def text(status: HTTPStatus, words: str, extra: Iterable[tuple[str, str]] = ()) -> Response:
    return response(status, words.encode("utf-8"), "text/plain; charset=utf-8", extra=extra)
