/*
 * The wall page's words (a pure module: nothing here touches window or document when imported, so
 * node's test runner imports it as the page does).
 *
 * Two kinds of words:
 *   - the catalogue every surface shares (wording/catalogue.py), which the feed server generates as
 *     /display/wording.js (window.OPSCENTRE_WORDING, a classic script loaded before the modules):
 *     looked up with label(key, lang);
 *   - the words only the wall shows (its headings, the connection states, the token form): WORDS.
 */

/** The generated catalogue and Intl locales ({} before /display/wording.js has run, or in node). */
export function wording() {
  return globalThis.OPSCENTRE_WORDING || {};
}

const ROMAN = ['', 'I', 'II', 'III', 'IV'];
const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export const WORDS = {
  vi: {
    locale: 'vi-VN',
    documentTitle: 'Trung tâm điều hành — Hệ thống thông tin báo cáo quốc gia',
    title: 'Trung tâm điều hành',
    subtitle: 'Hệ thống thông tin báo cáo quốc gia',
    countersTitle: 'Cổng Dịch vụ công quốc gia — trực tuyến',
    tilesLabel: 'Chỉ tiêu kinh tế - xã hội',
    alerts: 'Cảnh báo',
    changeToken: 'Đổi mã',
    langButton: 'EN',
    langTitle: 'Switch to English',
    tokenTitle: 'Mã truy cập màn hình',
    tokenHelp: 'Nhập mã truy cập của màn hình hiển thị. Mã được lưu trên máy này, chỉ cần nhập một lần.',
    tokenLabel: 'Mã truy cập',
    tokenSubmit: 'Kết nối',
    tokenEmpty: 'Hãy nhập mã truy cập.',
    closeReason: { 4401: 'Mã truy cập không đúng hoặc đã bị thu hồi.', 4403: 'Máy này không được phép kết nối tới máy chủ.' },
    conn: {
      connecting: 'Đang kết nối…',
      live: 'Trực tuyến',
      reconnecting: 'Đang kết nối lại…',
      retryIn: (s) => `Mất kết nối — thử lại sau ${s} giây`,
      auth: 'Cần mã truy cập',
    },
    resumed: 'nối tiếp',
    lastMessage: (t) => `Tin cuối lúc ${t}`,
    noData: 'Chưa có số liệu',
    revised: 'đã điều chỉnh',
    stale: { amber: 'Chậm cập nhật', red: 'Quá hạn' },
    versus: (p) => `so với ${p}`,
    points: 'điểm %',
    perMinute: '/phút',
    ago: { now: 'vừa xong', s: (n) => `${n} giây trước`, m: (n) => `${n} phút trước`, h: (n) => `${n} giờ trước`, d: (n) => `${n} ngày trước` },
    noAlerts: 'Không có cảnh báo đang mở',
    // The ticker's item for the rest of one rule's alerts: "và 12 cảnh báo sửa số liệu khác".
    moreAlerts: (n, group) => `và ${n} cảnh báo ${group} khác`,
    sourceFailing: (src) => `${src} lỗi`,
    sourceDown: (src) => `${src} ngừng`,
    lastGood: (t) => `số liệu lúc ${t}`,
    sourcesFailing: (list) => `Nguồn đang lỗi: ${list}`,
    completenessTitle: 'Báo cáo kỳ gần nhất',
    completeness: (received, expected) => `${received}/${expected}${expected > 1 ? ' tỉnh, thành phố' : ''}`,
    lateCount: (n) => `${n} trễ hạn`,
    moreReports: (n) => `+${n} chỉ tiêu`,
    pending: 'chờ xác nhận',
    acknowledged: (by) => (by ? `đã tiếp nhận (${by})` : 'đã tiếp nhận'),
    running: (list) => `Đang thu thập: ${list}`,
    lastRun: (src, outcome, t) => `Thu thập gần nhất: ${src} · ${outcome} · ${t}`,
    outcome: { success: 'thành công', partial: 'một phần', failed: 'lỗi', skipped: 'bỏ qua', interrupted: 'gián đoạn', running: 'đang chạy' },
    period: {
      D: (y, m, d) => `Ngày ${d}/${m}/${y}`,
      M: (y, m) => `Tháng ${m}/${y}`,
      Q: (y, q) => `Quý ${ROMAN[q]}/${y}`,
      Y: (y) => `Năm ${y}`,
    },
    periodShort: {
      D: (y, m, d) => `${d}/${m}`,
      M: (y, m) => `Tháng ${m}/${y}`,
      Q: (y, q) => `Quý ${ROMAN[q]}/${y}`, // a month or quarter is written one way on the whole wall
      Y: (y) => `${y}`,
    },
  },
  en: {
    locale: 'en-US',
    documentTitle: 'Operations Centre — National Reporting Information System',
    title: 'Operations Centre',
    subtitle: 'National Reporting Information System',
    countersTitle: 'National Public Service Portal — live',
    tilesLabel: 'Socio-economic indicators',
    alerts: 'Alerts',
    changeToken: 'Change token',
    langButton: 'VI',
    langTitle: 'Chuyển sang tiếng Việt',
    tokenTitle: 'Display access token',
    tokenHelp: 'Enter this display screen’s access token. It is kept on this machine, so it is asked only once.',
    tokenLabel: 'Access token',
    tokenSubmit: 'Connect',
    tokenEmpty: 'Please enter the access token.',
    closeReason: { 4401: 'The access token is wrong or has been revoked.', 4403: 'This machine is not allowed to connect to the server.' },
    conn: {
      connecting: 'Connecting…',
      live: 'Live',
      reconnecting: 'Reconnecting…',
      retryIn: (s) => `Connection lost — retrying in ${s} s`,
      auth: 'Token needed',
    },
    resumed: 'resumed',
    lastMessage: (t) => `Last message ${t}`,
    noData: 'No data yet',
    revised: 'revised',
    stale: { amber: 'Late', red: 'Overdue' },
    versus: (p) => `vs ${p}`,
    points: 'pp',
    perMinute: '/min',
    ago: { now: 'just now', s: (n) => `${n} s ago`, m: (n) => `${n} min ago`, h: (n) => `${n} h ago`, d: (n) => `${n} ${n === 1 ? 'day' : 'days'} ago` },
    noAlerts: 'No open alerts',
    moreAlerts: (n, group) => `and ${n} more ${group} alert${n === '1' ? '' : 's'}`,
    sourceFailing: (src) => `${src} failing`,
    sourceDown: (src) => `${src} down`,
    lastGood: (t) => `figure of ${t}`,
    sourcesFailing: (list) => `Sources failing: ${list}`,
    completenessTitle: 'Latest reports',
    completeness: (received, expected) => `${received}/${expected}${expected > 1 ? ' provinces' : ''}`,
    lateCount: (n) => `${n} late`,
    moreReports: (n) => `+${n} more`,
    pending: 'pending',
    acknowledged: (by) => (by ? `acknowledged (${by})` : 'acknowledged'),
    running: (list) => `Collecting: ${list}`,
    lastRun: (src, outcome, t) => `Last collection: ${src} · ${outcome} · ${t}`,
    outcome: { success: 'success', partial: 'partial', failed: 'failed', skipped: 'skipped', interrupted: 'interrupted', running: 'running' },
    period: {
      D: (y, m, d) => `${d} ${MONTHS_EN[m - 1]} ${y}`,
      M: (y, m) => `${MONTHS_EN[m - 1]} ${y}`,
      Q: (y, q) => `Q${q} ${y}`,
      Y: (y) => `${y}`,
    },
    periodShort: {
      D: (y, m, d) => `${d} ${MONTHS_EN[m - 1]}`,
      M: (y, m) => `${MONTHS_EN[m - 1]} ${y}`,
      Q: (y, q) => `Q${q} ${y}`,
      Y: (y) => `${y}`,
    },
  },
};

export const UNIT_EN = {
  '%': '%', 'nghìn tỷ đồng': 'trillion VND', 'tỷ USD': 'billion USD', 'VND/USD': 'VND/USD',
  'nghìn lượt': 'thousand arrivals', 'lượt': 'visits', 'tài khoản': 'accounts', 'hồ sơ': 'dossiers',
  'giao dịch': 'transactions', 'tỷ đồng': 'billion VND', 'dịch vụ': 'services', 'phản ánh': 'petitions',
  'cuộc gọi': 'calls', 'văn bản': 'documents',
};

/** The English of a unit (the page's own table; the catalogue's units are in the feed's answer). */
export function unitLabel(unit, lang) {
  return lang === 'en' ? UNIT_EN[unit] || unit : unit;
}

/** A label of the catalogue the server gives the page (/display/wording.js), in `lang`, with its
 *  {placeholders} filled from `values`; Vietnamese where the entry has no `lang`, the key itself
 *  where the catalogue has no entry. */
export function label(key, lang, values = {}, catalogue = wording().catalogue || {}) {
  const entry = catalogue[key];
  const text = entry ? entry[lang] ?? entry.vi : key;
  return String(text).replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

/** The first letter in capitals, by the language's rules. */
export function capitalised(text, lang) {
  return text.charAt(0).toLocaleUpperCase(WORDS[lang].locale) + text.slice(1);
}
