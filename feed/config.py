"""The feed's part of the configuration: where it listens, who may connect, and client limits."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from feed.protocol import Role
from storage.settings import Duration, Section


def hash_token(token: str) -> str:
    """Tokens are long random strings; the configuration keeps only their sha256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


TokenHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the token, hex")]


class UserSettings(Section):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.\-@]+$")]
    role: Role
    token_sha256: TokenHash


class FeedSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allowed_origins: list[str] = Field(default_factory=list, description="browser origins allowed; empty = same host")
    tick: Duration = Field(default=timedelta(milliseconds=200), description="how often deltas are sent")
    heartbeat: Duration = timedelta(seconds=15)
    auth_deadline: Duration = Field(default=timedelta(seconds=5), description="time a browser has to send its token")
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    max_queue_bytes: int = Field(default=1_000_000, ge=10_000, description="a client further behind is closed as slow")
    commands_per_minute: int = Field(default=60, ge=1, description="commands a client may send, on average")
    queries_per_minute: int = Field(default=600, ge=1, description="queries a client may send, on average")
    snapshot_concurrency: int = Field(
        default=2, ge=1, le=64, description="snapshots read from the database at once (the rest wait their turn)"
    )
    resume_max_events: int = Field(
        default=100_000, ge=0, description="a client that missed more events gets a fresh snapshot instead"
    )

    @model_validator(mode="after")
    def _tls(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both 'tls_cert' and 'tls_key', or neither")
        for name in ("tls_cert", "tls_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file {path}")
        if not (timedelta(milliseconds=20) <= self.tick <= timedelta(seconds=5)):
            raise ValueError("'tick' must be between 20ms and 5s")
        return self
