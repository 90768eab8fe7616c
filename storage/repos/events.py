"""The event log: what the feed sends, in seq order within the store's epoch."""

from __future__ import annotations

import json
from datetime import datetime

from storage import writes
from storage.clock import from_text
from storage.models import (
    Event,
    EventType,
)
from storage.repos.base import StoreState, max_seq
from storage.rows import OBS_COLUMNS, OBS_SELECT, observation_payload


class Events:
    """The log the feed reads by seq (``after``); every write appends to it in its own transaction."""

    def __init__(self, state: StoreState) -> None:
        self._state = state

    async def last_seq(self) -> int:
        return await max_seq(self._state.reader)

    async def first_seq(self) -> int:
        """The oldest event still in the log (0 when the log is empty)."""
        async with self._state.reader.execute("SELECT coalesce(min(seq), 0) FROM events") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def after(self, seq: int, limit: int = 1000) -> list[Event]:
        """Events with seq > ``seq``, in order, at most ``limit``."""
        sql = f"""
        SELECT e.seq, e.type, e.at, e.payload, {OBS_SELECT},
               p.value, p.status
        FROM events e
        LEFT JOIN observations o ON o.id = e.obs_id
        LEFT JOIN observations p ON p.id = o.supersedes
        WHERE e.seq > ? ORDER BY e.seq LIMIT ?"""
        async with self._state.reader.execute(sql, (seq, limit)) as cur:
            rows = await cur.fetchall()
        events = []
        for r in rows:
            if r[4] is not None:
                end = 4 + OBS_COLUMNS
                payload = observation_payload(r[4:end])
                payload["previous_value"], payload["previous_status"] = r[end], r[end + 1]
            else:
                payload = json.loads(r[3]) if r[3] else {}
            events.append(
                Event(seq=r[0], epoch=self._state.epoch, type=EventType(r[1]), at=from_text(r[2]), payload=payload)
            )
        return events

    async def prune(self, keep_after: datetime) -> int:
        """Drop events older than ``keep_after`` (clients that far behind get a fresh snapshot)."""
        return await self._state.writer.run(lambda conn: writes.prune_events(conn, keep_after))
