"""The leaders' briefings the centre made (issue 19), kept as made: append-only, one per (period,
language, format, as_of). Made again at the same ``as_of``, a briefing is the same, so keeping it
again returns the one kept; one whose content differs from the kept one's is refused (a briefing
that does not reproduce is a defect to see, not a row to overwrite). The body is compressed as raw
payloads are (zlib), and read back whole only for a download.

The generator (``briefing/``) is a floor above the store: what ``keep`` takes is described here by
its shape (``MadeBriefing``), not imported.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.clock import from_text, to_text, utcnow
from storage.conn import Connection
from storage.repos.base import StoreState
from storage.writes import StoreError

SCHEDULE = "schedule"  # made_by of the briefings the serving process makes on its schedule
_COLUMNS = "id, period, lang, format, as_of, content_digest, media_type, size, made_at, made_by"


class MadeBriefing(Protocol):
    """What the generator returns (``briefing.Made``), as far as the store keeps it."""

    @property
    def body(self) -> bytes: ...
    @property
    def media_type(self) -> str: ...
    @property
    def content_digest(self) -> str: ...
    @property
    def period(self) -> str: ...
    @property
    def as_of(self) -> datetime: ...
    @property
    def lang(self) -> str: ...
    @property
    def fmt(self) -> str: ...


@dataclass(frozen=True)
class Briefing:
    """A kept briefing, without its body (``store.briefings.body(id)`` reads that)."""

    id: int
    period: str
    lang: str
    format: str
    as_of: datetime
    content_digest: str
    media_type: str
    size: int
    made_at: datetime
    made_by: str

    @property
    def filename(self) -> str:
        """The name a download is saved under: ``briefing-2026-11-vi.pdf``."""
        return f"briefing-{self.period}-{self.lang}.{self.format}"


def _briefing(row: tuple[object, ...]) -> Briefing:
    return Briefing(
        id=int(row[0]),  # type: ignore[call-overload]
        period=str(row[1]),
        lang=str(row[2]),
        format=str(row[3]),
        as_of=from_text(str(row[4])),
        content_digest=str(row[5]),
        media_type=str(row[6]),
        size=int(row[7]),  # type: ignore[call-overload]
        made_at=from_text(str(row[8])),
        made_by=str(row[9]),
    )


def _keep(conn: Connection, made: MadeBriefing, made_by: str) -> Briefing:
    key = (made.period, made.lang, made.fmt, to_text(made.as_of))
    row = conn.execute(
        "INSERT INTO briefings (period, lang, format, as_of, content_digest, media_type, size, codec, body, "
        "made_at, made_by) VALUES (?, ?, ?, ?, ?, ?, ?, 'zlib', ?, ?, ?) "
        f"ON CONFLICT (period, lang, format, as_of) DO NOTHING RETURNING {_COLUMNS}",
        (*key, made.content_digest, made.media_type, len(made.body), zlib.compress(made.body, 6),
         to_text(utcnow()), made_by),
    ).fetchone()  # fmt: skip
    if row is None:  # kept before: the same briefing, or a defect
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM briefings WHERE period = ? AND lang = ? AND format = ? AND as_of = ?", key
        ).fetchone()
        assert row is not None
        kept = _briefing(row)
        if kept.content_digest != made.content_digest:
            raise StoreError(
                f"briefing {kept.id} ({made.period}, {made.lang}, {made.fmt}, as of {key[3]}) was kept with content "
                f"{kept.content_digest}; made again it is {made.content_digest}: the same as_of must give the same content"
            )
        return kept
    return _briefing(row)


class Briefings:
    """Keeping a made briefing goes through the writer; listing and reading on the reader."""

    def __init__(self, state: StoreState) -> None:
        self._state = state

    async def keep(self, made: MadeBriefing, made_by: str) -> Briefing:
        """Keep ``made`` (``made_by``: the user who asked, or ``SCHEDULE``); the one kept before at the
        same (period, lang, format, as_of) if any. StoreError if that one's content differs."""
        return await self._state.writer.run(lambda conn: _keep(conn, made, made_by))

    async def listed(self, limit: int = 50) -> list[Briefing]:
        """The newest first (by when they were made)."""
        async with self._state.reader.execute(
            f"SELECT {_COLUMNS} FROM briefings ORDER BY id DESC LIMIT ?", (limit,)
        ) as cur:
            return [_briefing(r) for r in await cur.fetchall()]

    async def get(self, briefing_id: int) -> Briefing | None:
        async with self._state.reader.execute(f"SELECT {_COLUMNS} FROM briefings WHERE id = ?", (briefing_id,)) as cur:
            row = await cur.fetchone()
        return _briefing(row) if row is not None else None

    async def body(self, briefing_id: int) -> bytes | None:
        """The document's bytes, as made (None: no such briefing)."""
        async with self._state.reader.execute("SELECT codec, body FROM briefings WHERE id = ?", (briefing_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return zlib.decompress(row[1]) if row[0] == "zlib" else bytes(row[1])
