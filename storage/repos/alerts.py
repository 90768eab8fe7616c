"""Alerts and silences (the life cycle itself is storage/alerting.py, run in the writer)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from storage import alerting
from storage.alerting import DEFAULT_INHIBITIONS, Inhibition
from storage.clock import from_text, to_text, utcnow
from storage.models import (
    Alert,
    AlertParams,
    AlertState,
    Severity,
    Silence,
    SilenceMatch,
)
from storage.repos.base import StoreState
from storage.repos.reference import Reference
from storage.rows import (
    ALERT_COLUMNS,
    alert_from_row,
)
from wording import LANGS, RULES, Missing, Names, alert_text, label

log = logging.getLogger(__name__)


class Alerts:
    """The texts of alerts name what the codes stand for (``reference.names()``)."""

    def __init__(self, state: StoreState, reference: Reference) -> None:
        self._state = state
        self._reference = reference
        # (rule, subject) of the open alerts: resolving one that is not open costs no write. This
        # process is the one that writes alerts (the server); the set is read back on every open.
        self.open_keys: set[tuple[str, str]] = set()
        # Which firing alerts mute which others (storage/alerting.py); a server may set its own.
        self.inhibitions: tuple[Inhibition, ...] = DEFAULT_INHIBITIONS
        # Each (rule, subject)'s last texts and what they were worded from (severity, params, names):
        # a rule fires its alert again on every pass while the condition holds, mostly with the same
        # params, and wording it (numbers through Babel) cost more than the rest of the pass. Dropped
        # when the alert resolves, so it holds no more than the alerts open.
        self._worded: dict[tuple[str, str], tuple[tuple[Severity, AlertParams, Names], tuple[str, str | None]]] = {}

    async def read_open(self) -> None:
        """Read back which alerts are open (``Store.open``)."""
        self.open_keys = {(a.rule, a.subject) for a in await self.listed(limit=100_000)}

    async def fire(
        self,
        rule: str,
        subject: str,
        severity: Severity,
        message: str | None = None,
        *,
        pending: bool = False,
        params: AlertParams | None = None,
        detail: str | None = None,
        for_: timedelta | None = None,
        keep_firing_for: timedelta | None = None,
    ) -> Alert | None:
        """The condition of ``rule`` on ``subject`` holds: open (or update) its alert. Returns it if
        anything visible changed.

        ``for_``: the alert stays pending until the condition has held that long (a later call or
        the timer pass, ``tick``, fires it). ``keep_firing_for``: once firing, it is resolved
        only after its condition has stayed clear that long (hysteresis: flapping input does not
        flap it). ``pending``: held pending until a call without it.

        The texts (Vietnamese ``message``, ``message_en``) are rendered here from ``rule`` and ``params``
        by the one wording catalogue (wording/alerts.py). ``message`` is only for a rule the catalogue
        does not word (or params too few for its text): it never holds a URL or an exception's text,
        which go to ``detail``."""
        vi, en = await self.texts(rule, subject, severity, params or AlertParams(), message)
        inhibitions = self.inhibitions
        alert = await self._state.writer.run(
            lambda conn: alerting.fire(
                conn, rule, subject, severity, vi, pending, params, detail, for_, keep_firing_for, inhibitions, en
            )
        )
        self.open_keys.add((rule, subject))
        return alert

    async def texts(
        self, rule: str, subject: str, severity: Severity, params: AlertParams, fallback: str | None = None
    ) -> tuple[str, str | None]:
        """An alert's text in Vietnamese and English, from the catalogue. Where the catalogue cannot word
        it: ``fallback`` in Vietnamese, and in English the rule and subject ("Alert x.y: subject")."""
        if fallback is not None and rule not in RULES:  # a rule the catalogue does not word (a test's, a plug-in's)
            return fallback, self._unknown(rule, subject)
        names = await self._reference.names()
        kept = self._worded.get((rule, subject))
        if kept is not None and kept[0][2] is names and kept[0][:2] == (severity, params):
            return kept[1]
        values = params.model_dump(exclude_none=True)
        try:
            vi, en = (alert_text(rule, values, lang, names, subject=subject, severity=severity.value) for lang in LANGS)
        except Missing as exc:
            if fallback is not None:
                return fallback, self._unknown(rule, subject)
            # A rule fired without a param its text needs: a defect, but the alert must not be lost.
            log.warning("alert %s on %s: its text needs the param %r", rule, subject, exc.args[0])
            return label("unknown", "vi", rule=rule, subject=subject), self._unknown(rule, subject)
        self._worded[(rule, subject)] = ((severity, params, names), (vi, en))
        return vi, en

    @staticmethod
    def _unknown(rule: str, subject: str) -> str:
        """The English text of an alert the catalogue cannot word: its rule and subject."""
        return label("unknown", "en", rule=rule, subject=subject)

    async def resolve(self, rule: str, subject: str) -> Alert | None:
        """The condition of ``rule`` on ``subject`` is clear: resolve its alert (a firing one once it
        has stayed clear for its ``keep_firing_for``). Returns it if it was resolved now."""
        if (rule, subject) not in self.open_keys:
            return None
        inhibitions = self.inhibitions
        alert, still_open = await self._state.writer.run(
            lambda conn: alerting.resolve(conn, rule, subject, inhibitions)
        )
        if not still_open:
            self.open_keys.discard((rule, subject))
            self._worded.pop((rule, subject), None)
        return alert

    async def tick(self) -> list[Alert]:
        """The timer pass of the alert life cycle: pending alerts whose ``for`` passed fire, alerts
        clear for their ``keep_firing_for`` resolve, expired silences end. Returns what changed."""
        inhibitions = self.inhibitions
        changed = await self._state.writer.run(lambda conn: alerting.tick(conn, inhibitions))
        for a in changed:
            if a.state is AlertState.RESOLVED:
                self.open_keys.discard((a.rule, a.subject))
                self._worded.pop((a.rule, a.subject), None)
        return changed

    async def acknowledge(
        self, alert_id: int, actor: str, role: str, note: str = "", details: dict[str, Any] | None = None
    ) -> Alert:
        """Acknowledge an open alert; the action is written to the audit log in the same transaction."""
        extra = details or {}
        return await self._state.writer.run(lambda conn: alerting.acknowledge(conn, alert_id, actor, role, note, extra))

    async def listed(
        self,
        *,
        open_only: bool = True,
        limit: int = 200,
        states: Iterable[AlertState] = (),
        severities: Iterable[Severity] = (),
        before: int | None = None,
    ) -> list[Alert]:
        """The newest alerts first: open ones only, or of the given states and severities; older
        than alert ``before`` if given (the next page)."""
        where: list[str] = []
        args: list[Any] = []
        if before is not None:
            where.append("id < ?")
            args.append(before)
        if open_only:
            where.append("state != 'resolved'")
        if wanted := [s.value for s in states]:
            where.append(f"state IN ({','.join('?' * len(wanted))})")
            args += wanted
        if levels := [s.value for s in severities]:
            where.append(f"severity IN ({','.join('?' * len(levels))})")
            args += levels
        sql = f"SELECT {ALERT_COLUMNS} FROM alerts" + (f" WHERE {' AND '.join(where)}" if where else "")
        async with self._state.reader.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)) as cur:
            return [alert_from_row(r) for r in await cur.fetchall()]

    async def transitions(self, alert_id: int) -> list[tuple[datetime, AlertState, str | None, str | None]]:
        """Every transition of an alert, oldest first: (when, state, muted by, who)."""
        sql = "SELECT at, state, muted, actor FROM alert_transitions WHERE alert_id = ? ORDER BY id"
        async with self._state.reader.execute(sql, (alert_id,)) as cur:
            return [(from_text(r[0]), AlertState(r[1]), r[2], r[3]) for r in await cur.fetchall()]

    async def silence(
        self,
        match: SilenceMatch,
        ends_at: datetime,
        comment: str,
        actor: str,
        role: str,
        details: dict[str, Any] | None = None,
    ) -> tuple[Silence, list[Alert]]:
        """Mute open and future alerts matching ``match`` until ``ends_at`` (audited, ``alert.silence``).
        Returns the silence and the alerts it muted now."""
        inhibitions, extra = self.inhibitions, details or {}
        return await self._state.writer.run(
            lambda conn: alerting.silence(conn, match, ends_at, comment, actor, role, extra, inhibitions)
        )

    async def unsilence(
        self, silence_id: int, actor: str, role: str, details: dict[str, Any] | None = None
    ) -> tuple[Silence, list[Alert]]:
        """End a silence now (audited, ``silence.remove``); returns it and the alerts it no longer mutes."""
        inhibitions, extra = self.inhibitions, details or {}
        return await self._state.writer.run(
            lambda conn: alerting.unsilence(conn, silence_id, actor, role, extra, inhibitions)
        )

    async def silences(self, *, active_only: bool = True, limit: int = 200) -> list[Silence]:
        """Silences, newest first (active ones only: not ended, not expired by now)."""
        sql = f"SELECT {alerting.SILENCE_COLUMNS} FROM silences"
        args: tuple[Any, ...] = (limit,)
        if active_only:
            sql += " WHERE ended_at IS NULL AND ends_at > ?"
            args = (to_text(utcnow()), limit)
        async with self._state.reader.execute(sql + " ORDER BY id DESC LIMIT ?", args) as cur:
            return [alerting.silence_from_row(r) for r in await cur.fetchall()]
