"""Every word more than one surface shows, in Vietnamese and English: each rule's alert text and its
parts, severities, alert states, figure statuses, run outcomes.

Templates take ``{name}`` placeholders, filled by ``wording.alerts`` (alert texts) and ``label``
(the rest). A key ending in ``.one`` is the form used when the count it speaks of is 1, in the
languages that have one (English). The server hands this catalogue to the wall page as JSON
(``/wording.json``), so the browser never keeps a copy of its own.
"""

from __future__ import annotations

from typing import Final

from wording.numbers import Lang

CATALOGUE: Final[dict[str, dict[Lang, str]]] = {
    # --- alert texts, by rule (the codes the rules fire: docs/rules.md) ---------------------------
    "source.failing": {
        "vi": "Nguồn {source} lỗi {failures} lần liên tiếp",
        "en": "Source {source} failed {failures} times in a row",
    },
    "source.failing.one": {"vi": "Nguồn {source} bị lỗi", "en": "Source {source} failed"},
    "source.failing.open": {
        "vi": "Nguồn {source} bị ngắt mạch sau {failures} lần lỗi liên tiếp",
        "en": "Source {source}: circuit open after {failures} failures in a row",
    },
    "source.failing.http": {
        "vi": " (máy chủ nguồn trả lời mã HTTP {status})",
        "en": " (the source answered HTTP {status})",
    },
    "source.rejected": {
        "vi": "Nguồn {source}: {count} bản ghi bị loại",
        "en": "Source {source}: {count} records rejected",
    },
    "source.rejected.one": {"en": "Source {source}: {count} record rejected"},
    "source.down": {
        "vi": "Nguồn {source} ngừng hoạt động sau {failures} lần lỗi liên tiếp ({last_good})",
        "en": "Source {source} is down after {failures} failures in a row ({last_good})",
    },
    "data.stale": {
        "vi": "Nguồn {source}: không có số liệu mới qua {count} chu kỳ ({last_good})",
        "en": "Source {source}: no new figures for {count} intervals ({last_good})",
    },
    "data.stale.one": {"en": "Source {source}: no new figures for {count} interval ({last_good})"},
    "last_good": {"vi": "số liệu tốt gần nhất lúc {time}", "en": "last good figures at {time}"},
    "last_good.never": {"vi": "chưa lần nào thành công", "en": "never succeeded"},
    "figures.revised": {
        "vi": "Số liệu chính thức bị điều chỉnh: {indicator}, {area}, {period}: {previous_value} → {value}",
        "en": "Official figure revised: {indicator}, {area}, {period}: {previous_value} → {value}",
    },
    "figures.revised.more": {"vi": " và {more} số liệu khác", "en": " and {more} more"},
    "storage.write_failed": {
        "vi": "Không ghi được cơ sở dữ liệu: số liệu mới chưa được lưu, các lượt thu thập sẽ được ghi lại khi ghi được trở lại",
        "en": "The database cannot be written: new figures are not being stored; the runs are recorded once it can be written again",
    },
    "storage.write_failed.disk_full": {
        "vi": "Không ghi được cơ sở dữ liệu (ổ đĩa đầy): số liệu mới chưa được lưu, các lượt thu thập sẽ được ghi lại khi ghi được trở lại",
        "en": "The database cannot be written (the disk is full): new figures are not being stored; the runs are recorded once it can be written again",
    },
    "briefing.failed": {
        "vi": "Không lập được theo lịch bản tóm tắt {period} cho lãnh đạo",
        "en": "The scheduled leaders' briefing for {period} could not be made",
    },
    "revision.watch": {
        "vi": "Điều chỉnh cần xem: {indicator}, {area}, {period}: {previous_value} → {value} (lần {revision}: {reasons})",
        "en": "Revision to watch: {indicator}, {area}, {period}: {previous_value} → {value} (revision {revision}: {reasons})",
    },
    "reason.threshold": {"vi": "thay đổi quá {threshold}", "en": "changed by more than {threshold}"},
    "reason.closed": {"vi": "kỳ đã chốt", "en": "period closed"},
    "reason.repeated": {"vi": "điều chỉnh nhiều lần", "en": "revised repeatedly"},
    "anomaly.band": {
        "vi": "{indicator}, {area}, {period}: {value} {where} {threshold}",
        "en": "{indicator}, {area}, {period}: {value} {where} {threshold}",
    },
    "reason.warning_high": {"vi": "trên ngưỡng cảnh báo", "en": "above the warning limit"},
    "reason.warning_low": {"vi": "dưới ngưỡng cảnh báo", "en": "below the warning limit"},
    "reason.critical_high": {"vi": "trên ngưỡng nghiêm trọng", "en": "above the critical limit"},
    "reason.critical_low": {"vi": "dưới ngưỡng nghiêm trọng", "en": "below the critical limit"},
    "anomaly.outlier": {
        "vi": "Giá trị bất thường: {indicator}, {area}, {period}: {value} (kỳ trước {previous_value}; z = {score}, ngưỡng {threshold})",
        "en": "Outlier: {indicator}, {area}, {period}: {value} (previous period {previous_value}; z = {score}, limit {threshold})",
    },
    "counter.decreased": {
        "vi": "Bộ đếm giảm: {indicator}, {area}: {previous_value} → {value} (lúc {period})",
        "en": "Counter went down: {indicator}, {area}: {previous_value} → {value} (at {period})",
    },
    "report.late": {
        "vi": "{who} chưa gửi báo cáo {indicator}, {period} (hạn {due})",
        "en": "{who} has not sent its report on {indicator}, {period} (due {due})",
    },
    "report.late.more": {"vi": " và {more} báo cáo khác", "en": " and {more} more reports"},
    "report.late.more.one": {"en": " and {more} more report"},
    "crosscheck.provinces": {
        "vi": "Tổng {count} tỉnh, thành phố của {indicator}, {period} là {value}, khác số cả nước {reference_value} theo {reference_source}",
        "en": "The {count} provinces' {indicator}, {period}, add up to {value}, not the national {reference_value} from {reference_source}",
    },
    "crosscheck.provinces.partial": {
        "vi": "Tổng {count}/{expected} tỉnh, thành phố của {indicator}, {period} là {value}, đã vượt số cả nước {reference_value} theo {reference_source}",
        "en": "{count} of {expected} provinces' {indicator}, {period}, already add up to {value}, above the national {reference_value} from {reference_source}",
    },
    "crosscheck.derived": {
        "vi": "{indicator}, {period} là {value} theo {source}, khác giá trị tính theo công thức {reference_value}",
        "en": "{indicator}, {period}, is {value} from {source}; its formula gives {reference_value}",
    },
    "crosscheck.sources": {
        "vi": "Hai nguồn khác nhau: {indicator}, {area}, {period} là {value} theo {source} và {reference_value} theo {reference_source}",
        "en": "Two sources differ: {indicator}, {area}, {period}, is {value} from {source} and {reference_value} from {reference_source}",
    },
    "run": {"vi": " (lần thu thập #{run})", "en": " (run #{run})"},
    "area.VN": {"vi": "Toàn quốc", "en": "Nationwide"},  # the nation; provinces' names are not translated
    "agency": {"vi": "{agency}", "en": "{agency}"},
    "source": {"vi": "{agency} [{code}]", "en": "{agency} [{code}]"},  # agencies' names may hold parentheses
    "unknown": {"vi": "Cảnh báo {rule}: {subject}", "en": "Alert {rule}: {subject}"},
    # --- a rule's alerts, counted ("và 12 cảnh báo sửa số liệu khác", "and 12 more revision alerts") ---
    "group.source.failing": {"vi": "nguồn lỗi", "en": "source failure"},
    "group.source.down": {"vi": "nguồn ngừng hoạt động", "en": "source down"},
    "group.source.rejected": {"vi": "bản ghi bị loại", "en": "rejected-records"},
    "group.figures.revised": {"vi": "điều chỉnh số liệu chính thức", "en": "official revision"},
    "group.revision.watch": {"vi": "sửa số liệu", "en": "revision"},
    "group.report.late": {"vi": "báo cáo trễ hạn", "en": "late-report"},
    "group.crosscheck.provinces": {"vi": "đối chiếu tỉnh, thành phố", "en": "province cross-check"},
    "group.crosscheck.derived": {"vi": "đối chiếu số liệu tính toán", "en": "derived-figure cross-check"},
    "group.crosscheck.sources": {"vi": "đối chiếu hai nguồn", "en": "source cross-check"},
    "group.anomaly.band": {"vi": "vượt ngưỡng", "en": "limit"},
    "group.anomaly.outlier": {"vi": "số liệu bất thường", "en": "unusual-figure"},
    "group.counter.decreased": {"vi": "bộ đếm", "en": "counter"},
    "group.data.stale": {"vi": "nguồn chậm cập nhật", "en": "stale-source"},
    "group.storage.write_failed": {"vi": "ghi cơ sở dữ liệu", "en": "database"},
    "group.briefing.failed": {"vi": "lập bản tóm tắt", "en": "briefing"},
    # --- shared labels --------------------------------------------------------------------------
    "severity.critical": {"vi": "Nghiêm trọng", "en": "Critical"},
    "severity.warning": {"vi": "Cảnh báo", "en": "Warning"},
    "severity.info": {"vi": "Thông tin", "en": "Info"},
    "state.pending": {"vi": "chờ", "en": "pending"},
    "state.firing": {"vi": "đang báo", "en": "firing"},
    "state.acknowledged": {"vi": "đã xác nhận", "en": "acknowledged"},
    "state.resolved": {"vi": "đã hết", "en": "resolved"},
    "status.official": {"vi": "chính thức", "en": "official"},
    "status.provisional": {"vi": "sơ bộ", "en": "provisional"},
    "status.estimated": {"vi": "ước tính", "en": "estimated"},
    # --- the reports' completeness (opscentre reporting) ---------------------------------------------
    "reporting.title": {
        "vi": "Tình hình báo cáo theo lịch, tính đến {time} UTC (báo cáo trễ sau hết ngày hạn)",
        "en": "Reports by the calendar, as of {time} UTC (late after the end of the due day)",
    },
    "reporting.column.code": {"vi": "mã", "en": "code"},
    "reporting.column.indicator": {"vi": "chỉ tiêu", "en": "indicator"},
    "reporting.column.period": {"vi": "kỳ", "en": "period"},
    "reporting.column.due": {"vi": "hạn", "en": "due"},
    "reporting.column.received": {"vi": "đã nhận", "en": "received"},
    "reporting.column.on_time": {"vi": "đúng hạn", "en": "on time"},
    "reporting.column.late": {"vi": "trễ hạn", "en": "late"},
    "reporting.column.missing": {"vi": "còn thiếu", "en": "missing"},
    "reporting.provinces": {"vi": "{got}/{total} tỉnh, thành phố", "en": "{got}/{total} provinces"},
    "reporting.nation.received": {"vi": "toàn quốc: đã gửi", "en": "national: received"},
    "reporting.nation.missing": {"vi": "toàn quốc: chưa gửi", "en": "national: not received"},
    "reporting.not_due": {"vi": "chưa đến hạn", "en": "not due yet"},
    "reporting.more": {"vi": "và {n} nơi khác", "en": "and {n} more"},
    "reporting.late": {"vi": "trễ hạn", "en": "late"},
    "reporting.clock.published": {"vi": "công bố", "en": "published"},
    "reporting.clock.collected": {"vi": "trung tâm nhận", "en": "collected"},
    "reporting.clocks": {
        "vi": "Giờ của mỗi báo cáo: giờ công bố của nơi báo cáo ({published} báo cáo); giờ trung tâm nhận được, khi nguồn không cho biết giờ công bố ({collected} báo cáo)",
        "en": "Each report's time: the reporter's own publication time ({published} reports); the time the centre first collected it, where the source gives none ({collected} reports)",
    },
    "reporting.unstarted": {
        "vi": "{n} chỉ tiêu chưa có số liệu nào: không ai nợ báo cáo",
        "en": "{n} indicators without any figure yet: no report owed",
    },
    "reporting.unstarted.one": {"en": "{n} indicator without any figure yet: no report owed"},
    "reporting.none": {
        "vi": "không có chỉ tiêu nào có lịch báo cáo cho lựa chọn này",
        "en": "no indicator with a reporting calendar matches",
    },
    # --- the briefing (briefing/, opscentre briefing) --------------------------------------------------
    "briefing.title": {
        "vi": "Báo cáo nhanh tình hình kinh tế - xã hội {period}",
        "en": "Socio-economic briefing, {period}",
    },
    "briefing.subtitle": {
        "vi": "Trung tâm điều hành: số liệu chuẩn hóa, kèm nguồn gốc từng số liệu",
        "en": "Operations centre: standardised figures, each with its provenance",
    },
    "briefing.as_of": {
        "vi": "Số liệu trung tâm có tại {time} (giờ Việt Nam, UTC+7)",
        "en": "Figures as the centre knew them at {time} (Vietnam time, UTC+7)",
    },
    "briefing.key": {"vi": "Các chỉ tiêu chủ yếu", "en": "Key indicators"},
    "briefing.column.indicator": {"vi": "Chỉ tiêu", "en": "Indicator"},
    "briefing.column.period": {"vi": "Kỳ", "en": "Period"},
    "briefing.column.value": {"vi": "Số liệu", "en": "Figure"},
    "briefing.column.previous": {"vi": "Kỳ trước", "en": "Previous period"},
    "briefing.column.year_ago": {"vi": "Cùng kỳ năm trước", "en": "A year earlier"},
    "briefing.column.change": {"vi": "So với kỳ trước", "en": "Change on previous"},
    "briefing.column.change_year": {"vi": "So với cùng kỳ", "en": "Change on a year earlier"},
    "briefing.points": {"vi": "{value} điểm %", "en": "{value} pp"},
    "briefing.no_figure": {"vi": "chưa có số liệu", "en": "no figure"},
    "briefing.chart": {"vi": "{indicator} ({unit}), {first} – {last}", "en": "{indicator} ({unit}), {first} – {last}"},
    "briefing.provinces": {
        "vi": "Các tỉnh, thành phố: {indicator}, {period}",
        "en": "Provinces: {indicator}, {period}",
    },
    "briefing.provinces.note": {
        "vi": "{count} đơn vị hành chính cấp tỉnh có hiệu lực ngày {day}, xếp theo số liệu từ cao đến thấp; cột “Hình thành từ” ghi các đơn vị trước ngày 01/07/2025 đã hợp thành đơn vị đó.",
        "en": "The {count} provinces and cities in force on {day}, highest figure first; “Formed from” names the units that became each one on 1 July 2025.",
    },
    "briefing.provinces.none": {
        "vi": "Chưa có chỉ tiêu cấp tỉnh nào có số liệu cho kỳ này.",
        "en": "No province-level indicator has figures for this period yet.",
    },
    "briefing.column.rank": {"vi": "Hạng", "en": "Rank"},
    "briefing.column.area": {"vi": "Tỉnh, thành phố", "en": "Province or city"},
    "briefing.column.formed_from": {"vi": "Hình thành từ", "en": "Formed from"},
    "briefing.reporting": {"vi": "Tình hình báo cáo", "en": "Reporting"},
    "briefing.reporting.none": {"vi": "Mọi báo cáo đến hạn đã được gửi.", "en": "Every report due has been received."},
    "briefing.changes": {"vi": "Số liệu được điều chỉnh trong kỳ", "en": "Figures revised during the period"},
    "briefing.changes.none": {
        "vi": "Không có số liệu nào được điều chỉnh trong kỳ.",
        "en": "No figure was revised during the period.",
    },
    "briefing.changes.more": {"vi": "và {n} lần điều chỉnh khác", "en": "and {n} more revisions"},
    "briefing.column.figure": {"vi": "Số liệu", "en": "Figure"},
    "briefing.column.before": {"vi": "Trước", "en": "Before"},
    "briefing.column.after": {"vi": "Sau", "en": "After"},
    "briefing.column.when": {"vi": "Lúc", "en": "When"},
    "briefing.column.reasons": {"vi": "Lý do cần xem", "en": "Why it is watched"},
    "briefing.alerts": {"vi": "Cảnh báo đang mở", "en": "Open alerts"},
    "briefing.alerts.none": {"vi": "Không có cảnh báo nào đang mở.", "en": "No alert is open."},
    "briefing.crosschecks": {"vi": "Kết quả đối chiếu", "en": "Cross-check results"},
    "briefing.crosschecks.none": {"vi": "Các phép đối chiếu đều khớp.", "en": "Every cross-check agrees."},
    "briefing.column.severity": {"vi": "Mức", "en": "Severity"},
    "briefing.column.state": {"vi": "Trạng thái", "en": "State"},
    "briefing.column.alert": {"vi": "Nội dung", "en": "Alert"},
    "briefing.sources": {"vi": "Nguồn gốc số liệu", "en": "Provenance"},
    "briefing.sources.note": {
        "vi": "Mỗi số liệu: nguồn, lần thu thập, bản ghi và lần sửa, mã băm sha256 của dữ liệu gốc đã nhận.",
        "en": "Each figure: its source, collection run, record and revision, and the sha256 of the payload received.",
    },
    "briefing.footnote": {
        "vi": "{indicator}, {area}, {period}: {value}. Nguồn {source}; lần thu thập #{run}; bản ghi #{obs}, lần sửa {revision}; dữ liệu gốc {short}",
        "en": "{indicator}, {area}, {period}: {value}. Source {source}; run #{run}; record #{obs}, revision {revision}; payload {short}",
    },
    "briefing.stamp": {"vi": "Dấu thời điểm", "en": "Stamp"},
    "briefing.stamp.text": {
        "vi": "Lập từ số liệu trung tâm có tại {as_of} (sự kiện #{seq} của cơ sở dữ liệu {epoch}). Lập lại với cùng thời điểm cho cùng nội dung.",
        "en": "Made from the figures the centre held at {as_of} (event #{seq} of database {epoch}). Made again for the same instant, the content is the same.",
    },
    "briefing.stamp.revisions": {"vi": "Lần sửa của từng số liệu", "en": "The revision of every figure"},
    "briefing.page": {"vi": "Trang", "en": "Page"},
    # --- periods (wording.periods) ----------------------------------------------------------------
    "period.Y": {"vi": "năm {year}", "en": "{year}"},
    "period.Q": {"vi": "quý {roman}/{year}", "en": "Q{quarter} {year}"},
    "period.M": {"vi": "tháng {month}/{year}", "en": "{month_name} {year}"},
    "period.D": {"vi": "ngày {day}/{month}/{year}", "en": "{day_number} {month_name} {year}"},
}


def template(key: str, lang: Lang, count: int | None = None) -> str:
    """The template of ``key`` in ``lang``; its ``.one`` form when ``count`` is 1 and the language has one."""
    if count == 1 and lang in CATALOGUE.get(key + ".one", {}):
        return CATALOGUE[key + ".one"][lang]
    return CATALOGUE[key][lang]


def label(key: str, lang: Lang, count: int | None = None, /, **values: object) -> str:
    """``label("severity.critical", "en") == "Critical"``; placeholders filled from ``values``."""
    text = template(key, lang, count)
    return text.format(**values) if values else text
