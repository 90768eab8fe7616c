"""The alert life cycle, as plain functions of a ``Connection`` run in the writer thread.

As Prometheus and Alertmanager users expect:

- **pending → firing**: a rule may hold an alert for a ``for`` duration; it fires once its condition
  has held that long (on the rule's next call or on the timer pass, ``tick``), and a pending alert
  whose condition clears is resolved without ever firing;
- **acknowledged**: by a person, with a note (audited);
- **resolved**, with **hysteresis**: a firing alert whose condition clears stays firing for
  ``keep_firing_for``; if the condition comes back meanwhile nothing happens at all, so flapping
  input does not flap the alert;
- **one open alert per (rule, subject)** (a unique index);
- **inhibition**: a firing alert of a source rule mutes the open alerts of its target rules that
  share its labels (a source that is down mutes its own late-report and stale alerts);
- **silences** with an expiry, set by an admin: matching open alerts are muted until it ends.

A muted alert keeps its state and still changes: muting only says why nobody is paged for it
(``inhibited_by``, ``silenced_by``). Every transition (state or muting) is a row of
``alert_transitions`` and an ``alert`` event, written in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storage import audit as audit_log
from storage.clock import from_text, to_text, utcnow
from storage.conn import Connection
from storage.models import Alert, AlertParams, AlertState, EventType, Severity, Silence, SilenceMatch
from storage.rows import ALERT_COLUMNS, alert_from_row
from storage.writes import StoreError, event


class AlertError(StoreError):
    """A request about alerts or silences the store refuses, with a message fit for the user."""


@dataclass(frozen=True)
class Inhibition:
    """While an alert of one of ``sources`` fires (or is acknowledged), open alerts of ``targets``
    are muted whose params match its own on every label of one of the ``equal`` sets (set on both)."""

    sources: frozenset[str]
    targets: frozenset[str]
    equal: tuple[tuple[str, ...], ...] = (("source",),)

    def mutes(self, by: Alert, target: Alert) -> bool:
        if by.rule not in self.sources or target.rule not in self.targets or by.id == target.id:
            return False
        if by.state not in (AlertState.FIRING, AlertState.ACKNOWLEDGED):
            return False
        return any(self._same(by, target, labels) for labels in self.equal)

    @staticmethod
    def _same(by: Alert, target: Alert, labels: tuple[str, ...]) -> bool:
        for label in labels:
            have = getattr(by.params, label)
            if have is None or getattr(target.params, label) != have:
                return False
        return bool(labels)


# The rule codes the built-in inhibition names. The rules themselves live in ``collectors``; the
# store only needs their codes to mute one by another in the transaction that fires it.
SOURCE_FAILING = "source.failing"
SOURCE_DOWN = "source.down"
REPORT_LATE = "report.late"
DATA_STALE = "data.stale"
DEFAULT_INHIBITIONS: tuple[Inhibition, ...] = (
    # A source that is down (failing runs, or no answer at all) mutes its own late-report and stale
    # alerts: they say the same thing again, and the source's alert is the one to act on. "Its own":
    # the same source, or the same province (area) or agency it reports for.
    Inhibition(
        frozenset({SOURCE_FAILING, SOURCE_DOWN}),
        frozenset({REPORT_LATE, DATA_STALE}),
        (("source",), ("area",), ("agency",)),
    ),
    # A source that is down (its circuit open) mutes its own failing-source alert: one page, not two.
    Inhibition(frozenset({SOURCE_DOWN}), frozenset({SOURCE_FAILING})),
)

_COLUMNS = f"{ALERT_COLUMNS}, fire_after, keep_firing_s, cleared_at"
_OPEN = "state != 'resolved'"


@dataclass(frozen=True)
class _Row:
    alert: Alert
    fire_after: datetime | None
    keep_firing_s: float
    cleared_at: datetime | None


def _row(r: Sequence[Any]) -> _Row:
    n = len(r) - 3
    return _Row(
        alert_from_row(r[:n]),
        from_text(r[n]) if r[n] else None,
        float(r[n + 1]),
        from_text(r[n + 2]) if r[n + 2] else None,
    )


def _open_row(conn: Connection, rule: str, subject: str) -> _Row | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE rule = ? AND subject = ? AND {_OPEN}", (rule, subject))
    found = row.fetchone()
    return _row(found) if found else None


def get(conn: Connection, alert_id: int) -> Alert:
    row = conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        raise AlertError(f"no alert {alert_id}")
    return alert_from_row(row)


def _event(conn: Connection, alert: Alert) -> None:
    event(conn, EventType.ALERT, alert.model_dump(mode="json"))


def _muted_text(alert: Alert) -> str | None:
    if alert.inhibited_by is not None:
        return f"inhibited:{alert.inhibited_by}"
    if alert.silenced_by is not None:
        return f"silenced:{alert.silenced_by}"
    return None


def _transition(conn: Connection, alert: Alert, at: datetime, actor: str | None = None) -> None:
    conn.execute(
        "INSERT INTO alert_transitions (alert_id, at, state, muted, actor) VALUES (?,?,?,?,?)",
        (alert.id, to_text(at), alert.state.value, _muted_text(alert), actor),
    )


def _change(
    conn: Connection, alert_id: int, assignments: str, args: tuple[Any, ...], now: datetime, actor: str | None = None
) -> Alert:
    """``UPDATE alerts SET <assignments>`` on one alert, then its transition row and its event, in the
    transaction that changes it; returns the alert as it is now."""
    conn.execute(f"UPDATE alerts SET {assignments} WHERE id = ?", (*args, alert_id))
    changed = get(conn, alert_id)
    _transition(conn, changed, now, actor)
    _event(conn, changed)
    return changed


def _open_alerts(conn: Connection, rules: frozenset[str] | None = None) -> list[Alert]:
    rows = conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {_OPEN} ORDER BY id").fetchall()
    alerts = [alert_from_row(r) for r in rows]
    return [a for a in alerts if rules is None or a.rule in rules]


def _active_silences(conn: Connection, now: datetime) -> list[Silence]:
    sql = f"SELECT {_SILENCE_COLUMNS} FROM silences WHERE ended_at IS NULL AND ends_at > ? ORDER BY id"
    return [_silence(r) for r in conn.execute(sql, (to_text(now),)).fetchall()]


def _mutes_of(
    conn: Connection, alert: Alert, inhibitions: Sequence[Inhibition], now: datetime
) -> tuple[int | None, int | None]:
    """(inhibited_by, silenced_by) that apply to ``alert`` now."""
    inhibited_by = None
    sources = frozenset().union(*(i.sources for i in inhibitions if alert.rule in i.targets))
    if sources:
        # Named by an alert that is itself not muted, if any: the page people see (a source's failing
        # alert, muted by its being down, would send them to a muted alert).
        for by in sorted(_open_alerts(conn, sources), key=lambda a: a.inhibited_by is not None):
            if any(i.mutes(by, alert) for i in inhibitions):
                inhibited_by = by.id
                break
    silenced_by = next((s.id for s in _active_silences(conn, now) if s.match.matches(alert)), None)
    return inhibited_by, silenced_by


def _refresh_mute(
    conn: Connection, alert: Alert, inhibitions: Sequence[Inhibition], now: datetime, actor: str | None = None
) -> Alert | None:
    """Set the alert's muting to what applies now; if it changed: a transition and an event."""
    inhibited_by, silenced_by = _mutes_of(conn, alert, inhibitions, now)
    if (inhibited_by, silenced_by) == (alert.inhibited_by, alert.silenced_by):
        return None
    assignments = "inhibited_by = ?, silenced_by = ?, updated_at = ?"
    return _change(conn, alert.id, assignments, (inhibited_by, silenced_by, to_text(now)), now, actor)


def _refresh_targets(conn: Connection, by: Alert, inhibitions: Sequence[Inhibition], now: datetime) -> list[Alert]:
    """After ``by`` (a source rule's alert) fired or resolved: the muting of the alerts it may mute."""
    targets = frozenset().union(*(i.targets for i in inhibitions if by.rule in i.sources))
    if not targets:
        return []
    return [a for t in _open_alerts(conn, targets) if (a := _refresh_mute(conn, t, inhibitions, now)) is not None]


def fire(
    conn: Connection,
    rule: str,
    subject: str,
    severity: Severity,
    message: str,
    pending: bool = False,
    params: AlertParams | None = None,
    detail: str | None = None,
    for_: timedelta | None = None,
    keep_firing_for: timedelta | None = None,
    inhibitions: Sequence[Inhibition] = DEFAULT_INHIBITIONS,
    message_en: str | None = None,
) -> Alert | None:
    """The condition of ``rule`` on ``subject`` holds now. Opens the alert (pending while ``for_``
    has not passed, or until fired without ``pending``), fires a pending one that is due, updates
    its wording, and ends a clearing in progress. Returns the alert if anything visible changed."""
    now = utcnow()
    text = to_text(now)
    params = params or AlertParams()
    params_json = params.model_dump_json(exclude_none=True)
    hold = for_ if for_ is not None and for_ > timedelta(0) else None
    keep = keep_firing_for.total_seconds() if keep_firing_for is not None else 0.0
    if keep < 0:
        raise AlertError("keep_firing_for may not be negative")
    existing = _open_row(conn, rule, subject)
    if existing is None:
        held = pending or hold is not None
        state = AlertState.PENDING if held else AlertState.FIRING
        fire_after = to_text(now + hold) if hold is not None and not pending else None
        cur = conn.execute(
            """INSERT INTO alerts (rule, subject, severity, state, message, opened_at, fired_at, updated_at,
                                   params, detail, fire_after, keep_firing_s, message_en)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id""",
            (rule, subject, severity.value, state.value, message, text, None if held else text, text,
             params_json, detail, fire_after, keep, message_en),
        )  # fmt: skip
        alert = get(conn, int(cur.fetchone()[0]))
        inhibited_by, silenced_by = _mutes_of(conn, alert, inhibitions, now)
        if inhibited_by is not None or silenced_by is not None:
            conn.execute(
                "UPDATE alerts SET inhibited_by = ?, silenced_by = ? WHERE id = ?",
                (inhibited_by, silenced_by, alert.id),
            )
            alert = get(conn, alert.id)
        _transition(conn, alert, now)
        _event(conn, alert)
        if alert.state is AlertState.FIRING:
            _refresh_targets(conn, alert, inhibitions, now)
        return alert
    old = existing.alert
    fires_at = existing.fire_after or (old.opened_at + hold if hold is not None else None)
    due = fires_at is not None and fires_at <= now
    promote = old.state is AlertState.PENDING and not pending and (hold is None or due)
    same = (old.severity, old.message, old.message_en, old.params, old.detail) == (
        severity,
        message,
        message_en,
        params,
        detail,
    )
    # The condition holds (again): a clearing in progress ends, and nothing visible happened. A pending
    # alert held without a `for` gets the one this call gives, counted from when it opened.
    fire_after = to_text(old.opened_at + hold) if hold is not None and not pending else None
    conn.execute(
        "UPDATE alerts SET cleared_at = NULL, keep_firing_s = ?, fire_after = COALESCE(fire_after, ?) WHERE id = ?",
        (keep, fire_after, old.id),
    )
    if not promote and same:
        return None
    conn.execute(
        """UPDATE alerts SET severity = ?, message = ?, message_en = ?, params = ?, detail = ?, updated_at = ?,
           state = CASE WHEN ? THEN 'firing' ELSE state END,
           fired_at = CASE WHEN ? THEN ? ELSE fired_at END WHERE id = ?""",
        (severity.value, message, message_en, params_json, detail, text, promote, promote, text, old.id),
    )
    alert = get(conn, old.id)
    if promote:
        _transition(conn, alert, now)
    if (muted := _refresh_mute(conn, alert, inhibitions, now)) is not None:
        alert = muted  # its event is written
    else:
        _event(conn, alert)
    if promote:
        _refresh_targets(conn, alert, inhibitions, now)
    return alert


def resolve(
    conn: Connection, rule: str, subject: str, inhibitions: Sequence[Inhibition] = DEFAULT_INHIBITIONS
) -> tuple[Alert | None, bool]:
    """The condition of ``rule`` on ``subject`` is clear now. Returns (the resolved alert, or None;
    whether an alert stays open: a firing one within its ``keep_firing_for``)."""
    existing = _open_row(conn, rule, subject)
    if existing is None:
        return None, False
    now = utcnow()
    if existing.alert.state is not AlertState.PENDING and existing.keep_firing_s > 0:
        if existing.cleared_at is None:
            conn.execute("UPDATE alerts SET cleared_at = ? WHERE id = ?", (to_text(now), existing.alert.id))
            return None, True
        if (now - existing.cleared_at).total_seconds() < existing.keep_firing_s:
            return None, True
    return _resolve(conn, existing.alert, now, inhibitions), False


def _resolve(conn: Connection, alert: Alert, now: datetime, inhibitions: Sequence[Inhibition]) -> Alert:
    text = to_text(now)
    assignments = "state = 'resolved', resolved_at = ?, updated_at = ?, cleared_at = NULL"
    resolved = _change(conn, alert.id, assignments, (text, text), now)
    _refresh_targets(conn, resolved, inhibitions, now)
    return resolved


def acknowledge(conn: Connection, alert_id: int, actor: str, role: str, note: str, details: dict[str, Any]) -> Alert:
    """Acknowledge an open alert, written to the audit log in the same transaction."""
    now = utcnow()
    alert = get(conn, alert_id)
    if alert.state not in (AlertState.PENDING, AlertState.FIRING):
        raise AlertError(f"alert {alert_id} is {alert.state.value}; only a pending or firing alert can be acknowledged")
    audit_log.append(conn, now, actor, role, "alert.acknowledge", f"alert:{alert_id}", {"note": note, **details})
    assignments = "state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, ack_note = ?, updated_at = ?"
    return _change(conn, alert_id, assignments, (to_text(now), actor, note, to_text(now)), now, actor)


def tick(conn: Connection, inhibitions: Sequence[Inhibition] = DEFAULT_INHIBITIONS) -> list[Alert]:
    """The timer pass: fire pending alerts whose ``for`` has passed, resolve alerts that have stayed
    clear for their ``keep_firing_for``, and end expired silences. Returns the alerts that changed."""
    now = utcnow()
    text = to_text(now)
    changed: list[Alert] = []
    due = conn.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE state = 'pending' AND fire_after <= ? AND cleared_at IS NULL",
        (text,),
    ).fetchall()
    for r in due:
        alert = _change(conn, _row(r).alert.id, "state = 'firing', fired_at = ?, updated_at = ?", (text, text), now)
        changed.append(alert)
        changed += _refresh_targets(conn, alert, inhibitions, now)
    clear = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE {_OPEN} AND cleared_at IS NOT NULL").fetchall()
    for r in clear:
        row = _row(r)
        assert row.cleared_at is not None
        if (now - row.cleared_at).total_seconds() >= row.keep_firing_s:
            changed.append(_resolve(conn, row.alert, now, inhibitions))
    expired = conn.execute(
        "SELECT id, ends_at FROM silences WHERE ended_at IS NULL AND ends_at <= ?", (text,)
    ).fetchall()
    if expired:
        conn.executemany("UPDATE silences SET ended_at = ends_at WHERE id = ?", [(r[0],) for r in expired])
        changed += _refresh_all(conn, inhibitions, now)
    return changed


def _refresh_all(
    conn: Connection, inhibitions: Sequence[Inhibition], now: datetime, actor: str | None = None
) -> list[Alert]:
    return [a for o in _open_alerts(conn) if (a := _refresh_mute(conn, o, inhibitions, now, actor)) is not None]


# --- silences ------------------------------------------------------------------------------------------------

_SILENCE_COLUMNS = "id, matchers, comment, created_by, created_at, ends_at, ended_at, ended_by"


def _silence(r: Sequence[Any]) -> Silence:
    return Silence(
        id=r[0], match=SilenceMatch.model_validate_json(r[1]), comment=r[2], created_by=r[3],
        created_at=from_text(r[4]), ends_at=from_text(r[5]), ended_at=from_text(r[6]) if r[6] else None,
        ended_by=r[7],
    )  # fmt: skip


def silence(
    conn: Connection,
    match: SilenceMatch,
    ends_at: datetime,
    comment: str,
    actor: str,
    role: str,
    details: dict[str, Any],
    inhibitions: Sequence[Inhibition] = DEFAULT_INHIBITIONS,
) -> tuple[Silence, list[Alert]]:
    """Create a silence (audited as ``alert.silence`` in the same transaction); returns it and the
    open alerts it muted."""
    now = utcnow()
    if not match.model_dump(exclude_none=True):
        raise AlertError("a silence needs at least one matcher (rule, subject, source, agency, area or indicator)")
    if ends_at.tzinfo is None:
        raise AlertError("a silence's end needs a time zone")
    if ends_at <= now:
        raise AlertError(
            f"a silence must end in the future (it would end at {to_text(ends_at)}, now is {to_text(now)})"
        )
    if not comment.strip():
        raise AlertError("a silence needs a comment: why these alerts may be muted")
    cur = conn.execute(
        "INSERT INTO silences (matchers, comment, created_by, created_at, ends_at) VALUES (?,?,?,?,?) RETURNING id",
        (match.model_dump_json(exclude_none=True), comment, actor, to_text(now), to_text(ends_at)),
    )
    silence_id = int(cur.fetchone()[0])
    audit_log.append(
        conn,
        now,
        actor,
        role,
        "alert.silence",
        f"silence:{silence_id}",
        {**details, "match": match.model_dump(exclude_none=True), "ends_at": to_text(ends_at), "comment": comment},
    )
    muted = _refresh_all(conn, inhibitions, now, actor)
    return get_silence(conn, silence_id), muted


def unsilence(
    conn: Connection,
    silence_id: int,
    actor: str,
    role: str,
    details: dict[str, Any],
    inhibitions: Sequence[Inhibition] = DEFAULT_INHIBITIONS,
) -> tuple[Silence, list[Alert]]:
    """End an active silence now (audited as ``silence.remove``); returns it and the alerts it no longer mutes."""
    now = utcnow()
    found = get_silence(conn, silence_id)
    if found.ended_at is not None or found.ends_at <= now:
        raise AlertError(f"silence {silence_id} has already ended")
    conn.execute("UPDATE silences SET ended_at = ?, ended_by = ? WHERE id = ?", (to_text(now), actor, silence_id))
    audit_log.append(conn, now, actor, role, "silence.remove", f"silence:{silence_id}", details)
    unmuted = _refresh_all(conn, inhibitions, now, actor)
    return get_silence(conn, silence_id), unmuted


def get_silence(conn: Connection, silence_id: int) -> Silence:
    row = conn.execute(f"SELECT {_SILENCE_COLUMNS} FROM silences WHERE id = ?", (silence_id,)).fetchone()
    if row is None:
        raise AlertError(f"no silence {silence_id}")
    return _silence(row)


SILENCE_COLUMNS = _SILENCE_COLUMNS
silence_from_row = _silence
