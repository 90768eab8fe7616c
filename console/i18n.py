"""Every label the console shows, in Vietnamese and English. ``t(key, lang, **values)``; a
missing key shows as the key itself (visible in review, never a crash). Add labels here, both
languages at once."""

from __future__ import annotations

from typing import Final

LANGS: Final = ("vi", "en")

LABELS: dict[str, tuple[str, str]] = {
    # views (tabs)
    "view.overview": ("Tổng quan", "Overview"),
    "view.indicators": ("Chỉ tiêu", "Indicators"),
    "view.provinces": ("Tỉnh, thành", "Provinces"),
    "view.alerts": ("Cảnh báo", "Alerts"),
    "view.collectors": ("Thu thập", "Collectors"),
    "view.drilldown": ("Chi tiết", "Drill-down"),
    # keys
    "key.overview": ("Tổng quan", "Overview"),
    "key.indicators": ("Chỉ tiêu", "Indicators"),
    "key.provinces": ("Tỉnh", "Provinces"),
    "key.alerts": ("Cảnh báo", "Alerts"),
    "key.collectors": ("Thu thập", "Collectors"),
    "key.drilldown": ("Chi tiết số liệu", "Drill down"),
    "key.travel_pick": ("Xem quá khứ", "Time travel"),
    "key.back_day": ("Lùi một ngày", "Back a day"),
    "key.back_month": ("Lùi một tháng", "Back a month"),
    "key.forward_day": ("Tới một ngày", "Forward a day"),
    "key.live": ("Trực tiếp", "Live"),
    "key.pause": ("Tạm dừng", "Pause"),
    "key.language": ("English", "Tiếng Việt"),
    "key.help": ("Phím", "Keys"),
    "key.reconnect": ("Kết nối lại", "Reconnect"),
    "key.quit": ("Thoát", "Quit"),
    "key.filter": ("Lọc", "Filter"),
    "key.leave_filter": ("Về bảng", "Back to the table"),
    "key.sort": ("Sắp xếp", "Sort"),
    "key.sort_reverse": ("Đảo thứ tự", "Reverse sort"),
    "key.category": ("Lĩnh vực kế", "Next category"),
    "key.pick_indicator": ("Chọn chỉ tiêu", "Indicator"),
    "key.period_back": ("Kỳ trước", "Earlier period"),
    "key.period_forward": ("Kỳ sau", "Later period"),
    # status bar and banner
    "status.live": ("● TRỰC TIẾP", "● LIVE"),
    "status.connecting": ("◌ đang kết nối …", "◌ connecting …"),
    "status.reconnecting": ("○ mất kết nối, thử lại sau {seconds} s", "○ disconnected, retrying in {seconds} s"),
    "status.refused": ("✖ bị từ chối: {reason}", "✖ refused: {reason}"),
    "status.stale": ("số liệu cũ từ {time}", "stale since {time}"),
    "status.user": ("{user} ({role})", "{user} ({role})"),
    "status.age": ("số liệu mới nhất {age} trước", "newest figure {age} ago"),
    "status.paused": ("⏸ TẠM DỪNG", "⏸ PAUSED"),
    "status.seq": ("seq {seq}", "seq {seq}"),
    "banner.as_of": (
        "⏪ XEM QUÁ KHỨ: như đã biết lúc {time} (UTC+7) · phím {key}: trực tiếp",
        "⏪ TIME TRAVEL: as known at {time} (UTC+7) · key {key}: back to live",
    ),
    "banner.loading": ("⏳ đang tải số liệu lúc {time} …", "⏳ loading the centre as of {time} …"),
    # time travel dialog
    "travel.title": ("Xem số liệu như đã biết tại thời điểm", "Show the centre as known at"),
    "travel.hint": (
        "Ví dụ 2025-03-01 hoặc 2025-03-01 14:00 (giờ Việt Nam), Enter để xem, Esc để huỷ",
        "E.g. 2025-03-01 or 2025-03-01 14:00 (Vietnam time); Enter to go, Esc to cancel",
    ),
    "travel.bad": ("Không hiểu thời điểm {text!r}: {why}", "Cannot read the moment {text!r}: {why}"),
    "travel.future": ("Thời điểm ở tương lai; chọn một lúc đã qua", "That moment is in the future; pick a past one"),
    # login screen (the console served in a browser: `opscentre console --serve`)
    "login.title": ("opscentre — đăng nhập", "opscentre — log in"),
    "login.prompt": ("Mã truy cập (token) của bạn trên luồng số liệu", "Your token on the feed"),
    "login.hint": ("Enter để đăng nhập", "Enter to log in"),
    "login.empty": ("Hãy nhập mã truy cập", "Type your token"),
    "login.checking": ("◌ đang kiểm tra với luồng số liệu …", "◌ checking with the feed …"),
    "login.refused": ("✖ Luồng số liệu từ chối: {reason}", "✖ The feed refused it: {reason}"),
    "login.unreachable": (
        "○ Chưa kết nối được luồng số liệu ({reason}), thử lại sau {seconds} s",
        "○ Cannot reach the feed ({reason}), retrying in {seconds} s",
    ),
    # overview
    "overview.counters": ("Cổng dịch vụ công — trực tiếp", "Service portal — live"),
    "overview.key": ("Chỉ tiêu chủ yếu toàn quốc", "Key national indicators"),
    "overview.alerts": ("Cảnh báo đang bật", "Firing alerts"),
    "overview.connection": ("Kết nối", "Connection"),
    "overview.rate": ("/phút", "/min"),
    "severity.critical": ("✖ nghiêm trọng", "✖ critical"),
    "severity.warning": ("▲ cảnh báo", "▲ warning"),
    "severity.info": ("● thông tin", "● info"),
    # columns
    "col.category": ("Lĩnh vực", "Category"),
    "col.indicator": ("Chỉ tiêu", "Indicator"),
    "col.area": ("Địa bàn", "Area"),
    "col.period": ("Kỳ", "Period"),
    "col.value": ("Giá trị", "Value"),
    "col.unit": ("Đơn vị", "Unit"),
    "col.change": ("Thay đổi", "Change"),
    "col.trend": ("Xu hướng", "Trend"),
    "col.flags": ("Cờ", "Flags"),
    "col.rate": ("Tốc độ", "Rate"),
    "col.source": ("Nguồn", "Source"),
    "col.rank": ("#", "#"),
    "col.level": ("Mức", "Level"),
    "col.former": ("Gồm các đơn vị cũ", "Merged from"),
    "col.became": ("Nay thuộc", "Now part of"),
    # indicators view
    "indicators.filter": ("Lọc theo tên, mã, cơ quan, lĩnh vực …", "Filter by name, code, agency, category …"),
    "indicators.all": ("Tất cả", "All"),
    "indicators.count": ("{shown}/{total} chuỗi", "{shown}/{total} series"),
    "indicators.sorted": ("sắp theo {column} {direction}", "sorted by {column} {direction}"),
    "flag.provisional": ("P", "P"),
    "flag.revised": ("R", "R"),
    "flag.late": ("L", "L"),
    "flag.failing": ("!", "!"),
    "flags.legend": (
        "P sơ bộ · R đã sửa · L chậm · ! nguồn lỗi",
        "P provisional · R revised · L late · ! source failing",
    ),
    # provinces
    "provinces.title": ("{indicator} — kỳ {period}", "{indicator} — period {period}"),
    "provinces.none": ("Chưa có chỉ tiêu cấp tỉnh nào", "No provincial indicator yet"),
    "provinces.total": ("Tổng", "Total"),
    "provinces.mean": ("Trung bình", "Average"),
    "provinces.units": ("{n} đơn vị có hiệu lực", "{n} units in force"),
    "provinces.pick": ("Chọn chỉ tiêu", "Pick an indicator"),
    "level.high": ("▲ cao", "▲ high"),
    "level.low": ("▼ thấp", "▼ low"),
    "level.mid": ("· vừa", "· mid"),
    "provinces.loading": ("đang tải …", "loading …"),
    "col.report": ("Báo cáo", "Report"),
    "report.on_time": ("✓ đúng hạn", "✓ on time"),
    "report.late": ("⌛ trễ hạn", "⌛ late"),
    "report.missing": ("✗ chưa gửi", "✗ missing"),
    "report.not_due": ("· chưa đến hạn", "· not due"),
    "provinces.reporting": ("Báo cáo kỳ {period} (hạn {due}): {count}", "Reports for {period} (due {due}): {count}"),
    "provinces.count": ("{received}/{expected} tỉnh, thành phố", "{received}/{expected} provinces"),
    "provinces.count_late": (" · {n} trễ hạn", " · {n} late"),
    "provinces.count_missing": (" · {n} chưa gửi", " · {n} missing"),
    "provinces.count_not_due": (" · chưa đến hạn", " · not due yet"),
    # operator views (console/views/alerts.py, collectors.py, drilldown.py; their own wording lives there)
    "key.acknowledge": ("Xác nhận", "Acknowledge"),
    "key.alert_state": ("Lọc trạng thái", "State filter"),
    "key.alert_severity": ("Lọc mức độ", "Severity filter"),
    "key.alert_detail": ("Chi tiết kỹ thuật", "Technical detail"),
    "key.bell_mute": ("Tắt/bật chuông", "Mute bell"),
    "key.alert_muted": ("Ẩn/hiện cảnh báo tạm im", "Hide/show muted"),
    "key.silences": ("Danh sách tạm im", "Silences"),
    "key.silence": ("Tạm im cảnh báo", "Silence alert"),
    "key.unsilence": ("Bỏ tạm im", "End silence"),
    "key.run_source": ("Chạy nguồn", "Run source"),
    "key.run_agency": ("Chạy cơ quan", "Run agency"),
    "key.run_all": ("Chạy tất cả", "Run all"),
    "key.refresh": ("Tải lại", "Refresh"),
    "key.window": ("Khoảng thời gian", "Window"),
    # generic
    "none": ("—", "—"),
    "placeholder": ("(đang xây dựng)", "(coming soon)"),
    "error.unavailable": ("Không có kết nối tới máy chủ", "Not connected to the server"),
}


def t(key: str, lang: str = "vi", /, **values: object) -> str:
    pair = LABELS.get(key)
    if pair is None:
        return key
    text = pair[0] if lang == "vi" else pair[1]
    return text.format(**values) if values else text


def pick(vi: str, en: str, lang: str) -> str:
    """One of a catalogue entry's two names (``name_vi``/``name_en``), the English falling back."""
    return vi if lang == "vi" or not en else en
