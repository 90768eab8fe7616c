"""Who a token is: the configured users, checked by the sha256 of their token (never kept or logged
in clear), for the WebSocket feed and the open data alike."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

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

    def bearer(self, authorization: str) -> User | None:
        """The user of an ``Authorization: Bearer TOKEN`` header (None: another scheme, or no such token)."""
        scheme, _, token = authorization.partition(" ")
        return self.check(token.strip()) if scheme.lower() == "bearer" else None
