"""`opscentre alerts` (read from the database) and `opscentre silence add|list|remove` (set and
removed through the running server as admin, so that the feed's audit log records who and why)."""

from __future__ import annotations

import json
import re
import secrets
import ssl
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cli.feed_collect import _ws_log, feed_errors
from feed.protocol import SERVER_MESSAGE, Filter, Hello, Result, Silenced, SilenceInfo, Unsilenced
from storage import Alert, AlertState, Severity, Store
from storage.models import Silence, SilenceMatch
from wording import Lang, Names, alert_text_or, durations, label


class AlertsError(RuntimeError):
    """A problem the user can fix (printed without a traceback)."""


MATCHERS = tuple(SilenceMatch.model_fields)
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d12h``: a silence's length (wording/durations.py)."""
    try:
        return durations.parse_duration(text)
    except ValueError as exc:
        raise AlertsError(f"invalid duration: {exc}") from None


def parse_matchers(items: list[str]) -> dict[str, str]:
    """``rule=report.late area=01`` → the silence's matchers, each name known and given once."""
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise AlertsError(f"invalid matcher {item!r}: write NAME=VALUE, NAME one of {', '.join(MATCHERS)}")
        if name not in MATCHERS:
            raise AlertsError(f"unknown matcher {name!r}: use {', '.join(MATCHERS)}")
        if name in found:
            raise AlertsError(f"matcher {name!r} given twice")
        found[name] = value
    if not found:
        raise AlertsError(f"say what to silence: --match NAME=VALUE (NAME one of {', '.join(MATCHERS)})")
    return found


def alert_text_of(alert: Alert, lang: Lang, names: Names) -> str:
    """The alert's text in ``lang`` from the catalogue; the stored text where the catalogue cannot word it."""
    stored = alert.message_en if lang == "en" and alert.message_en else alert.message
    return alert_text_or(
        stored, alert.rule, alert.params.model_dump(exclude_none=True), lang, names,
        subject=alert.subject, severity=alert.severity.value,
    )  # fmt: skip


def _muted(alert: Alert) -> str:
    if alert.inhibited_by is not None:
        return f"inhibited by #{alert.inhibited_by}"
    if alert.silenced_by is not None:
        return f"silenced (#{alert.silenced_by})"
    return ""


async def list_alerts(
    store: Store,
    console: Console,
    *,
    states: list[str],
    severities: list[str],
    everything: bool,
    limit: int,
    as_json: bool,
    lang: Lang = "vi",
) -> int:
    """The alerts worded in ``lang`` from the one catalogue (wording/alerts.py), as the console and the
    wall page word them."""
    alerts = await store.alerts.listed(
        open_only=not everything and not states,
        limit=limit,
        states=[AlertState(s) for s in states],
        severities=[Severity(s) for s in severities],
    )
    names = await store.reference.names()
    texts = [alert_text_of(a, lang, names) for a in alerts]
    if as_json:
        rows = [{**a.model_dump(mode="json"), "text": t} for a, t in zip(alerts, texts, strict=True)]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not alerts:
        console.print("no alerts" + (" of that kind" if states or severities else " open"))
        return 0
    table = Table("id", "state", "severity", "rule", "subject", "alert", "since (UTC)", "muted")
    for a, text in zip(alerts, texts, strict=True):
        since = a.resolved_at or a.acknowledged_at or a.fired_at or a.opened_at
        state = label(f"state.{a.state.value}", lang)
        state += f" ({a.acknowledged_by})" if a.state is AlertState.ACKNOWLEDGED else ""
        # Escaped: rich reads "[mof]" in a text as a markup tag.
        table.add_row(
            str(a.id), state, label(f"severity.{a.severity.value}", lang), a.rule, escape(a.subject), escape(text),
            since.strftime("%Y-%m-%d %H:%M:%S"), _muted(a),
        )  # fmt: skip
    console.print(table)
    return 0


def _silence_row(s: Silence | SilenceInfo) -> tuple[str, ...]:
    match = " ".join(f"{k}={v}" for k, v in s.match.model_dump(exclude_none=True).items())
    ended = s.ended_at.strftime("%Y-%m-%d %H:%M:%S") if s.ended_at else ""
    if s.ended_by:
        ended += f" by {s.ended_by}"
    return (str(s.id), match, s.ends_at.strftime("%Y-%m-%d %H:%M:%S"), ended, s.created_by, s.comment)


async def list_silences(store: Store, console: Console, *, everything: bool, as_json: bool) -> int:
    silences = await store.alerts.silences(active_only=not everything, limit=1000)
    if as_json:
        print(
            json.dumps([s.model_dump(mode="json", exclude_none=True) for s in silences], ensure_ascii=False, indent=2)
        )
        return 0
    if not silences:
        console.print("no silences" + ("" if everything else " active"))
        return 0
    table = Table("id", "match", "ends (UTC)", "ended", "by", "comment")
    for s in silences:
        table.add_row(*_silence_row(s))
    console.print(table)
    return 0


async def command_via_feed(url: str, token: str, command: dict[str, Any], cafile: str | None = None) -> Result:
    """Send one admin command over the feed and return its answer; refusals raise AlertsError."""
    tls = ssl.create_default_context(cafile=cafile) if url.startswith("wss:") else None
    request = f"{command['name']}-{secrets.token_hex(4)}"
    try:
        with feed_errors(url, AlertsError, "is the server running?"):
            async with connect(
                url, additional_headers={"Authorization": f"Bearer {token}"}, ssl=tls, compression=None, logger=_ws_log
            ) as ws:
                await ws.send(Hello(filter=Filter(observations=False)).model_dump_json(exclude_none=True))
                async for raw in ws:
                    message = SERVER_MESSAGE.validate_json(raw)
                    if message.type == "welcome" and message.role != "admin":
                        raise AlertsError(
                            f"the token belongs to {message.user} ({message.role.value}); this needs admin"
                        )
                    if message.type == "snapshot":
                        key = f"{request}-{secrets.token_hex(8)}"
                        await ws.send(
                            json.dumps({"type": "command", "id": request, "idempotency_key": key, "command": command})
                        )
                    elif message.type == "error" and message.id == request:
                        raise AlertsError(f"refused: {message.message}")
                    elif isinstance(message, Result) and message.id == request:
                        return message
    except ConnectionClosed:
        pass
    raise AlertsError("the feed connection ended before the answer came")


async def add_silence(
    url: str,
    token: str,
    console: Console,
    *,
    match: dict[str, str],
    duration: timedelta,
    comment: str,
    cafile: str | None,
) -> int:
    command = {"name": "silence", "match": match, "duration": int(duration.total_seconds()), "comment": comment}
    answer = await command_via_feed(url, token, command, cafile)
    if not isinstance(answer.data, Silenced):
        raise AlertsError(f"unexpected answer: {answer.data.kind}")
    s = answer.data.silence
    muted = answer.data.muted
    console.print(
        f"silence #{s.id} until {s.ends_at.strftime('%Y-%m-%d %H:%M:%S')} UTC; "
        f"{len(muted)} open alert{'s' if len(muted) != 1 else ''} muted"
        + (f" ({', '.join(f'#{i}' for i in muted)})" if muted else ""),
        markup=False,
    )
    return 0


async def remove_silence(url: str, token: str, console: Console, *, silence_id: int, cafile: str | None) -> int:
    answer = await command_via_feed(url, token, {"name": "unsilence", "silence_id": silence_id}, cafile)
    if not isinstance(answer.data, Unsilenced):
        raise AlertsError(f"unexpected answer: {answer.data.kind}")
    unmuted = answer.data.unmuted
    console.print(f"silence #{silence_id} removed; {len(unmuted)} alert{'s' if len(unmuted) != 1 else ''} unmuted")
    return 0
