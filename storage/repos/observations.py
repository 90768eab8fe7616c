"""Observations: the ingest, the sources' cursors, figures with their revisions and provenance, payloads."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from storage import ingest as ingest_mod
from storage import writes
from storage.clock import to_text
from storage.conn import Connection
from storage.ingest import Batch, Catalogue, paused_gc
from storage.models import (
    IngestLog,
    IngestResult,
    Observation,
    Rejection,
)
from storage.repos.base import StoreState
from storage.repos.runs import Runs
from storage.rows import OBS_SELECT, observation_from_row
from storage.writes import RunFinish, StoreError


def _prepare(
    catalogue: Catalogue, batch: Batch, latest: dict[tuple[str, str], str]
) -> tuple[ingest_mod.Plan, list[Rejection]]:
    with paused_gc():
        return catalogue.check(batch.records, batch.source, latest)


class Observations:
    """A figure's provenance names the run that brought it (``runs``, the run record)."""

    def __init__(self, state: StoreState, runs: Runs) -> None:
        self._state = state
        self._runs = runs

    async def ingest(self, batch: Batch, *, finish: Callable[[IngestResult], RunFinish] | None = None) -> IngestResult:
        """Check and write one batch in one transaction; see :class:`IngestResult`.

        Records that fail a check are rejected with a reason and the rest still go in. Writing
        the same batch again finds every record unchanged and appends nothing. With ``finish``,
        the batch's run is finished in the same transaction (``finish(result)`` says how).
        """
        catalogue = self._state.catalogue
        small = len(batch.records) <= 2000

        def write(conn: Connection) -> IngestResult:
            if small:  # cheaper to check here, in the writer, than to hop threads twice more
                rows = conn.execute(
                    "SELECT indicator, area, period FROM series_latest WHERE source = ?", (batch.source,)
                )
                work, rejected = _prepare(catalogue, batch, {(r[0], r[1]): r[2] for r in rows})
            else:
                work, rejected = prepared
            result = ingest_mod.write(conn, batch, work, rejected, self._state.dialect.append)
            if finish is not None:
                assert batch.run_id is not None
                done = finish(result)
                result.run = writes.finish_run(conn, batch.run_id, done.outcome, **done.fields())
            return result

        if not small:  # keep the event loop responsive on large payloads: check in a thread first
            async with self._state.reader.execute(
                "SELECT indicator, area, period FROM series_latest WHERE source = ?", (batch.source,)
            ) as cur:
                latest = {(r[0], r[1]): r[2] for r in await cur.fetchall()}
            prepared = await asyncio.to_thread(_prepare, catalogue, batch, latest)
        try:
            return await self._state.writer.run(write)
        except LookupError as exc:
            raise StoreError(str(exc)) from None

    async def newest_periods(self) -> dict[tuple[str, str, str], str]:
        """Each series' (indicator, area, source) newest period."""
        async with self._state.reader.execute("SELECT indicator, area, source, period FROM series_latest") as cur:
            return {(r[0], r[1], r[2]): r[3] for r in await cur.fetchall()}

    async def cursor(self, source: str) -> str | None:
        """Where the source's next incremental pull starts (None: from the beginning)."""
        async with self._state.reader.execute("SELECT cursor FROM source_state WHERE source = ?", (source,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def reset_cursor(self, source: str) -> None:
        """Make the next pull of ``source`` a full one (ingest stays idempotent)."""
        await self._state.writer.run(lambda conn: writes.reset_cursor(conn, source))

    async def get(self, obs_id: int) -> Observation | None:
        async with self._state.reader.execute(
            f"SELECT {OBS_SELECT} FROM observations o WHERE o.id = ?", (obs_id,)
        ) as cur:
            row = await cur.fetchone()
        return observation_from_row(row) if row else None

    async def history(
        self,
        indicator: str,
        area: str,
        *,
        source: str | None = None,
        as_of: datetime | None = None,
        since: str | None = None,
    ) -> list[Observation]:
        """The series, one figure per period and source: the latest revision known at ``as_of``
        (default: now), oldest period first."""
        cutoff = to_text(as_of) if as_of else None  # None: no cutoff (a time, not a text, on PostgreSQL)
        sql = f"""
        SELECT {OBS_SELECT} FROM observations o
        WHERE indicator = ?1 AND area = ?2 AND (?3 IS NULL OR source = ?3) AND (?4 IS NULL OR collected_at <= ?4)
          AND (?5 IS NULL OR period >= ?5)
          AND revision = (SELECT max(revision) FROM observations m
                          WHERE m.indicator = o.indicator AND m.area = o.area AND m.period = o.period
                            AND m.source = o.source AND (?4 IS NULL OR m.collected_at <= ?4))
        ORDER BY period, source"""
        async with self._state.reader.execute(sql, (indicator, area, source, cutoff, since)) as cur:
            return [observation_from_row(r) for r in await cur.fetchall()]

    async def revisions(self, indicator: str, area: str, period: str, source: str | None = None) -> list[Observation]:
        """Every revision of one figure, first to last."""
        sql = f"""SELECT {OBS_SELECT} FROM observations o
        WHERE indicator = ?1 AND area = ?2 AND period = ?3 AND (?4 IS NULL OR source = ?4)
        ORDER BY source, revision"""
        async with self._state.reader.execute(sql, (indicator, area, period, source)) as cur:
            return [observation_from_row(r) for r in await cur.fetchall()]

    async def revised_between(self, start: datetime, end: datetime) -> list[Observation]:
        """The revisions (revision 2 on) collected from ``start`` up to, not including, ``end``, in the
        order they were collected: what changed over a period (the briefing's "what changed")."""
        sql = f"""SELECT {OBS_SELECT} FROM observations o
        WHERE revision > 1 AND collected_at >= ?1 AND collected_at < ?2 ORDER BY collected_at, id"""
        async with self._state.reader.execute(sql, (to_text(start), to_text(end))) as cur:
            return [observation_from_row(r) for r in await cur.fetchall()]

    async def value_as_of(
        self, indicator: str, area: str, period: str, as_of: datetime, source: str | None = None
    ) -> Observation | None:
        """The figure for one period as the centre knew it at ``as_of``."""
        sql = f"""SELECT {OBS_SELECT} FROM observations o
        WHERE indicator = ?1 AND area = ?2 AND period = ?3 AND (?4 IS NULL OR source = ?4) AND collected_at <= ?5
        ORDER BY collected_at DESC, revision DESC LIMIT 1"""
        async with self._state.reader.execute(sql, (indicator, area, period, source, to_text(as_of))) as cur:
            row = await cur.fetchone()
        return observation_from_row(row) if row else None

    async def figures(
        self,
        *,
        indicators: Collection[str] = (),
        areas: Collection[str] = (),
        sources: Collection[str] = (),
        as_of: datetime | None = None,
        every_revision: bool = False,
    ) -> list[Observation]:
        """Many series at once (empty: all): each figure's latest revision known at ``as_of`` (default:
        now), or with ``every_revision`` every revision known then; by indicator, area, source, period,
        revision. What the open data (feed/sdmx) serves: one read, not one per series."""
        where: list[str] = []
        args: list[str] = []
        for column, values in (("o.indicator", indicators), ("o.area", areas), ("o.source", sources)):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                args.extend(sorted(values))
        known = ""
        if as_of is not None:
            where.append("o.collected_at <= ?")
            args.append(to_text(as_of))
            known = "AND m.collected_at <= ?"
        if not every_revision:
            where.append(f"""o.revision = (SELECT max(revision) FROM observations m
                WHERE m.indicator = o.indicator AND m.area = o.area AND m.period = o.period
                  AND m.source = o.source {known})""")
            args += [to_text(as_of)] if as_of is not None else []
        where = where or ["1 = 1"]
        sql = f"""SELECT {OBS_SELECT} FROM observations o WHERE {" AND ".join(where)}
        ORDER BY o.indicator, o.area, o.source, o.period, o.revision"""
        async with self._state.reader.execute(sql, args) as cur:
            return [observation_from_row(r) for r in await cur.fetchall()]

    async def ingest_log(self, run_id: int | None = None, limit: int = 100) -> list[IngestLog]:
        """Recorded ingests, newest first; of one run if given."""
        sql = """SELECT i.id, i.source, i.run_id, p.digest, i.at, i.records, i.new, i.revised, i.unchanged, i.rejected,
                 i.first_obs, i.last_obs, i.first_seq, i.last_seq
                 FROM ingests i LEFT JOIN raw_payloads p ON p.id = i.payload_id
                 WHERE ?1 IS NULL OR i.run_id = ?1 ORDER BY i.id DESC LIMIT ?2"""
        async with self._state.reader.execute(sql, (run_id, limit)) as cur:
            rows = await cur.fetchall()
        fields = IngestLog.model_fields.keys()
        return [IngestLog.model_validate(dict(zip(fields, r, strict=True))) for r in rows]

    async def rejections(self, ingest_id: int) -> list[Rejection]:
        """Why records of one ingest were refused (the first 1,000 are kept)."""
        sql = "SELECT position, reason, record FROM rejections WHERE ingest_id = ? ORDER BY position"
        async with self._state.reader.execute(sql, (ingest_id,)) as cur:
            return [Rejection(index=r[0], reason=r[1], record=json.loads(r[2])) for r in await cur.fetchall()]

    async def of_run(self, run_id: int) -> list[Observation]:
        """The figures a run appended, in order (found through its ingests' id ranges)."""
        out: list[Observation] = []
        for log in reversed(await self.ingest_log(run_id, limit=100_000)):
            if log.first_id is None:
                continue
            sql = f"SELECT {OBS_SELECT} FROM observations o WHERE o.id BETWEEN ? AND ? ORDER BY o.id"
            async with self._state.reader.execute(sql, (log.first_id, log.last_id)) as cur:
                out += [observation_from_row(r) for r in await cur.fetchall()]
        return out

    async def provenance(self, obs_id: int) -> dict[str, Any] | None:
        """Where one figure came from: its revisions, the ingest and run that brought it, the payload."""
        obs = await self.get(obs_id)
        if obs is None:
            return None
        sql = """SELECT i.id, i.source, i.run_id, p.digest, i.at, i.records, i.new, i.revised, i.unchanged, i.rejected,
                 i.first_obs, i.last_obs, i.first_seq, i.last_seq, p.size, p.content_type, p.wire_encoding
                 FROM ingests i LEFT JOIN raw_payloads p ON p.id = i.payload_id
                 WHERE i.first_obs <= ?1 AND i.last_obs >= ?1 LIMIT 1"""
        async with self._state.reader.execute(sql, (obs_id,)) as cur:
            row = await cur.fetchone()
        ingest = None
        payload = None
        if row is not None:
            fields = IngestLog.model_fields.keys()
            ingest = IngestLog.model_validate(dict(zip(fields, row[:14], strict=True))).model_dump(mode="json")
            if row[3] is not None:
                # sha256 and size are of the decoded bytes; wire_encoding names what was undone (gzip, ...)
                payload = {"sha256": row[3], "size": row[14], "content_type": row[15], "wire_encoding": row[16]}
        run = await self._runs.get(obs.run_id) if obs.run_id is not None else None
        revisions = await self.revisions(obs.indicator, obs.area, obs.period, obs.source)
        return {
            "observation": obs.model_dump(mode="json"),
            "revisions": [r.model_dump(mode="json") for r in revisions],
            "ingest": ingest,
            "run": run.model_dump(mode="json") if run else None,
            "payload": payload,
        }

    async def payload(self, digest: str) -> bytes | None:
        """The exact bytes a figure came from."""
        async with self._state.reader.execute(
            "SELECT codec, body FROM raw_payloads WHERE digest = ?", (digest,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return zlib.decompress(row[1]) if row[0] == "zlib" else bytes(row[1])

    async def source_areas(self, source: str, limit: int = 2) -> list[str]:
        """Areas whose figures ``source`` has delivered (at most ``limit``): a province's own system
        delivers that province's alone, so its alerts can name the province (and mute its late reports)."""
        sql = "SELECT DISTINCT area FROM series_latest WHERE source = ? LIMIT ?"
        async with self._state.reader.execute(sql, (source, limit)) as cur:
            return sorted(r[0] for r in await cur.fetchall())
