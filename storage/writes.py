"""Every write of the store, as a plain function of a ``Connection``.

They run in the writer thread (storage/writer.py), inside its transaction: each one whole or not
at all, and each change appends its event in the same transaction.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from storage import reference
from storage.clock import to_text, utcnow
from storage.conn import Connection
from storage.models import (
    CollectionRun,
    EventType,
    Indicator,
    RunOutcome,
    RunResult,
    RunTrigger,
)
from storage.rows import OPEN_END, OPEN_START, RUN_COLUMNS, run_from_row


class ConstraintError(Exception):
    """A write the database refused as wrong: a unique, foreign key or check constraint, or a trigger
    refusing the change (the append-only tables). The operation's fault, not the database's: the
    writer rolls back its savepoint and commits the rest of the group. Raised on both engines alike;
    the engine's own exception (``sqlite3.IntegrityError``, ``psycopg.IntegrityError``, ...) is its
    ``__cause__``."""


class StoreError(RuntimeError):
    """A request the store refuses, with a message fit for the user."""


class StoreUnavailable(StoreError):
    """The database cannot be written just now (disk full, I/O error, locked for too long).

    Nothing of the operation was written; the store says so in ``/readyz`` and an alert, and
    recovers on its own once writes succeed again.
    """


# --- start, reference data -------------------------------------------------------------------------


def first_start(conn: Connection, extra: Sequence[Indicator]) -> str:
    """The database's epoch (made on first start), with the shipped reference data loaded."""
    # Several processes may open a new PostgreSQL database at once: the first insert wins, the others
    # read its epoch (one epoch for the whole deployment, so a client resumes on any feed process).
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('epoch', ?) ON CONFLICT (key) DO NOTHING", (secrets.token_hex(8),)
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('created_at', ?) ON CONFLICT (key) DO NOTHING", (to_text(utcnow()),)
    )
    epoch = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
    sync_reference(conn, list(extra))
    return str(epoch)


def sync_reference(conn: Connection, extra: list[Indicator]) -> None:
    """Load the shipped reference data (new rows added, changed rows updated; nothing removed)."""
    conn.executemany(
        "INSERT INTO categories (code, name_vi, name_en) VALUES (?,?,?) "
        "ON CONFLICT (code) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en",
        [(c.code, c.name_vi, c.name_en) for c in reference.load_categories()],
    )
    conn.executemany(
        """INSERT INTO agencies (code, name_vi, name_en, kind, valid_from, valid_to, successor_code) VALUES (?,?,?,?,?,?,?)
           ON CONFLICT (code) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en, kind = excluded.kind,
           valid_from = excluded.valid_from, valid_to = excluded.valid_to, successor_code = excluded.successor_code""",
        [
            (a.code, a.name_vi, a.name_en, a.kind, _open(a.valid_from, OPEN_START), _open(a.valid_to, OPEN_END),
             a.successor_code)
            for a in reference.load_agencies()
        ],
    )  # fmt: skip
    conn.executemany(
        """INSERT INTO areas (code, valid_from, valid_to, name_vi, kind, successor_code) VALUES (?,?,?,?,?,?)
           ON CONFLICT (code, valid_from) DO UPDATE SET valid_to = excluded.valid_to, name_vi = excluded.name_vi,
           kind = excluded.kind, successor_code = excluded.successor_code""",
        [
            (a.code, _open(a.valid_from, OPEN_START), _open(a.valid_to, OPEN_END), a.name_vi, a.kind, a.successor_code)
            for a in reference.load_areas()
        ],
    )
    upsert_indicators(conn, [*reference.load_indicators(), *extra])


def upsert_indicators(conn: Connection, indicators: Sequence[Indicator]) -> None:
    conn.executemany(
        """INSERT INTO indicators (code, name_vi, name_en, unit, frequency, category, owner, level, kind, formula, magnitude)
           VALUES (?,?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT (code) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en, unit = excluded.unit,
           frequency = excluded.frequency, category = excluded.category, owner = excluded.owner, level = excluded.level,
           kind = excluded.kind, formula = excluded.formula, magnitude = excluded.magnitude""",
        [
            (i.code, i.name_vi, i.name_en, i.unit, i.frequency.value, i.category, i.owner, i.level.value, i.kind.value,
             i.formula, i.magnitude)
            for i in indicators
        ],
    )  # fmt: skip


def _open(d: date | None, open_value: str) -> str:
    return d.isoformat() if d else open_value


# --- events, cursors ---------------------------------------------------------------------------------


def event(conn: Connection, type_: EventType, payload: dict[str, Any]) -> int:
    cur = conn.execute(
        "INSERT INTO events (type, at, payload) VALUES (?, ?, ?) RETURNING seq",
        (type_.value, to_text(utcnow()), json.dumps(payload, ensure_ascii=False, default=str)),
    )
    return int(cur.fetchone()[0])


def prune_events(conn: Connection, keep_after: datetime) -> int:
    cur = conn.execute(
        "DELETE FROM events WHERE at < ? AND seq < (SELECT max(seq) FROM events)", (to_text(keep_after),)
    )
    return cur.rowcount


def reset_cursor(conn: Connection, source: str) -> None:
    conn.execute("DELETE FROM source_state WHERE source = ?", (source,))


# --- collection runs ----------------------------------------------------------------------------------


class RunFinish(RunResult):
    """How a run ended (``outcome``), and what it did."""

    outcome: RunOutcome

    def fields(self) -> dict[str, Any]:
        """The run record's result columns, as ``store.runs.finish`` takes them."""
        return self.model_dump(include=set(RunResult.model_fields))


# "fetched = :fetched, new = :new, ...": every result field of the run record, none restated.
_RESULT_SET = ", ".join(f"{name} = :{name}" for name in RunResult.model_fields)


def start_run(
    conn: Connection, source: str, trigger: RunTrigger, requested_by: str | None, owner: str | None = None
) -> CollectionRun:
    """A new run, 'running', begun by the process ``owner`` (see storage/lock.py)."""
    row = conn.execute(
        f"""INSERT INTO runs (source, trigger, requested_by, started_at, pid, owner) VALUES (?,?,?,?,?,?)
            RETURNING {RUN_COLUMNS}""",
        (source, trigger.value, requested_by, to_text(utcnow()), os.getpid(), owner),
    ).fetchone()
    run = run_from_row(row)
    event(conn, EventType.RUN_STARTED, run.model_dump(mode="json"))
    return run


def record_unstarted(
    conn: Connection,
    source: str,
    trigger: RunTrigger,
    requested_by: str | None,
    at: datetime,
    error: str,
    owner: str | None,
) -> CollectionRun:
    """A run that could not begin at ``at`` (the database could not be written), recorded once it can."""
    row = conn.execute(
        f"""INSERT INTO runs (source, trigger, requested_by, started_at, ended_at, outcome, error, pid, owner)
            VALUES (?,?,?,?,?,'failed',?,?,?) RETURNING {RUN_COLUMNS}""",
        (source, trigger.value, requested_by, to_text(at), to_text(at), error, os.getpid(), owner),
    ).fetchone()
    run = run_from_row(row)
    event(conn, EventType.RUN_STARTED, run.model_dump(mode="json"))
    event(conn, EventType.RUN_FINISHED, run.model_dump(mode="json"))
    return run


def finish_run(conn: Connection, run_id: int, outcome: RunOutcome, **fields: Any) -> CollectionRun:
    row = conn.execute(
        f"""UPDATE runs SET ended_at = :ended_at, outcome = :outcome, {_RESULT_SET}
           WHERE id = :id AND outcome = 'running' RETURNING {RUN_COLUMNS}""",
        {"ended_at": to_text(utcnow()), "outcome": outcome.value, "id": run_id, **fields},
    ).fetchone()
    if row is None:
        raise StoreError(f"run {run_id} is not running")
    run = run_from_row(row)
    event(conn, EventType.RUN_FINISHED, run.model_dump(mode="json"))
    return run


def mark_interrupted(conn: Connection, alive: Callable[[str | None], bool]) -> list[CollectionRun]:
    """Close runs left 'running' by processes for which ``alive(owner)`` is false."""
    done = []
    for run_id, owner in conn.execute("SELECT id, owner FROM runs WHERE outcome = 'running'").fetchall():
        if alive(owner):
            continue
        row = conn.execute(
            f"UPDATE runs SET outcome = 'interrupted', ended_at = ?, error = ? WHERE id = ? RETURNING {RUN_COLUMNS}",
            (to_text(utcnow()), "interrupted: the collecting process stopped before the run finished", run_id),
        ).fetchone()
        run = run_from_row(row)
        event(conn, EventType.RUN_FINISHED, run.model_dump(mode="json"))
        done.append(run)
    return done
