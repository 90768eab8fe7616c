"""The collectors view's wording and the texts it builds: a run's outcome and a circuit's state as
a symbol and a word as well as a colour (the drill-down shows a run's outcome too), an error on
one line."""

from __future__ import annotations

from functools import partial

from rich.text import Text

from console.views import word_in

OUTCOME_SYMBOL = {
    "running": "⟳",
    "success": "✓",
    "partial": "◐",
    "failed": "✖",
    "skipped": "⊘",
    "interrupted": "⚡",
}
OUTCOME_STYLE = {"running": "cyan", "success": "green", "partial": "yellow", "failed": "bold red", "skipped": "magenta"}
CIRCUIT_SYMBOL = {"closed": "●", "half_open": "◐", "open": "○"}
CIRCUIT_STYLE = {"closed": "green", "half_open": "yellow", "open": "bold red"}

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "col.source": "Nguồn",
        "col.agency": "Cơ quan",
        "col.circuit": "Mạch",
        "col.outcome": "Kết quả",
        "col.when": "Lần chạy cuối",
        "col.latency": "Độ trễ",
        "col.figures": "Mới/sửa/loại",
        "col.error": "Lỗi",
        "running": "đang chạy",
        "success": "thành công",
        "partial": "một phần",
        "failed": "thất bại",
        "skipped": "bỏ qua",
        "interrupted": "bị ngắt",
        "closed": "đóng",
        "half_open": "thử lại",
        "open": "NGẮT",
        "unknown": "—",
        "never": "chưa chạy",
        "disabled": "tắt",
        "admin_only": "⊘ Chạy thu thập cần vai trò admin (bạn: {role}); chỉ xem",
        "admin": "Phím {source}: chạy nguồn · {agency}: chạy cả cơ quan · {all}: chạy tất cả",
        "confirm.source": "Chạy thu thập nguồn {name} ngay bây giờ?",
        "confirm.agency": "Chạy thu thập mọi nguồn của cơ quan {name} ngay bây giờ?",
        "confirm.all": "Chạy thu thập TẤT CẢ các nguồn ngay bây giờ?",
        "confirm.yes": "Chạy (y)",
        "confirm.no": "Huỷ (n)",
        "sending": "Đang gửi yêu cầu …",
        "accepted": "Đang thu thập {n} nguồn: {names}",
        "progress": "{finished}/{total} xong",
        "done": "Xong: {ok}/{total} lần chạy thành công",
        "refused": "✖ Bị từ chối: {reason}",
        "no_source": "Chưa chọn nguồn nào",
        "no_agency": "Nguồn {name} không thuộc cơ quan nào đã biết",
        "figures": "+{new} mới, {revised} sửa, {rejected} loại",
        "fetched": "{n} bản ghi nhận",
        "bytes": "byte",
        "next": "lần tới {time}",
    },
    "en": {
        "col.source": "Source",
        "col.agency": "Agency",
        "col.circuit": "Circuit",
        "col.outcome": "Outcome",
        "col.when": "Last run",
        "col.latency": "Latency",
        "col.figures": "New/rev/rej",
        "col.error": "Error",
        "running": "running",
        "success": "success",
        "partial": "partial",
        "failed": "failed",
        "skipped": "skipped",
        "interrupted": "interrupted",
        "closed": "closed",
        "half_open": "half-open",
        "open": "OPEN",
        "unknown": "—",
        "never": "never run",
        "disabled": "disabled",
        "admin_only": "⊘ Running collections needs the admin role (you: {role}); view only",
        "admin": "Keys {source}: run source · {agency}: run its agency · {all}: run all",
        "confirm.source": "Run a collection of source {name} now?",
        "confirm.agency": "Run a collection of every source of agency {name} now?",
        "confirm.all": "Run a collection of ALL sources now?",
        "confirm.yes": "Run (y)",
        "confirm.no": "Cancel (n)",
        "sending": "Sending the request …",
        "accepted": "Collecting {n} sources: {names}",
        "progress": "{finished}/{total} finished",
        "done": "Done: {ok} of {total} runs succeeded",
        "refused": "✖ Refused: {reason}",
        "no_source": "No source selected",
        "no_agency": "Source {name} belongs to no known agency",
        "figures": "+{new} new, {revised} revised, {rejected} rejected",
        "fetched": "{n} records received",
        "bytes": "bytes",
        "next": "next {time}",
    },
}


word = partial(word_in, WORDS)


def outcome_text(outcome: str, lang: str) -> Text:
    """``✓ success``: a symbol and a word as well as the colour."""
    return Text(f"{OUTCOME_SYMBOL.get(outcome, '?')} {word(outcome, lang)}", style=OUTCOME_STYLE.get(outcome, ""))


def circuit_text(circuit: str | None, lang: str) -> Text:
    if circuit is None:
        return Text(word("unknown", lang))
    return Text(f"{CIRCUIT_SYMBOL.get(circuit, '?')} {word(circuit, lang)}", style=CIRCUIT_STYLE.get(circuit, ""))


def one_line(error: str | None, width: int = 200) -> str:
    if not error:
        return ""
    text = " ".join(error.split())
    return text if len(text) <= width else text[: width - 1] + "…"
