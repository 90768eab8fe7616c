"""How the alerts view shows an alert as text: its words in each language, severity and state as a
symbol and a word, muting, the filters, and a silence's duration typed in the dialog."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import partial

from rich.text import Text

from console.numbers import fmt_time, to_lang
from console.state import ConsoleState
from console.views import word_in
from feed.protocol import AlertInfo, SilenceInfo, SilenceMatch
from wording import Names, alert_text_or, durations, label

SEVERITIES = ("critical", "warning", "info")
SEVERITY_SYMBOL = {"critical": "✖", "warning": "▲", "info": "●"}
SEVERITY_STYLE = {"critical": "bold white on dark_red", "warning": "bold black on yellow", "info": "bold cyan"}
STATE_SYMBOL = {"pending": "◌", "firing": "!", "acknowledged": "✓", "resolved": "○"}
STATE_STYLE = {"pending": "yellow", "firing": "bold red", "acknowledged": "green", "resolved": "dim"}
OPEN = ("pending", "firing", "acknowledged")
STATE_FILTERS = ("open", "firing", "acknowledged", "resolved", "all")
SEVERITY_FILTERS = ("all", "critical", "warning", "info")
ACKABLE = ("pending", "firing")
HISTORY = 500  # closed alerts asked for when a filter shows them

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "open": "chưa đóng",
        "all": "tất cả",
        "col.severity": "Mức độ",
        "col.state": "Trạng thái",
        "col.time": "Lúc",
        "col.alert": "Cảnh báo",
        "filter.state": "Trạng thái",
        "filter.severity": "Mức độ",
        "bell.on": "♪ chuông: bật",
        "bell.off": "✕ chuông: TẮT",
        "count": "{shown}/{total} cảnh báo",
        "none": "Không có cảnh báo nào khớp bộ lọc",
        "ack.title": "Xác nhận cảnh báo #{id}",
        "ack.note": "Ghi chú (việc đã làm, người đã liên hệ …)",
        "ack.hint": "Enter: xác nhận · Esc: huỷ",
        "ack.done": "Đã xác nhận cảnh báo #{id}",
        "ack.refused": "✖ Bị từ chối: {reason}",
        "ack.role": "Xác nhận cảnh báo cần vai trò operator hoặc admin (bạn: {role})",
        "ack.closed": "Cảnh báo #{id} {state}: không cần xác nhận",
        "ack.by": "Xác nhận bởi {user} lúc {time}",
        "ack.note_label": "Ghi chú",
        "detail": "Chi tiết kỹ thuật",
        "detail.none": "(không có chi tiết kỹ thuật)",
        "detail.hint": "phím {key}: xem chi tiết kỹ thuật",
        "rule": "Quy tắc {rule} · đối tượng {subject}",
        "opened": "Mở lúc {time}",
        "resolved_at": "Hết lúc {time}",
        "message": "Nguyên văn (máy chủ)",
        "col.muted": "Tạm im",
        "muted.silenced": "⊘ tạm im",
        "muted.inhibited": "⊘ bị át",
        "filter.muted": "Cảnh báo tạm im",
        "muted.shown": "hiện",
        "muted.hidden": "ẩn",
        "inhibited_by": "Bị át bởi cảnh báo #{id} (đang báo): {what}",
        "silenced_by": "Tạm im theo lệnh #{id} của {user} đến {until}: {why}",
        "silenced_by.unknown": "Tạm im theo lệnh #{id}",
        "silences": "Lệnh tạm im đang có hiệu lực ({n})",
        "silences.none": "Không có lệnh tạm im nào đang có hiệu lực",
        "col.sid": "#",
        "col.match": "Áp dụng cho",
        "col.by": "Người đặt",
        "col.until": "Đến",
        "col.why": "Lý do",
        "silence.title": "Tạm im cảnh báo #{id}: quy tắc {rule}, đối tượng {subject}",
        "silence.duration": "Thời hạn (30m, 2h, 1d; tối đa 30d)",
        "silence.comment": "Lý do (bắt buộc)",
        "silence.hint": "Enter: tạm im · Tab: ô kế · Esc: huỷ",
        "silence.bad_duration": "Thời hạn phải là số phút (m), giờ (h) hoặc ngày (d), từ 1 phút đến 30 ngày, ví dụ 2h",
        "silence.no_comment": "Hãy ghi lý do tạm im",
        "silence.done": "Đã tạm im: lệnh #{id}, đến {until} ({n} cảnh báo)",
        "silence.role": "Tạm im cần vai trò admin (bạn: {role})",
        "unsilence.done": "Đã bỏ lệnh tạm im #{id}",
        "unsilence.pick": "Mở danh sách tạm im ({key}) và chọn một lệnh để bỏ",
        "refused": "✖ Bị từ chối: {reason}",
    },
    "en": {
        "open": "open",
        "all": "all",
        "col.severity": "Severity",
        "col.state": "State",
        "col.time": "At",
        "col.alert": "Alert",
        "filter.state": "State",
        "filter.severity": "Severity",
        "bell.on": "♪ bell: on",
        "bell.off": "✕ bell: MUTED",
        "count": "{shown}/{total} alerts",
        "none": "No alert matches the filters",
        "ack.title": "Acknowledge alert #{id}",
        "ack.note": "Note (what was done, who was contacted …)",
        "ack.hint": "Enter: acknowledge · Esc: cancel",
        "ack.done": "Alert #{id} acknowledged",
        "ack.refused": "✖ Refused: {reason}",
        "ack.role": "Acknowledging needs the operator or admin role (you: {role})",
        "ack.closed": "Alert #{id} is {state}: nothing to acknowledge",
        "ack.by": "Acknowledged by {user} at {time}",
        "ack.note_label": "Note",
        "detail": "Technical detail",
        "detail.none": "(no technical detail)",
        "detail.hint": "key {key}: technical detail",
        "rule": "Rule {rule} · subject {subject}",
        "opened": "Opened at {time}",
        "resolved_at": "Resolved at {time}",
        "message": "Server's wording",
        "col.muted": "Muted",
        "muted.silenced": "⊘ silenced",
        "muted.inhibited": "⊘ inhibited",
        "filter.muted": "Muted",
        "muted.shown": "shown",
        "muted.hidden": "hidden",
        "inhibited_by": "Inhibited by alert #{id} (firing): {what}",
        "silenced_by": "Silenced by silence #{id} of {user} until {until}: {why}",
        "silenced_by.unknown": "Silenced by silence #{id}",
        "silences": "Active silences ({n})",
        "silences.none": "No active silence",
        "col.sid": "#",
        "col.match": "Matches",
        "col.by": "Set by",
        "col.until": "Until",
        "col.why": "Why",
        "silence.title": "Silence alert #{id}: rule {rule}, subject {subject}",
        "silence.duration": "For how long (30m, 2h, 1d; at most 30d)",
        "silence.comment": "Why (required)",
        "silence.hint": "Enter: silence · Tab: next field · Esc: cancel",
        "silence.bad_duration": "The duration is minutes (m), hours (h) or days (d), from 1 minute to 30 days, e.g. 2h",
        "silence.no_comment": "Say why the alert is silenced",
        "silence.done": "Silenced: silence #{id}, until {until} ({n} alerts)",
        "silence.role": "Silencing needs the admin role (you: {role})",
        "unsilence.done": "Silence #{id} ended",
        "unsilence.pick": "Open the silences ({key}) and pick the one to end",
        "refused": "✖ Refused: {reason}",
    },
}


word = partial(word_in, WORDS)


def headline(alert: AlertInfo, lang: str, names: Names) -> str:
    """The alert in words, in ``lang``, from its rule and params by the one catalogue (wording/alerts.py),
    as the server words it; the server's own text for a rule (or params) the catalogue cannot word."""
    stored = alert.message_en if lang == "en" and alert.message_en else alert.message
    return alert_text_or(
        stored, alert.rule, alert.params.model_dump(exclude_none=True), to_lang(lang), names,
        subject=alert.subject, severity=alert.severity,
    )  # fmt: skip


def severity_text(severity: str, lang: str) -> Text:
    """``✖ CRITICAL`` on red: the symbol and the word say it without the colour."""
    name = label(f"severity.{severity}", to_lang(lang)).upper() if severity in SEVERITY_SYMBOL else severity
    return Text(f"{SEVERITY_SYMBOL.get(severity, '?')} {name}", style=SEVERITY_STYLE.get(severity, ""))


def state_text(state: str, lang: str) -> Text:
    name = label(f"state.{state}", to_lang(lang)) if state in STATE_SYMBOL else state
    return Text(f"{STATE_SYMBOL.get(state, '?')} {name}", style=STATE_STYLE.get(state, ""))


def muted(alert: AlertInfo) -> bool:
    """Muted alerts keep their state; they only say nobody should be paged for them."""
    return alert.inhibited_by is not None or alert.silenced_by is not None


def muted_text(alert: AlertInfo, lang: str) -> Text:
    if alert.silenced_by is not None:
        return Text(word("muted.silenced", lang), style="dim italic")
    if alert.inhibited_by is not None:
        return Text(word("muted.inhibited", lang), style="dim italic")
    return Text("")


def shown(alert: AlertInfo, state_filter: str, severity_filter: str, hide_muted: bool = False) -> bool:
    if severity_filter != "all" and alert.severity != severity_filter:
        return False
    if hide_muted and muted(alert):
        return False
    if state_filter == "open":
        return alert.state in OPEN
    return state_filter == "all" or alert.state == state_filter


MAX_SILENCE = timedelta(days=30)  # the server's limit (feed.protocol.MAX_SILENCE_S)


def parse_duration(text: str) -> int | None:
    """``30m``, ``2h``, ``1d`` (a bare number is minutes) in seconds, by the one parser
    (wording/durations.py); None if it is not one the server takes (1 minute to 30 days)."""
    typed = text.strip().lower()
    try:
        length = durations.parse_duration(typed + "m" if typed.isdigit() else typed)
    except ValueError:
        return None
    seconds = int(length.total_seconds())
    return seconds if 60 <= seconds <= MAX_SILENCE.total_seconds() else None


def match_text(match: SilenceMatch) -> str:
    return " ".join(f"{k}={v}" for k, v in match.model_dump(exclude_none=True).items())


def newest_first(alert: AlertInfo) -> tuple[float, int]:
    moment = alert.fired_at or alert.opened_at
    return (-moment.timestamp(), -alert.id)


def alert_panel(
    alert: AlertInfo,
    state: ConsoleState,
    silences: Mapping[int, SilenceInfo],
    names: Names,
    lang: str,
    *,
    detail: bool,
    hint: str,
) -> Text:
    """The selected alert in full: its wording, who acknowledged it and why, what mutes it; the
    technical detail only with ``detail`` (else ``hint``, the key that shows it)."""
    out = Text()
    out.append_text(severity_text(alert.severity, lang))
    out.append(" ")
    out.append_text(state_text(alert.state, lang))
    out.append(f"  #{alert.id}\n")
    out.append(headline(alert, lang, names) + "\n", style="bold")
    out.append(word("rule", lang, rule=alert.rule, subject=alert.subject), style="dim")
    out.append(" · " + word("opened", lang, time=fmt_time(alert.opened_at, lang)) + "\n", style="dim")
    if alert.acknowledged_at is not None:
        by = word("ack.by", lang, user=alert.acknowledged_by or "?", time=fmt_time(alert.acknowledged_at, lang))
        out.append(by + "\n", style="green")
        if alert.ack_note:
            out.append(f"{word('ack.note_label', lang)}: {alert.ack_note}\n")
    if alert.resolved_at is not None:
        out.append(word("resolved_at", lang, time=fmt_time(alert.resolved_at, lang)) + "\n", style="dim")
    if alert.inhibited_by is not None:
        cause = state.alerts.get(alert.inhibited_by)
        what = headline(cause, lang, names) if cause is not None else "?"
        out.append(word("inhibited_by", lang, id=alert.inhibited_by, what=what) + "\n", style="italic")
    if alert.silenced_by is not None:
        silence = silences.get(alert.silenced_by)
        if silence is None:
            out.append(word("silenced_by.unknown", lang, id=alert.silenced_by) + "\n", style="italic")
        else:
            until = fmt_time(silence.ends_at, lang, seconds=False)
            text = word("silenced_by", lang, id=silence.id, user=silence.created_by, until=until, why=silence.comment)
            out.append(text + "\n", style="italic")
    if detail:
        out.append(f"{word('detail', lang)}: ", style="bold")
        out.append((alert.detail or word("detail.none", lang)) + "\n")
        if headline(alert, "vi", names) != alert.message:
            out.append(f"{word('message', lang)}: {alert.message}\n", style="dim")
    elif alert.detail:
        out.append(hint + "\n", style="dim")
    return out
