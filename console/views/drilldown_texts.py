"""The drill-down's wording and the panels it writes from the feed's answers: which open alerts are
about a figure, the two figures a cross-check compared, and the figure's provenance."""

from __future__ import annotations

from functools import partial

from rich.text import Text

from console.numbers import fmt_number, fmt_time
from console.state import NATION, SeriesKey
from console.views import word_in
from console.views.collector_texts import outcome_text
from feed.protocol import AlertInfo, ProvenanceData
from wording.numbers import digits_apart

SHORT_DIGEST = 12  # hex digits of a sha256 shown beside a cross-checked figure (the provenance has it whole)
# The rules whose alerts are about one figure (indicator, area, period) and shown with it.
FIGURE_RULES = ("crosscheck.", "revision.watch", "anomaly.", "figures.revised", "counter.decreased")


def about(alert: AlertInfo, key: SeriesKey, period: str) -> bool:
    """Whether an open ``alert`` is about the figure of series ``key`` for ``period``. A band alert
    is about the series' newest value, shown whatever the period; the provinces' cross-check names
    no area: it is about the national figure."""
    indicator, area, _source = key
    p = alert.params
    if alert.state == "resolved" or not alert.rule.startswith(FIGURE_RULES) or p.indicator != indicator:
        return False
    if (p.area or NATION) != area:
        return False
    return alert.rule == "anomaly.band" or p.period == period


WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "pick": "Chọn một số liệu (Enter trên bảng chỉ tiêu hoặc tổng quan) để xem chi tiết",
        "window": "Khoảng",
        "1y": "1 năm",
        "5y": "5 năm",
        "all": "tất cả",
        "revisions": "Các lần điều chỉnh của kỳ {period}",
        "provenance": "Nguồn gốc",
        "col.rev": "Lần",
        "col.before": "Trước",
        "col.after": "Sau",
        "col.status": "Trạng thái",
        "col.collected": "Thu thập lúc",
        "col.source": "Nguồn",
        "col.run": "Lần chạy",
        "col.payload": "Tệp gốc",
        "period": "Kỳ",
        "revision": "lần {n}",
        "source": "Nguồn",
        "run": "Lần thu thập",
        "fetched": "Lấy về lúc",
        "size": "Kích thước",
        "bytes": "byte",
        "type": "Kiểu",
        "no_payload": "không có tệp gốc",
        "loading": "Đang tải …",
        "none": "Chưa có số liệu nào của chuỗi này",
        "error": "✖ Không tải được: {reason}",
        "revised": "đã điều chỉnh",
        "keys": "{window}: khoảng · {back}/{forward}: kỳ trước/sau",
        "points": "{n} kỳ",
        "provisional": "sơ bộ",
        "official": "chính thức",
        "estimated": "ước tính",
        "schedule": "theo lịch",
        "manual": "thủ công",
        "checks": "Kiểm tra chéo và cảnh báo về số liệu này ({n})",
        "checks.none": "Không có cảnh báo nào đang mở về số liệu này",
        "provinces_sum": "tổng các tỉnh",
        "formula": "theo công thức",
    },
    "en": {
        "pick": "Pick a figure (Enter in the indicators or overview table) to drill down",
        "window": "Window",
        "1y": "1 year",
        "5y": "5 years",
        "all": "all",
        "revisions": "Revisions of period {period}",
        "provenance": "Provenance",
        "col.rev": "Rev",
        "col.before": "Before",
        "col.after": "After",
        "col.status": "Status",
        "col.collected": "Collected at",
        "col.source": "Source",
        "col.run": "Run",
        "col.payload": "Payload",
        "period": "Period",
        "revision": "revision {n}",
        "source": "Source",
        "run": "Run",
        "fetched": "Fetched at",
        "size": "Size",
        "bytes": "bytes",
        "type": "Type",
        "no_payload": "no payload",
        "loading": "Loading …",
        "none": "No figures in this series yet",
        "error": "✖ Could not load: {reason}",
        "revised": "revised",
        "keys": "{window}: window · {back}/{forward}: previous/next period",
        "points": "{n} periods",
        "provisional": "provisional",
        "official": "official",
        "estimated": "estimated",
        "schedule": "scheduled",
        "manual": "manual",
        "checks": "Cross-checks and alerts on this figure ({n})",
        "checks.none": "No open alert on this figure",
        "provinces_sum": "provinces' sum",
        "formula": "formula",
    },
}


word = partial(word_in, WORDS)


def cross_check_sides(alert: AlertInfo, decimals: int, lang: str) -> tuple[str, str] | None:
    """The two figures a cross-check compared: "nso 3.20 · sha256 1a2b3c4d5e6f"; None for
    another alert. ``decimals``: the indicator's own."""
    p = alert.params
    if not alert.rule.startswith("crosscheck.") or p.value is None or p.reference_value is None:
        return None
    places = digits_apart([p.value, p.reference_value], decimals)

    def side(label: str | None, value: float, digest: str | None) -> str:
        text = f"{label or '?'} {fmt_number(value, places, lang)}"
        return text + (f" · sha256 {digest[:SHORT_DIGEST]}" if digest else "")

    left_label = word("provinces_sum", lang) if alert.rule == "crosscheck.provinces" else p.source
    right_label = word("formula", lang) if alert.rule == "crosscheck.derived" else p.reference_source
    return side(left_label, p.value, p.payload_digest), side(right_label, p.reference_value, p.reference_digest)


def provenance_text(found: ProvenanceData, lang: str) -> Text:
    """The figure's provenance, a label and a value a line: its period, revision and status, its
    source, the run, when the batch was fetched, the payload's sha256, size and type."""
    obs = found.observation
    lines: list[tuple[str, str]] = [
        (word("period", lang), f"{obs.period} · {word('revision', lang, n=obs.revision)} · {word(obs.status, lang)}"),
        (word("source", lang), obs.source),
    ]
    if found.run is not None:
        run = found.run
        lines.append((word("run", lang), f"#{run.id} · {word(run.trigger, lang)} · {outcome_text(run.outcome, lang)}"))
    elif obs.run_id is not None:
        lines.append((word("run", lang), f"#{obs.run_id}"))
    fetched = found.ingest.at if found.ingest is not None else obs.collected_at
    lines.append((word("fetched", lang), fmt_time(fetched, lang)))
    if found.payload is not None:
        p = found.payload
        lines.append(("sha256", p.sha256))
        lines.append((word("size", lang), f"{fmt_number(p.size, 0, lang)} {word('bytes', lang)}"))
        kind = p.content_type or "—"
        lines.append((word("type", lang), kind + (f" ({p.wire_encoding})" if p.wire_encoding else "")))
    else:
        lines.append(("sha256", word("no_payload", lang)))
    width = max(len(k) for k, _ in lines)
    out = Text()
    for label, value in lines:
        out.append(f"{label:<{width}}  ", style="bold")
        out.append(f"{value}\n")
    return out
