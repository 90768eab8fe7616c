/*
 * The operations centre's wall display: key national indicators, the public-service portal's live
 * counters and the open alerts, kept current from the feed (/feed, docs/protocol.md).
 *
 * Plain JavaScript, no framework, no build step, no external resources. The page needs nothing but
 * the feed: the tiles, their names and units are in the table below (copied from
 * storage/reference/indicators.csv).
 *
 * How it talks to the feed:
 *   - Browsers cannot set headers on a WebSocket, so the token goes in the first message (hello),
 *     never in a URL. It is kept in localStorage so a wall screen asks for it once.
 *   - hello carries the filter and, after the first connection, the last (epoch, seq) received, so a
 *     reconnect resumes: the server replays only what was missed, or sends a fresh snapshot.
 *   - Reconnects back off exponentially with jitter, so a restarted server is not hit by every screen
 *     at the same instant. Close codes 4401/4403 are final: the token form comes back.
 *
 * Test hooks (stable): tiles [data-indicator] with .value .unit .period .change .age .spark and
 * data-stale="none|fresh|amber|red"; counters [data-counter] with .value .age; #conn[data-state]
 * ("connecting|live|reconnecting|auth") and [data-resumed]; #ticker items [data-alert-id];
 * window.__opscentre (read-only state, never the token).
 */
(() => {
  'use strict';

  // --- settings ---------------------------------------------------------------------------------

  const AREA = 'VN';
  const STORAGE_TOKEN = 'opscentre.token';
  const STORAGE_LANG = 'opscentre.lang';
  const TIME_ZONE = 'Asia/Ho_Chi_Minh'; // the centre's time, whatever the screen's own zone is

  const HISTORY_POINTS = 24; // sparkline length per series
  const MAX_SOURCES = 8; // sources kept per indicator (several agencies may report one indicator)
  const MAX_REPLACED = 4; // earlier values of a revised figure that its tile is told apart from
  const MAX_DECIMALS = 20; // Intl.NumberFormat's limit; enough to tell any two doubles apart
  // Open alerts kept. The server sends every open alert; this only bounds a runaway flood, and the
  // eviction (see takeAlert) takes from the rule with the most, so it cannot hide another rule.
  const MAX_ALERTS = 5000;
  // A rule with more open alerts than this (plus one) shows this many on the ticker and one item
  // counting the rest: a flood of one rule must not push another off the wall.
  const TICKER_PER_RULE = 3;
  const LONG_NAME = 48; // characters: a tile name longer than this is set smaller (see .name[data-long])
  const MAX_RUNNING = 20;

  const BACKOFF_FIRST_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const STABLE_AFTER_MS = 30000; // a connection live this long resets the backoff
  const WELCOME_TIMEOUT_MS = 10000; // no welcome by then: drop the socket and retry
  const SILENCE_TIMEOUT_MS = 60000; // heartbeats come every few seconds; this much silence = dead link
  const HISTORY_RETRY_MS = 5000;
  const COUNT_UP_MS = 1500;

  // 4401 (wrong or missing token) and 4403 (origin refused): retrying would only fail again.
  const TERMINAL_CLOSE = new Set([4401, 4403]);

  // --- what the wall shows (from storage/reference/indicators.csv) -------------------------------
  // decimals: how the figure is written; kind "rate" makes changes "percentage points".

  const TILES = [
    { code: 'GDP_GROWTH', freq: 'Q', unit: '%', kind: 'rate', decimals: 2,
      vi: 'Tốc độ tăng tổng sản phẩm trong nước (GDP)', en: 'GDP growth rate (year on year)' },
    { code: 'CPI_YOY', freq: 'M', unit: '%', kind: 'rate', decimals: 2,
      vi: 'Chỉ số giá tiêu dùng so với cùng kỳ năm trước', en: 'Consumer price index year on year' },
    { code: 'IIP_YOY', freq: 'M', unit: '%', kind: 'rate', decimals: 1,
      vi: 'Chỉ số sản xuất toàn ngành công nghiệp', en: 'Index of industrial production year on year' },
    { code: 'RETAIL_SALES', freq: 'M', unit: 'nghìn tỷ đồng', kind: 'flow', decimals: 1,
      vi: 'Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng', en: 'Retail sales of goods and consumer services' },
    { code: 'EXPORTS', freq: 'M', unit: 'tỷ USD', kind: 'flow', decimals: 2,
      vi: 'Kim ngạch xuất khẩu hàng hóa', en: 'Merchandise exports' },
    { code: 'IMPORTS', freq: 'M', unit: 'tỷ USD', kind: 'flow', decimals: 2,
      vi: 'Kim ngạch nhập khẩu hàng hóa', en: 'Merchandise imports' },
    { code: 'FDI_REGISTERED', freq: 'M', unit: 'tỷ USD', kind: 'flow', decimals: 2,
      vi: 'Vốn đầu tư trực tiếp nước ngoài đăng ký', en: 'Foreign direct investment registered' },
    { code: 'BUDGET_REVENUE', freq: 'M', unit: 'nghìn tỷ đồng', kind: 'flow', decimals: 1,
      vi: 'Tổng thu ngân sách nhà nước', en: 'State budget revenue' },
    { code: 'CREDIT_GROWTH', freq: 'M', unit: '%', kind: 'rate', decimals: 2,
      vi: 'Tăng trưởng tín dụng so với đầu năm', en: 'Credit growth since start of year' },
    { code: 'USD_CENTRAL_RATE', freq: 'D', unit: 'VND/USD', kind: 'level', decimals: 0,
      vi: 'Tỷ giá trung tâm VND/USD', en: 'Central exchange rate' },
    { code: 'UNEMPLOYMENT_RATE', freq: 'Q', unit: '%', kind: 'rate', decimals: 2,
      vi: 'Tỷ lệ thất nghiệp của lực lượng lao động trong độ tuổi', en: 'Unemployment rate of working-age labour force' },
    { code: 'INTL_ARRIVALS', freq: 'M', unit: 'nghìn lượt', kind: 'flow', decimals: 1,
      vi: 'Khách quốc tế đến Việt Nam', en: 'International visitor arrivals' },
  ];

  // short: the label on the wall (the panel's heading already says "portal"); the full name is its
  // tooltip. A counter's label is one line, and must never be cut. The label says what is counted,
  // so a count shows no unit beside its figure (it would not fit a small screen); an amount's unit
  // is in its label.
  const COUNTERS = [
    { code: 'PORTAL_VISITS', unit: 'lượt', decimals: 0, short: { vi: 'Lượt truy cập', en: 'Visits' },
      vi: 'Lượt truy cập Cổng Dịch vụ công quốc gia', en: 'National public service portal visits' },
    { code: 'PORTAL_ACCOUNTS', unit: 'tài khoản', decimals: 0, short: { vi: 'Tài khoản đăng ký', en: 'Registered accounts' },
      vi: 'Số tài khoản đăng ký trên Cổng', en: 'Registered portal accounts' },
    { code: 'PORTAL_DOSSIERS_SYNCED', unit: 'hồ sơ', decimals: 0, short: { vi: 'Hồ sơ đồng bộ trạng thái', en: 'Dossiers status-synced' },
      vi: 'Số hồ sơ đồng bộ trạng thái', en: 'Dossiers with synchronised status' },
    { code: 'PORTAL_DOSSIERS_ONLINE', unit: 'hồ sơ', decimals: 0, short: { vi: 'Hồ sơ trực tuyến', en: 'Dossiers submitted online' },
      vi: 'Số hồ sơ thực hiện trực tuyến', en: 'Dossiers submitted online' },
    { code: 'PORTAL_PAYMENTS', unit: 'giao dịch', decimals: 0, short: { vi: 'Giao dịch thanh toán', en: 'Online payments' },
      vi: 'Số giao dịch thanh toán trực tuyến', en: 'Online payment transactions' },
    { code: 'PORTAL_PAYMENT_AMOUNT', unit: 'tỷ đồng', decimals: 1, short: { vi: 'Thanh toán (tỷ đồng)', en: 'Paid online (billion VND)' },
      vi: 'Số tiền thanh toán trực tuyến', en: 'Online payment amount' },
    { code: 'PORTAL_SERVICES', unit: 'dịch vụ', decimals: 0, short: { vi: 'Dịch vụ công tích hợp', en: 'Services integrated' },
      vi: 'Số dịch vụ công trực tuyến tích hợp trên Cổng', en: 'Online public services integrated on the portal' },
    { code: 'PORTAL_FEEDBACK', unit: 'phản ánh', decimals: 0, short: { vi: 'Phản ánh, kiến nghị', en: 'Feedback and petitions' },
      vi: 'Số phản ánh kiến nghị tiếp nhận', en: 'Citizen feedback and petitions received' },
    { code: 'PORTAL_CALLS', unit: 'cuộc gọi', decimals: 0, short: { vi: 'Cuộc gọi tổng đài', en: 'Hotline calls' },
      vi: 'Số cuộc gọi tổng đài hỗ trợ', en: 'Support hotline calls' },
    { code: 'EDOCS_EXCHANGED', unit: 'văn bản', decimals: 0, short: { vi: 'Văn bản điện tử liên thông', en: 'E-documents exchanged' },
      vi: 'Số văn bản điện tử gửi nhận qua Trục liên thông văn bản quốc gia',
      en: 'Electronic documents exchanged over the national document axis' },
  ].map((c) => ({ ...c, freq: 'live', kind: 'counter' }));

  const UNIT_EN = {
    '%': '%', 'nghìn tỷ đồng': 'trillion VND', 'tỷ USD': 'billion USD', 'VND/USD': 'VND/USD',
    'nghìn lượt': 'thousand arrivals', 'lượt': 'visits', 'tài khoản': 'accounts', 'hồ sơ': 'dossiers',
    'giao dịch': 'transactions', 'tỷ đồng': 'billion VND', 'dịch vụ': 'services', 'phản ánh': 'petitions',
    'cuộc gọi': 'calls', 'văn bản': 'documents',
  };

  const META = new Map([...TILES, ...COUNTERS].map((m) => [m.code, m]));

  // Everything the page shows and nothing else: the server then sends no other series; the ticker
  // shows every alert in the country (all_alerts), not only those about these figures.
  const FILTER = { indicators: [...META.keys()], areas: [AREA], all_alerts: true };

  // How old a figure may get. Live counters: since it was collected. Periodic figures: since the
  // period ended, i.e. how late the next period is past its usual publication.
  const DAY = 86400000;
  const STALE = {
    live: { amber: 30 * 1000, red: 120 * 1000 },
    D: { amber: 3 * DAY, red: 7 * DAY },
    M: { amber: 55 * DAY, red: 85 * DAY },
    Q: { amber: 100 * DAY, red: 140 * DAY },
    Y: { amber: 430 * DAY, red: 500 * DAY },
  };

  // --- words ------------------------------------------------------------------------------------

  const ROMAN = ['', 'I', 'II', 'III', 'IV'];
  const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  const WORDS = {
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
      status: { official: 'Chính thức', provisional: 'Sơ bộ', estimated: 'Ước tính' },
      revised: 'đã điều chỉnh',
      stale: { amber: 'Chậm cập nhật', red: 'Quá hạn' },
      versus: (p) => `so với ${p}`,
      points: 'điểm %',
      perMinute: '/phút',
      ago: { now: 'vừa xong', s: (n) => `${n} giây trước`, m: (n) => `${n} phút trước`, h: (n) => `${n} giờ trước`, d: (n) => `${n} ngày trước` },
      noAlerts: 'Không có cảnh báo đang mở',
      severity: { info: 'Thông tin', warning: 'Cảnh báo', critical: 'Nghiêm trọng' },
      // Alerts worded from their rule and typed params (AlertInfo.params), never from an error's text.
      rules: {
        'source.failing': (a) => (a.open
          ? `Nguồn ${a.source} bị ngắt mạch${a.failures != null ? ` sau ${a.failures} lần lỗi liên tiếp` : ''}`
          : `Nguồn ${a.source} ${a.failures == null ? 'đang lỗi' : a.failures === '1' ? 'bị lỗi' : `lỗi ${a.failures} lần liên tiếp`}`)
          + (a.http != null ? ` (mã HTTP ${a.http})` : ''),
        'source.down': (a) => `Nguồn ${a.source} ngừng hoạt động${a.lastGood ? `, số liệu tốt gần nhất lúc ${a.lastGood}` : ''}`,
        'revision.watch': (a) => `Số liệu bị điều chỉnh${a.revision ? ` lần ${a.revision}` : ''}: ${a.what} ${a.previous} → ${a.value}`
          + (a.reasons.length ? ` (${a.reasons.map((r) => ({
            threshold: `thay đổi quá ${a.limit}`, closed: 'kỳ đã khóa sổ', repeated: 'điều chỉnh nhiều lần',
          })[r] || r).join(', ')})` : ''),
        'anomaly.band': (a) => `${a.what} ${a.value} ${({
          warning_high: 'vượt ngưỡng cảnh báo trên', warning_low: 'dưới ngưỡng cảnh báo dưới',
          critical_high: 'vượt ngưỡng nghiêm trọng trên', critical_low: 'dưới ngưỡng nghiêm trọng dưới',
        })[a.band] || 'ngoài ngưỡng'} ${a.bound}`,
        'anomaly.outlier': (a) => `Giá trị bất thường: ${a.what} ${a.value}, kỳ trước ${a.previous}`,
        'counter.decreased': (a) => `Bộ đếm giảm: ${a.what} ${a.previous} → ${a.value}`,
        'source.rejected': (a) => `Nguồn ${a.source}: ${a.count ?? 'một số'} bản ghi bị loại`,
        'figures.revised': (a) => `Số liệu chính thức bị điều chỉnh: ${a.what} ${a.previous} → ${a.value}`
          + (a.more ? ` và ${a.more} số liệu khác` : ''),
        'storage.write_failed': () => 'Không ghi được cơ sở dữ liệu: số liệu mới chưa được lưu',
        'report.late': (a) => `${a.who} chưa gửi báo cáo ${a.indicator} ${a.period}${a.due ? ` (hạn ${a.due})` : ''}`,
        'crosscheck.provinces': (a) => `${a.indicator} ${a.period}: tổng ${a.count ?? ''} tỉnh, thành phố ${a.value}, `
          + `khác số cả nước ${a.reference}${a.refSource ? ` (${a.refSource})` : ''}`,
        'crosscheck.derived': (a) => `${a.indicator} ${a.period}: ${a.value}${a.sourceIn}, khác giá trị tính từ các thành phần ${a.reference}`,
        'crosscheck.sources': (a) => `Hai nguồn khác nhau: ${a.what} ${a.value} (${a.source}) và ${a.reference} (${a.refSource})`,
        'data.stale': (a) => `Nguồn ${a.source} không có số liệu mới${a.lastGood ? ` từ ${a.lastGood}` : ''}`,
        generic: (a) => `Cảnh báo ${a.rule}${a.what ? `: ${a.what}` : ''}${a.value ? ` ${a.value}` : ''}`,
      },
      // The ticker's item for the rest of one rule's alerts: "và 12 cảnh báo sửa số liệu khác".
      moreAlerts: (n, rule) => `và ${n} cảnh báo ${({
        'source.failing': 'nguồn lỗi', 'source.down': 'nguồn ngừng hoạt động', 'source.rejected': 'bản ghi bị loại',
        'figures.revised': 'điều chỉnh số liệu chính thức', 'revision.watch': 'sửa số liệu',
        'report.late': 'báo cáo trễ hạn', 'crosscheck.provinces': 'đối chiếu tỉnh, thành phố',
        'crosscheck.derived': 'đối chiếu số liệu tính toán', 'crosscheck.sources': 'đối chiếu hai nguồn',
        'anomaly.band': 'vượt ngưỡng', 'anomaly.outlier': 'số liệu bất thường', 'counter.decreased': 'bộ đếm',
        'data.stale': 'nguồn chậm cập nhật', 'storage.write_failed': 'ghi cơ sở dữ liệu',
      })[rule] || rule} khác`,
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
      status: { official: 'Official', provisional: 'Provisional', estimated: 'Estimate' },
      revised: 'revised',
      stale: { amber: 'Late', red: 'Overdue' },
      versus: (p) => `vs ${p}`,
      points: 'pp',
      perMinute: '/min',
      ago: { now: 'just now', s: (n) => `${n} s ago`, m: (n) => `${n} min ago`, h: (n) => `${n} h ago`, d: (n) => `${n} ${n === 1 ? 'day' : 'days'} ago` },
      noAlerts: 'No open alerts',
      severity: { info: 'Info', warning: 'Warning', critical: 'Critical' },
      rules: {
        'source.failing': (a) => (a.open
          ? `Source ${a.source}: circuit open${a.failures != null ? ` after ${a.failures} failures in a row` : ''}`
          : `Source ${a.source} ${a.failures == null ? 'is failing' : a.failures === '1' ? 'failed' : `failed ${a.failures} times in a row`}`)
          + (a.http != null ? ` (HTTP ${a.http})` : ''),
        'source.down': (a) => `Source ${a.source} is down${a.lastGood ? `, last good figures at ${a.lastGood}` : ''}`,
        'revision.watch': (a) => `Figure revised${a.revision ? ` (revision ${a.revision})` : ''}: ${a.what} ${a.previous} → ${a.value}`
          + (a.reasons.length ? `: ${a.reasons.map((r) => ({
            threshold: `changed by more than ${a.limit}`, closed: 'period already closed', repeated: 'revised repeatedly',
          })[r] || r).join(', ')}` : ''),
        'anomaly.band': (a) => `${a.what} ${a.value} ${({
          warning_high: 'above its warning limit', warning_low: 'below its warning limit',
          critical_high: 'above its critical limit', critical_low: 'below its critical limit',
        })[a.band] || 'outside its limits'} ${a.bound}`,
        'anomaly.outlier': (a) => `Outlier: ${a.what} ${a.value}, previous period ${a.previous}`,
        'counter.decreased': (a) => `Counter went down: ${a.what} ${a.previous} → ${a.value}`,
        'source.rejected': (a) => `Source ${a.source}: ${a.count ?? 'some'} records rejected`,
        'figures.revised': (a) => `Official figure revised: ${a.what} ${a.previous} → ${a.value}`
          + (a.more ? ` and ${a.more} more` : ''),
        'storage.write_failed': () => 'The database cannot be written: new figures are not being stored',
        'report.late': (a) => `${a.who} has not reported ${a.indicator} for ${a.period}${a.due ? ` (due ${a.due})` : ''}`,
        'crosscheck.provinces': (a) => `${a.indicator} ${a.period}: ${a.count ?? ''} provinces add up to ${a.value}, `
          + `not the national ${a.reference}${a.refSource ? ` (${a.refSource})` : ''}`,
        'crosscheck.derived': (a) => `${a.indicator} ${a.period}: ${a.value}${a.sourceIn} differs from its parts, ${a.reference}`,
        'crosscheck.sources': (a) => `Two sources disagree: ${a.what} ${a.value} (${a.source}) and ${a.reference} (${a.refSource})`,
        'data.stale': (a) => `Source ${a.source}: no new figures${a.lastGood ? ` since ${a.lastGood}` : ''}`,
        generic: (a) => `Alert ${a.rule}${a.what ? `: ${a.what}` : ''}${a.value ? ` ${a.value}` : ''}`,
      },
      moreAlerts: (n, rule) => `and ${n} more ${({
        'source.failing': 'source failure', 'source.down': 'source down', 'source.rejected': 'rejected-records',
        'figures.revised': 'official revision', 'revision.watch': 'revision',
        'report.late': 'late-report', 'crosscheck.provinces': 'province cross-check',
        'crosscheck.derived': 'derived-figure cross-check', 'crosscheck.sources': 'source cross-check',
        'anomaly.band': 'limit', 'anomaly.outlier': 'unusual-figure', 'counter.decreased': 'counter',
        'data.stale': 'stale-source', 'storage.write_failed': 'database',
      })[rule] || rule} alert${n === '1' ? '' : 's'}`,
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

  // --- small helpers ----------------------------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);

  /** localStorage, but a screen with storage disabled still works (for this session only). */
  const storage = {
    memory: new Map(),
    get(key) {
      try { return window.localStorage.getItem(key); } catch { return this.memory.get(key) ?? null; }
    },
    set(key, value) {
      try { window.localStorage.setItem(key, value); } catch { this.memory.set(key, value); }
    },
    remove(key) {
      try { window.localStorage.removeItem(key); } catch { /* storage disabled */ }
      this.memory.delete(key);
    },
  };

  /** Set text only when it changed: the once-a-second refresh then touches almost no DOM. */
  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  function setData(el, key, value) {
    if (el && el.dataset[key] !== value) el.dataset[key] = value;
  }

  const parseTime = (text) => {
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? ms : NaN;
  };

  // --- state ------------------------------------------------------------------------------------

  const state = {
    lang: storage.get(STORAGE_LANG) === 'en' ? 'en' : 'vi',
    token: storage.get(STORAGE_TOKEN) || null,

    ws: null,
    conn: 'connecting', // connecting | live | reconnecting | auth
    everLive: false,
    attempt: 0, // reconnect attempts since the last stable connection
    retryAt: 0,
    timers: { retry: 0, welcome: 0, silence: 0, stable: 0 },
    position: null, // {epoch, seq}: the last event received, for resume
    lastWelcome: null,
    authProblem: null, // why the token form is shown (see showAuth)
    lastMessageAt: 0,
    clockOffset: 0, // server time minus this screen's time (from heartbeats)

    series: new Map(), // indicator -> Map(source -> figure): newest figure per series
    history: new Map(), // indicator -> Map(source -> [{period, value, revision}]) oldest first
    historyLoaded: new Set(), // indicators whose history query has been answered
    historyAsked: new Map(), // indicator -> timer or true (query pending)
    historyWanted: new Set(), // queries lost with the last connection, to ask again after a resume
    alerts: new Map(), // id -> alert (open ones only)
    running: new Map(), // run id -> run
    lastRun: null,
    counters: new Map(), // code -> {shown, from, target, start, previous}
    // From the catalogue query: names in both languages for what alerts are about.
    catalogue: { asked: false, loaded: false, indicators: new Map(), areas: new Map(), agencies: new Map() },
    circuits: new Map(), // source (lower case) -> closed | open | half_open, from the sources query
    sourceStates: null, // source (lower case) -> failing | down; null: to be worked out again
    sourcesTimer: 0,
    // The reporting query's answer (completeness per indicator, latest period due); unsupported: the
    // server does not know the query (the panel stays hidden, and it is not asked again).
    reporting: { rows: null, unsupported: false, timer: 0 },

    stats: { connects: 0, welcomes: 0, resumes: 0, snapshots: 0, messages: 0, ignored: 0 },
  };

  const W = () => WORDS[state.lang];
  const serverNow = () => Date.now() + state.clockOffset;

  // --- formatting -------------------------------------------------------------------------------

  const numberFormats = new Map();

  /** `value` with at least `decimals` decimals, and as many more as it takes to print differently
   *  from each of `others` (the revisions it replaced): 1.111345 revised to 1.11 is never "1,11"
   *  twice. */
  function formatApart(value, decimals, others) {
    let d = decimals;
    for (const other of others || []) {
      if (!Number.isFinite(other) || other === value) continue;
      while (d < MAX_DECIMALS && formatNumber(value, d) === formatNumber(other, d)) d++;
    }
    return formatNumber(value, d);
  }

  function formatNumber(value, decimals) {
    if (!Number.isFinite(value)) return '—';
    const key = `${state.lang}:${decimals}`;
    let nf = numberFormats.get(key);
    if (!nf) {
      nf = new Intl.NumberFormat(W().locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
      numberFormats.set(key, nf);
    }
    return nf.format(value);
  }

  const timeFormats = new Map();

  function formatTime(ms, options) {
    if (!Number.isFinite(ms)) return '';
    const key = `${state.lang}:${JSON.stringify(options)}`;
    let f = timeFormats.get(key);
    if (!f) {
      try {
        f = new Intl.DateTimeFormat(W().locale, { timeZone: TIME_ZONE, hourCycle: 'h23', ...options });
      } catch {
        f = new Intl.DateTimeFormat(W().locale, { hourCycle: 'h23', ...options }); // no time zone data
      }
      timeFormats.set(key, f);
    }
    return f.format(new Date(ms));
  }

  const clockTime = (ms) => formatTime(ms, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const shortTime = (ms) => formatTime(ms, { hour: '2-digit', minute: '2-digit' });
  const dayKey = (ms) => formatTime(ms, { year: 'numeric', month: '2-digit', day: '2-digit' });

  function unitLabel(unit) {
    return state.lang === 'en' ? UNIT_EN[unit] || unit : unit;
  }

  /** "2 phút trước" / "2 min ago". */
  function ago(ms) {
    const a = W().ago;
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 5) return a.now;
    if (s < 60) return a.s(s);
    const m = Math.floor(s / 60);
    if (m < 60) return a.m(m);
    const h = Math.floor(m / 60);
    if (h < 48) return a.h(h);
    return a.d(Math.floor(h / 24));
  }

  // --- alerts in words ----------------------------------------------------------------------------
  // The ticker words each alert in the page's language from its rule and typed params; the server's
  // Vietnamese message is only a fallback (Vietnamese page, a rule this page does not know), and an
  // error's text (the alert's detail) is never shown on the wall.

  /** Digits after the decimal mark that write `value` exactly (its shortest round trip), at most 6:
   *  a revised figure never reads the same as the figure it revised. */
  function exactDecimals(value) {
    const text = String(value);
    if (text.includes('e') || !text.includes('.')) return 0;
    return Math.min(text.split('.')[1].replace(/0+$/, '').length, 6);
  }

  function indicatorName(code) {
    const info = state.catalogue.indicators.get(code);
    if (info) return String(state.lang === 'en' ? info.name_en : info.name_vi);
    return META.has(code) ? META.get(code)[state.lang] : code;
  }

  /** The frequency of an indicator (catalogue, the page's own table, or the period's form). */
  function frequencyOf(code, period) {
    const known = state.catalogue.indicators.get(code)?.frequency || META.get(code)?.freq;
    if (known) return known;
    if (/^\d{4}-\d{2}-\d{2}$/.test(period)) return 'D';
    if (/^\d{4}-\d{2}$/.test(period)) return 'M';
    if (/^\d{4}-Q[1-4]$/.test(period)) return 'Q';
    return /^\d{4}$/.test(period) ? 'Y' : 'live';
  }

  const areaName = (code) => String(state.catalogue.areas.get(code) || code); // place names are not translated

  function agencyName(code) {
    const info = state.catalogue.agencies.get(code);
    return info ? String(state.lang === 'en' ? info.name_en : info.name_vi) : code;
  }

  // What a rule's wording needs; without it the alert is worded generically.
  const RULE_NEEDS = {
    'source.failing': ['source'], 'source.down': ['source'], 'source.rejected': ['source'],
    'figures.revised': ['what', 'value', 'previous'], 'storage.write_failed': [],
    'report.late': ['who', 'indicator', 'period'],
    'crosscheck.provinces': ['indicator', 'period', 'value', 'reference'],
    'crosscheck.derived': ['indicator', 'period', 'value', 'reference'],
    'crosscheck.sources': ['what', 'value', 'reference', 'source', 'refSource'],
    'data.stale': ['source'],
    'revision.watch': ['what', 'value', 'previous'],
    'anomaly.band': ['what', 'value', 'bound'],
    'anomaly.outlier': ['what', 'value', 'previous'],
    'counter.decreased': ['what', 'value', 'previous'],
  };

  /** A server message fit for the wall: no URL, nothing percent-encoded (older servers quoted errors). */
  const presentable = (text) => typeof text === 'string' && text !== '' && !/:\/\/|%[0-9A-Fa-f]{2}/.test(text);

  function alertText(alert) {
    const w = W();
    const p = alert.params && typeof alert.params === 'object' ? alert.params : {};
    const rule = String(alert.rule || '');
    const finite = (v) => v != null && Number.isFinite(Number(v));
    // anomaly.band's threshold is the limit crossed (a figure); revision.watch's a relative change
    const bound = rule === 'anomaly.band' ? p.threshold : null;
    const figures = [p.value, p.previous_value, p.reference_value, bound].filter(finite).map(Number);
    const digits = figures.length ? Math.max(...figures.map(exactDecimals)) : 0;
    const num = (v) => (finite(v) ? formatNumber(Number(v), digits) : '');
    const indicator = p.indicator ? indicatorName(String(p.indicator)) : '';
    const period = p.period ? periodLabel(String(p.period), frequencyOf(String(p.indicator || ''), String(p.period))) : '';
    const area = p.area && p.area !== AREA ? areaName(String(p.area)) : '';
    const args = {
      rule,
      source: String(p.source || (rule.startsWith('source.') ? alert.subject : '') || ''),
      failures: finite(p.failures) ? formatNumber(Number(p.failures), 0) : null,
      http: finite(p.http_status) ? String(p.http_status) : null,
      open: alert.severity === 'critical',
      count: finite(p.count) ? formatNumber(Number(p.count), 0) : null,
      more: finite(p.count) && p.count > 1 ? formatNumber(p.count - 1, 0) : null,
      indicator,
      period,
      what: [indicator, area, period].filter(Boolean).join(' '),
      value: num(p.value),
      previous: num(p.previous_value),
      reference: num(p.reference_value),
      refSource: String(p.reference_source || ''),
      sourceIn: p.source ? ` (${p.source})` : '',
      who: p.area ? areaName(String(p.area)) : p.agency ? agencyName(String(p.agency)) : '',
      due: p.due ? dateText(String(p.due)) : '',
      revision: finite(p.revision) ? formatNumber(Number(p.revision), 0) : '',
      reasons: typeof p.reason === 'string' && p.reason ? p.reason.split(',') : [],
      band: String(p.reason || ''),
      bound: num(bound),
      limit: finite(p.threshold) ? `${formatNumber(Number(p.threshold) * 100, exactDecimals(Number(p.threshold) * 100))} %` : '',
      lastGood: p.last_good ? whenText(String(p.last_good)) : '',
    };
    const needs = RULE_NEEDS[rule];
    if (needs && needs.every((k) => args[k])) return w.rules[rule](args);
    if (state.lang === 'vi' && presentable(alert.message)) return String(alert.message);
    return w.rules.generic(args);
  }

  /** An instant as the ticker writes it: 09:05 today, else 09:05 with its day. */
  function whenText(iso) {
    const at = parseTime(iso);
    if (!Number.isFinite(at)) return '';
    return dayKey(at) === dayKey(serverNow()) ? shortTime(at) : `${shortTime(at)} ${dayKey(at)}`;
  }

  /** A date (2026-12-05) as written in a sentence: 5/12/2026, 5 Dec 2026. */
  function dateText(iso) {
    const p = parsePeriod(iso, 'D');
    if (!p) return iso;
    return state.lang === 'en' ? `${p.d} ${MONTHS_EN[p.m - 1]} ${p.y}` : `${p.d}/${p.m}/${p.y}`;
  }

  function takeCatalogue(data) {
    const cat = state.catalogue;
    cat.loaded = true;
    for (const i of data.indicators || []) if (i && i.code) cat.indicators.set(i.code, i);
    for (const a of data.areas || []) if (a && a.code && (!a.valid_to || !cat.areas.has(a.code))) cat.areas.set(a.code, a.name);
    for (const a of data.agencies || []) if (a && a.code) cat.agencies.set(a.code, a);
  }

  // --- periods ----------------------------------------------------------------------------------
  // Canonical forms (storage/periods.py): 2026-11-23 (D), 2026-10 (M), 2026-Q3 (Q), 2026 (Y), and
  // for live counters the UTC instant 2026-11-23T12:00:05Z.

  function parsePeriod(period, freq) {
    let m;
    if (freq === 'D' && (m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(period))) return { y: +m[1], m: +m[2], d: +m[3] };
    if (freq === 'M' && (m = /^(\d{4})-(\d{2})$/.exec(period))) return { y: +m[1], m: +m[2] };
    if (freq === 'Q' && (m = /^(\d{4})-Q([1-4])$/.exec(period))) return { y: +m[1], q: +m[2] };
    if (freq === 'Y' && (m = /^(\d{4})$/.exec(period))) return { y: +m[1] };
    return null;
  }

  /** When the period ends (the first instant after it), in ms; live: the instant itself. */
  function periodEnd(period, freq) {
    if (freq === 'live') return parseTime(period);
    const p = parsePeriod(period, freq);
    if (!p) return NaN;
    if (freq === 'D') return Date.UTC(p.y, p.m - 1, p.d + 1);
    if (freq === 'M') return Date.UTC(p.y, p.m, 1);
    if (freq === 'Q') return Date.UTC(p.y, p.q * 3, 1);
    return Date.UTC(p.y + 1, 0, 1);
  }

  /** The period just before (null for live counters or unreadable periods). */
  function previousPeriod(period, freq) {
    const p = parsePeriod(period, freq);
    if (!p) return null;
    const pad = (n) => String(n).padStart(2, '0');
    if (freq === 'D') {
      const d = new Date(Date.UTC(p.y, p.m - 1, p.d - 1));
      return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    }
    if (freq === 'M') return p.m === 1 ? `${p.y - 1}-12` : `${p.y}-${pad(p.m - 1)}`;
    if (freq === 'Q') return p.q === 1 ? `${p.y - 1}-Q4` : `${p.y}-Q${p.q - 1}`;
    return String(p.y - 1);
  }

  /** Compare two periods of one series: canonical forms sort as text; live instants by time. */
  function comparePeriods(a, b, freq) {
    if (freq === 'live') return parseTime(a) - parseTime(b);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function periodLabel(period, freq, short = false) {
    if (freq === 'live') return clockTime(parseTime(period));
    const p = parsePeriod(period, freq);
    if (!p) return period;
    const f = (short ? W().periodShort : W().period)[freq];
    return freq === 'Q' ? f(p.y, p.q) : f(p.y, p.m, p.d);
  }

  /** none | fresh | amber | red, and the age text, for the figure a tile or counter shows. */
  function staleness(fig, freq, now) {
    if (!fig) return { level: 'none', age: '' };
    const rule = STALE[freq] || STALE.M;
    const since = freq === 'live' ? fig.collectedAt : periodEnd(fig.period, freq);
    const age = now - since;
    let level = 'fresh';
    if (Number.isFinite(age)) {
      if (age > rule.red) level = 'red';
      else if (age > rule.amber) level = 'amber';
    }
    return { level, age: Number.isFinite(fig.collectedAt) ? ago(now - fig.collectedAt) : '' };
  }

  // --- the data ---------------------------------------------------------------------------------

  function figureOf(change) {
    return {
      indicator: change.indicator,
      source: String(change.source),
      period: String(change.period),
      value: Number(change.value),
      status: String(change.status || 'official'),
      revision: Number(change.revision) || 1,
      collectedAt: parseTime(change.collected_at),
      // The values this revision replaced (the feed's previous_value, and whatever this page showed
      // for the same period): the tile writes it with the digits needed to differ from them.
      replaced: change.previous_value == null || !Number.isFinite(Number(change.previous_value))
        ? [] : [Number(change.previous_value)],
    };
  }

  /** True when `fig` may replace `cur` for the same series: its (period, revision) is not older. */
  function notOlder(fig, cur, freq) {
    const c = comparePeriods(fig.period, cur.period, freq);
    return c > 0 || (c === 0 && fig.revision >= cur.revision);
  }

  /** Take one figure (the newest of its series) from a snapshot or a delta. Returns its indicator if kept. */
  function acceptFigure(change) {
    if (!change || change.area !== AREA || !META.has(change.indicator)) return null;
    const meta = META.get(change.indicator);
    const fig = figureOf(change);
    if (!Number.isFinite(fig.value)) return null;
    let bySource = state.series.get(fig.indicator);
    if (!bySource) state.series.set(fig.indicator, (bySource = new Map()));
    const cur = bySource.get(fig.source);
    if (cur && !notOlder(fig, cur, meta.freq)) return null; // a late, older message: keep what we have
    if (cur && cur.period === fig.period) {
      // A revision (or the same figure again, on a resume): remember what it replaced.
      const earlier = fig.revision > cur.revision && cur.value !== fig.value ? [cur.value] : [];
      fig.replaced = [...new Set([...fig.replaced, ...cur.replaced, ...earlier])].slice(-MAX_REPLACED);
    }
    bySource.set(fig.source, fig);
    trimSources(bySource, meta.freq, (f) => f.period);
    if (meta.freq !== 'live') addToHistory(fig, meta);
    return fig.indicator;
  }

  /** Keep at most MAX_SOURCES sources per indicator, dropping those with the oldest period. */
  function trimSources(bySource, freq, newest) {
    if (bySource.size <= MAX_SOURCES) return;
    const order = [...bySource.entries()].sort((a, b) => comparePeriods(newest(b[1]), newest(a[1]), freq));
    for (const [source] of order.slice(MAX_SOURCES)) bySource.delete(source);
  }

  /** The figure a tile shows: several sources may report one indicator; prefer the newest period,
   *  then the one collected last. */
  function bestFigure(code) {
    const bySource = state.series.get(code);
    if (!bySource) return null;
    const freq = META.get(code).freq;
    let best = null;
    for (const fig of bySource.values()) {
      if (!best) { best = fig; continue; }
      const c = comparePeriods(fig.period, best.period, freq);
      if (c > 0 || (c === 0 && fig.collectedAt > best.collectedAt)) best = fig;
    }
    return best;
  }

  function historyOf(code, source) {
    return state.history.get(code)?.get(source) || [];
  }

  /** Put a figure into its series' sparkline history (bounded), newest revision per period. */
  function addToHistory(fig, meta) {
    let bySource = state.history.get(fig.indicator);
    if (!bySource) state.history.set(fig.indicator, (bySource = new Map()));
    let points = bySource.get(fig.source);
    if (!points) bySource.set(fig.source, (points = []));
    const point = { period: fig.period, value: fig.value, revision: fig.revision };
    let i = points.length - 1;
    while (i >= 0 && comparePeriods(points[i].period, fig.period, meta.freq) > 0) i--;
    if (i >= 0 && points[i].period === fig.period) {
      if (fig.revision >= points[i].revision) points[i] = point;
      return;
    }
    const last = points[points.length - 1];
    const appended = i === points.length - 1; // after every point held: the series' new latest period
    points.splice(i + 1, 0, point);
    if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
    // A new latest period that does not follow the one before: periods were published while we
    // were away (a resume sends only each series' newest figure). Ask the history again.
    // So is a series' first figure: the same batch may have brought earlier periods too.
    if (appended && state.historyLoaded.has(fig.indicator)
        && (!last || previousPeriod(fig.period, meta.freq) !== last.period)) {
      askHistory(fig.indicator, 500);
    }
    trimSources(bySource, meta.freq, (pts) => (pts.length ? pts[pts.length - 1].period : ''));
  }

  /** A history answer replaces what we had for the indicator (it is complete as of the query). */
  function takeHistory(code, observations) {
    const meta = META.get(code);
    const bySource = new Map();
    for (const o of observations) {
      if (!o || o.area !== AREA || !Number.isFinite(Number(o.value))) continue;
      const source = String(o.source);
      let points = bySource.get(source);
      if (!points) bySource.set(source, (points = []));
      points.push({ period: String(o.period), value: Number(o.value), revision: Number(o.revision) || 1 });
    }
    for (const points of bySource.values()) {
      points.sort((a, b) => comparePeriods(a.period, b.period, meta.freq));
      if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
    }
    trimSources(bySource, meta.freq, (pts) => (pts.length ? pts[pts.length - 1].period : ''));
    state.history.set(code, bySource);
    state.historyLoaded.add(code);
    // Figures already held are never older than the answer; put them back in case they are newer.
    for (const fig of state.series.get(code)?.values() || []) addToHistory(fig, meta);
  }

  function askHistory(code, delay = 0) {
    if (!META.has(code) || META.get(code).freq === 'live' || state.historyAsked.has(code)) return;
    const send = () => {
      state.historyAsked.set(code, true);
      const ok = sendMessage({ type: 'query', id: `h-${code}`, query: { name: 'history', indicator: code, area: AREA } });
      if (!ok) state.historyAsked.delete(code);
    };
    if (delay > 0) state.historyAsked.set(code, setTimeout(send, delay));
    else send();
  }

  const REPORTING_QUERY = 'reporting';
  const REPORTING_EVERY_MS = 60000; // completeness moves with ingests and due dates: once a minute is plenty

  /** Completeness of the latest reports, now (or after `delay` ms), then once a minute. */
  function askReporting(delay = 0) {
    const r = state.reporting;
    clearTimeout(r.timer);
    if (r.unsupported) return;
    r.timer = setTimeout(() => {
      sendMessage({ type: 'query', id: REPORTING_QUERY, query: { name: 'reporting' } });
      askReporting(REPORTING_EVERY_MS);
    }, delay);
  }

  const CATALOGUE_QUERY = 'catalogue';
  const SOURCES_QUERY = 'sources';

  /** Each source's circuit breaker (the sources query), now or after `delay` ms (several runs ending
   *  together: asked once). */
  function askSources(delay = 0) {
    clearTimeout(state.sourcesTimer);
    const send = () => sendMessage({ type: 'query', id: SOURCES_QUERY, query: { name: 'sources' } });
    if (delay > 0) state.sourcesTimer = setTimeout(send, delay);
    else send();
  }

  /** The catalogue (names in both languages), once: it changes only with the server's configuration. */
  function askCatalogue() {
    if (state.catalogue.loaded || state.catalogue.asked) return;
    state.catalogue.asked = sendMessage({ type: 'query', id: CATALOGUE_QUERY, query: { name: 'catalogue' } });
  }

  /** Drop the queries in flight (their answers will not come); returns which indicators they were for. */
  function forgetHistoryQueries() {
    const codes = [...state.historyAsked.keys()];
    for (const pending of state.historyAsked.values()) if (pending !== true) clearTimeout(pending);
    state.historyAsked.clear();
    return codes;
  }

  // --- messages from the feed -------------------------------------------------------------------

  const POSITIONED = new Set(['snapshot', 'delta', 'alert', 'run', 'heartbeat']);

  const HANDLERS = {
    welcome(msg) {
      state.lastWelcome = {
        resumed: msg.resumed === true, epoch: msg.epoch, seq: msg.seq, user: msg.user, role: msg.role,
        serverVersion: msg.server_version, at: Date.now(),
      };
      state.stats.welcomes++;
      if (msg.resumed === true) {
        state.stats.resumes++;
        // Answers to history queries lost with the old connection will not come: ask again.
        for (const t of TILES) {
          if (!state.historyLoaded.has(t.code) || state.historyWanted.has(t.code)) askHistory(t.code);
        }
        state.historyWanted.clear();
        askCatalogue();
        askSources();
        askReporting();
      }
      setData($('#conn'), 'resumed', String(msg.resumed === true));
      state.everLive = true;
      clearTimeout(state.timers.welcome);
      clearTimeout(state.timers.stable);
      // Only a connection that stays up resets the backoff: one that the server keeps closing at
      // once (too slow, restarting) must not be retried every second.
      state.timers.stable = setTimeout(() => { state.attempt = 0; }, STABLE_AFTER_MS);
      setConn('live');
    },

    snapshot(msg) {
      // A fresh start (first connection, or the server could not resume us): rebuild from it.
      state.stats.snapshots++;
      if (state.position && state.position.epoch !== msg.epoch) {
        state.history.clear(); // another database: what we drew is not its history
        state.historyLoaded.clear();
      }
      state.series.clear();
      for (const o of msg.observations || []) acceptFigure(o);
      state.alerts.clear();
      state.sourceStates = null;
      for (const a of msg.alerts || []) takeAlert(a);
      state.running.clear();
      state.lastRun = null;
      for (const r of [...(msg.runs || [])].reverse()) takeRun(r, r.outcome === 'running' ? 'started' : 'finished');
      forgetHistoryQueries();
      state.historyWanted.clear();
      for (const t of TILES) askHistory(t.code);
      askCatalogue();
      askSources();
      state.reporting.unsupported = false; // perhaps another server, or an upgraded one
      askReporting();
      renderAll();
    },

    delta(msg) {
      const touched = new Set();
      for (const c of msg.changes || []) {
        const code = acceptFigure(c);
        if (code) touched.add(code);
      }
      // Older periods revised: they only matter to sparklines and "change since last period".
      for (const c of msg.revisions || []) {
        if (!c || c.area !== AREA || !META.has(c.indicator)) continue;
        const meta = META.get(c.indicator);
        if (meta.freq === 'live') continue;
        const fig = figureOf(c);
        if (Number.isFinite(fig.value)) { addToHistory(fig, meta); touched.add(fig.indicator); }
      }
      for (const code of touched) renderSeries(code);
    },

    alert(msg) {
      takeAlert(msg.alert);
      renderTicker();
      for (const code of META.keys()) refreshAge(code);
      renderCountersNote();
      // A report came in or fell late: completeness moved.
      if (msg.alert && msg.alert.rule === 'report.late') askReporting(1000);
    },

    run(msg) {
      takeRun(msg.run, msg.event);
      renderRuns();
      // A finished run may have opened or closed its source's circuit breaker.
      if (msg.event === 'finished') askSources(1000);
    },

    result(msg) {
      if (msg.id === REPORTING_QUERY && msg.data && msg.data.kind === 'reporting') {
        state.reporting.rows = Array.isArray(msg.data.rows) ? msg.data.rows : [];
        renderCompleteness();
        return;
      }
      if (msg.id === SOURCES_QUERY && msg.data && msg.data.kind === 'sources') {
        state.circuits = new Map((msg.data.sources || []).filter((x) => x && x.name)
          .map((x) => [String(x.name).toLowerCase(), String(x.circuit || 'closed')]));
        state.sourceStates = null;
        for (const code of META.keys()) refreshAge(code);
        renderCountersNote();
        return;
      }
      if (msg.id === CATALOGUE_QUERY && msg.data && msg.data.kind === 'catalogue') {
        takeCatalogue(msg.data);
        renderTicker();
        return;
      }
      if (typeof msg.id !== 'string' || !msg.id.startsWith('h-')) return;
      const code = msg.id.slice(2);
      state.historyAsked.delete(code);
      if (!META.has(code) || !msg.data || !Array.isArray(msg.data.observations)) return;
      takeHistory(code, msg.data.observations);
      renderSeries(code);
    },

    error(msg) {
      if (msg.id === CATALOGUE_QUERY) { state.catalogue.asked = false; return; } // asked again on the next snapshot
      if (msg.id === SOURCES_QUERY) return; // a server without the query: alerts alone tell
      if (msg.id === REPORTING_QUERY) {
        // A server that does not know the query: no panel. Anything else (rate limited): next minute.
        if (msg.code === 'bad_message' || msg.code === 'not_found') {
          state.reporting.unsupported = true;
          state.reporting.rows = null;
          clearTimeout(state.reporting.timer);
          renderCompleteness();
        }
        return;
      }
      if (typeof msg.id === 'string' && msg.id.startsWith('h-')) {
        const code = msg.id.slice(2);
        state.historyAsked.delete(code);
        if (msg.code === 'rate_limited') askHistory(code, HISTORY_RETRY_MS);
        return;
      }
      console.warn('opscentre feed error:', msg.code, msg.message);
    },

    heartbeat(msg) {
      const t = parseTime(msg.time);
      // Ages and staleness are measured on the server's clock: a wall PC's clock may drift.
      if (Number.isFinite(t)) state.clockOffset = t - Date.now();
    },
  };

  function onMessage(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    state.lastMessageAt = Date.now();
    state.stats.messages++;
    armSilenceTimer();
    const handler = Object.hasOwn(HANDLERS, msg.type) ? HANDLERS[msg.type] : null;
    if (!handler) { state.stats.ignored++; return; } // a newer server's message: not for us
    try {
      handler(msg);
    } catch (err) {
      console.error('opscentre display: could not handle a message', msg.type, err);
    }
    if (POSITIONED.has(msg.type) && typeof msg.epoch === 'string' && Number.isInteger(msg.seq)) {
      state.position = { epoch: msg.epoch, seq: msg.seq };
    }
    renderLastMessage();
  }

  function takeAlert(alert) {
    if (!alert || alert.id == null) return;
    state.sourceStates = null;
    if (alert.state === 'resolved') { state.alerts.delete(alert.id); return; }
    state.alerts.set(alert.id, alert);
    if (state.alerts.size > MAX_ALERTS) {
      // Drop the least recently updated alert of the rule with the most: a flood of one rule then
      // evicts its own, never the only alert of another rule.
      const byRule = new Map();
      for (const a of state.alerts.values()) {
        const list = byRule.get(a.rule) || [];
        list.push(a);
        byRule.set(a.rule, list);
      }
      const largest = [...byRule.values()].reduce((x, y) => (y.length > x.length ? y : x));
      const oldest = largest.reduce((x, y) => (parseTime(y.updated_at) < parseTime(x.updated_at) ? y : x));
      state.alerts.delete(oldest.id);
    }
  }

  function takeRun(run, event) {
    if (!run || run.id == null) return;
    if (event === 'started') {
      state.running.set(run.id, run);
      if (state.running.size > MAX_RUNNING) state.running.delete(state.running.keys().next().value);
    } else {
      state.running.delete(run.id);
      if (!state.lastRun || run.id >= state.lastRun.id) state.lastRun = run;
    }
  }

  // --- the connection -----------------------------------------------------------------------------

  function feedUrl() {
    // Same host and port as the page; wss when the page came over https. Never a token here.
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${window.location.host}/feed`;
  }

  function sendMessage(msg) {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  function clearTimers() {
    for (const key of Object.keys(state.timers)) {
      clearTimeout(state.timers[key]);
      state.timers[key] = 0;
    }
  }

  /** Leave the current socket without reacting to its close (we decide what comes next). */
  function detachSocket(code = 1000, reason = '') {
    const ws = state.ws;
    state.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(code, reason); } catch { /* already closed */ }
  }

  function connect() {
    clearTimers();
    detachSocket();
    for (const code of forgetHistoryQueries()) state.historyWanted.add(code);
    if (!state.catalogue.loaded) state.catalogue.asked = false; // an answer lost with the old socket
    if (!state.token) { showAuth(null); return; }
    setConn(state.everLive || state.attempt > 0 ? 'reconnecting' : 'connecting');
    state.stats.connects++;
    let ws;
    try {
      ws = new WebSocket(feedUrl());
    } catch (err) {
      console.error('opscentre display: cannot open the feed', err);
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    state.timers.welcome = setTimeout(() => {
      if (state.ws === ws) { detachSocket(4000, 'no welcome'); scheduleReconnect(); }
    }, WELCOME_TIMEOUT_MS);
    ws.onopen = () => {
      // The server gives a browser 5 s for this first message, which carries the token.
      const hello = { type: 'hello', token: state.token, filter: FILTER, client: 'opscentre-display/1' };
      if (state.position) hello.resume = { epoch: state.position.epoch, seq: state.position.seq };
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => { if (state.ws === ws && typeof ev.data === 'string') onMessage(ev.data); };
    ws.onerror = () => { /* a close event follows with the details */ };
    ws.onclose = (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      clearTimers();
      if (TERMINAL_CLOSE.has(ev.code)) {
        if (ev.code === 4401) { state.token = null; storage.remove(STORAGE_TOKEN); }
        showAuth({ code: ev.code, reason: ev.reason });
        return;
      }
      // 1001 (server going away), 4008 (too slow), 4009 (resync), network loss...: come back and resume.
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(state.timers.retry);
    // 1 s doubling to 30 s; each wait drawn between half and all of that, so that the screens of
    // a restarted server do not all come back at the same instant.
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(state.attempt, 10));
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    state.attempt++;
    state.retryAt = Date.now() + delay;
    state.timers.retry = setTimeout(connect, delay);
    setConn('reconnecting');
  }

  function armSilenceTimer() {
    clearTimeout(state.timers.silence);
    const ws = state.ws;
    // A link can die without a close (a cable pulled): no heartbeat for this long means gone.
    state.timers.silence = setTimeout(() => {
      if (state.ws === ws) { detachSocket(4000, 'silent'); scheduleReconnect(); }
    }, SILENCE_TIMEOUT_MS);
  }

  function setConn(conn) {
    state.conn = conn;
    const el = $('#conn');
    setData(el, 'state', conn);
    if (conn !== 'live') setData(el, 'resumed', 'false');
    renderConn();
  }

  // --- the token form ---------------------------------------------------------------------------

  /** Ask for the token; `problem` is null, {empty: true}, or the close {code, reason} that refused it. */
  function showAuth(problem) {
    clearTimers();
    detachSocket();
    state.authProblem = problem;
    setConn('auth');
    $('#auth').hidden = false;
    renderAuthError();
    $('#token-input').focus();
  }

  function renderAuthError() {
    const problem = state.authProblem;
    const err = $('#token-error');
    let text = '';
    if (problem?.empty) text = W().tokenEmpty;
    else if (problem?.code) {
      // Our words, then the server's own reason and the code, for whoever has to fix it.
      const words = W().closeReason[problem.code] || '';
      text = `${words} (${problem.code}${problem.reason ? `: ${problem.reason}` : ''})`;
    }
    setText(err, text);
    err.hidden = !text;
  }

  function submitToken(ev) {
    ev.preventDefault(); // handled here: the form must never be sent anywhere by the browser
    const input = $('#token-input');
    const token = input.value.trim();
    if (!token) {
      state.authProblem = { empty: true };
      renderAuthError();
      return;
    }
    input.value = '';
    state.authProblem = null;
    state.token = token;
    storage.set(STORAGE_TOKEN, token);
    $('#auth').hidden = true;
    state.attempt = 0;
    connect();
  }

  function changeToken() {
    state.token = null;
    storage.remove(STORAGE_TOKEN);
    showAuth(null);
  }

  // --- building the page --------------------------------------------------------------------------

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const tileEls = new Map();
  const counterEls = new Map();

  function el(tag, className, parent) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (parent) parent.appendChild(node);
    return node;
  }

  function buildTiles() {
    const root = $('#tiles');
    for (const meta of TILES) {
      const tile = el('article', 'tile', root);
      tile.dataset.indicator = meta.code;
      tile.dataset.stale = 'none';
      const parts = { tile, name: el('h3', 'name', tile) };
      const reading = el('div', 'reading', tile);
      parts.value = el('span', 'value', reading);
      parts.unit = el('span', 'unit', reading);
      const meta2 = el('div', 'meta', tile);
      parts.period = el('span', 'period', meta2);
      parts.status = el('span', 'status', meta2); // provisional, estimate, revised
      parts.change = el('span', 'change', meta2);
      parts.spark = document.createElementNS(SVG_NS, 'svg');
      parts.spark.setAttribute('class', 'spark');
      parts.spark.setAttribute('viewBox', '0 0 100 30');
      parts.spark.setAttribute('preserveAspectRatio', 'none');
      parts.spark.setAttribute('aria-hidden', 'true');
      parts.spark.dataset.points = '0';
      tile.appendChild(parts.spark);
      const foot = el('footer', 'tile-foot', tile);
      parts.age = el('span', 'age', foot);
      parts.sourceNote = el('span', 'source-note', foot);
      parts.staleNote = el('span', 'stale-note', foot);
      parts.source = el('span', 'source', foot);
      tileEls.set(meta.code, parts);
    }
  }

  function buildCounters() {
    const root = $('#counters');
    for (const meta of COUNTERS) {
      const box = el('div', 'counter', root);
      box.dataset.counter = meta.code;
      box.dataset.stale = 'none';
      // A two-by-two grid: name and age above, the figure and its rate per minute below.
      const parts = { box, name: el('div', 'name', box), age: el('div', 'age', box) };
      const reading = el('div', 'reading', box);
      parts.value = el('span', 'value', reading);
      parts.rate = el('div', 'rate', box);
      counterEls.set(meta.code, parts);
      state.counters.set(meta.code, { shown: NaN, from: NaN, target: NaN, start: 0, figure: null, previous: null });
    }
  }

  // --- rendering ----------------------------------------------------------------------------------

  function renderAll() {
    for (const t of TILES) renderTile(t.code);
    for (const c of COUNTERS) renderCounter(c.code);
    renderCountersNote();
    renderCompleteness();
    renderTicker();
    renderRuns();
    renderConn();
    renderLastMessage();
  }

  function renderSeries(code) {
    if (tileEls.has(code)) renderTile(code);
    else if (counterEls.has(code)) renderCounter(code);
  }

  function renderTile(code) {
    const meta = META.get(code);
    const p = tileEls.get(code);
    const w = W();
    setText(p.name, meta[state.lang]);
    if (p.name.title !== meta[state.lang]) p.name.title = meta[state.lang];
    // A long name is set smaller so that it still fits two lines, in full.
    p.name.toggleAttribute('data-long', meta[state.lang].length > LONG_NAME);
    setText(p.unit, unitLabel(meta.unit));
    const fig = bestFigure(code);
    if (!fig) {
      setText(p.value, '—');
      setText(p.period, w.noData);
      setText(p.change, '');
      setText(p.status, '');
      setText(p.source, '');
      setData(p.tile, 'status', '');
      drawSparkline(p.spark, []);
      refreshAge(code);
      return;
    }
    setText(p.value, formatApart(fig.value, meta.decimals, fig.replaced));
    setText(p.period, periodLabel(fig.period, meta.freq));
    setData(p.tile, 'period', fig.period);
    setData(p.tile, 'source', fig.source);
    setData(p.tile, 'status', fig.status);
    setData(p.tile, 'revision', String(fig.revision));
    // Official is the normal case and gets no badge; provisional and estimated figures, and
    // revisions, do: they are what someone reading the wall must not miss.
    const badges = [];
    if (fig.status !== 'official') badges.push(w.status[fig.status] || fig.status);
    if (fig.revision > 1) badges.push(w.revised);
    setText(p.status, badges.join(' · '));
    setText(p.source, fig.source.toUpperCase());

    // Change against the previous period of the same source (from the history).
    const points = historyOf(code, fig.source);
    let previous = null;
    for (let i = points.length - 1; i >= 0; i--) {
      if (comparePeriods(points[i].period, fig.period, meta.freq) < 0) { previous = points[i]; break; }
    }
    if (previous) {
      const factor = 10 ** meta.decimals;
      const diff = Math.round((fig.value - previous.value) * factor) / factor;
      const dir = diff > 0 ? 'up' : diff < 0 ? 'down' : 'flat';
      const arrow = { up: '▲', down: '▼', flat: '=' }[dir];
      // Rates change by percentage points (said so); other figures in the unit shown just above.
      const unit = meta.kind === 'rate' ? ` ${w.points}` : '';
      const amount = dir === 'flat' ? '' : ` ${formatNumber(Math.abs(diff), meta.decimals)}${unit}`;
      // "so với Tháng 10/2026" kept on one line: a period is never broken across two.
      const versus = w.versus(periodLabel(previous.period, meta.freq, true));
      if (p.change.textContent !== `${arrow}${amount} ${versus}`) {
        const span = document.createElement('span');
        span.className = 'versus';
        span.textContent = versus;
        p.change.replaceChildren(`${arrow}${amount} `, span);
      }
      setData(p.change, 'dir', dir);
    } else {
      setText(p.change, '');
      setData(p.change, 'dir', 'none');
    }
    drawSparkline(p.spark, points.length ? points : [fig]);
    refreshAge(code);
  }

  /** An inline SVG line of the last periods; stretched to the tile, strokes kept crisp. */
  function drawSparkline(svg, points) {
    const pts = points.slice(-HISTORY_POINTS);
    svg.dataset.points = String(pts.length);
    if (pts.length < 2) { svg.replaceChildren(); return; }
    const values = pts.map((q) => q.value);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const span = hi - lo || 1;
    const xy = pts.map((q, i) => [
      (i / (pts.length - 1)) * 100,
      hi === lo ? 15 : 27 - ((q.value - lo) / span) * 24,
    ]);
    const line = xy.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(' ');
    const area = document.createElementNS(SVG_NS, 'polygon');
    area.setAttribute('class', 'spark-area');
    area.setAttribute('points', `0,30 ${line} 100,30`);
    const poly = document.createElementNS(SVG_NS, 'polyline');
    poly.setAttribute('class', 'spark-line');
    poly.setAttribute('points', line);
    // A zero-length line with round caps is a dot that stays round however the SVG is stretched.
    const [lx, ly] = xy[xy.length - 1];
    const dot = document.createElementNS(SVG_NS, 'line');
    dot.setAttribute('class', 'spark-dot');
    for (const [k, v] of [['x1', lx], ['y1', ly], ['x2', lx], ['y2', ly]]) dot.setAttribute(k, v.toFixed(2));
    svg.replaceChildren(area, poly, dot);
  }

  function renderCounter(code) {
    const meta = META.get(code);
    const p = counterEls.get(code);
    const c = state.counters.get(code);
    setText(p.name, meta.short[state.lang]);
    const full = `${meta[state.lang]} (${unitLabel(meta.unit)})`;
    if (p.name.title !== full) p.name.title = full;
    const fig = bestFigure(code);
    if (fig && (!c.figure || fig.period !== c.figure.period || fig.value !== c.figure.value)) {
      // Remember the reading before, for the rate per minute.
      if (c.figure && comparePeriods(fig.period, c.figure.period, 'live') > 0) c.previous = c.figure;
      c.figure = fig;
      countUp(code, fig.value);
    }
    if (!fig) {
      c.figure = c.previous = null;
      c.shown = NaN;
      setText(p.value, '—');
    } else {
      drawCounter(code);
    }
    renderRate(code);
    refreshAge(code);
  }

  function renderRate(code) {
    const c = state.counters.get(code);
    const p = counterEls.get(code);
    const cur = c.figure;
    const prev = c.previous;
    let text = '';
    if (cur && prev) {
      const dt = parseTime(cur.period) - parseTime(prev.period);
      const dv = cur.value - prev.value;
      if (dt > 0 && dt <= 3600000 && dv >= 0) {
        text = `+${formatNumber((dv * 60000) / dt, META.get(code).decimals)}${W().perMinute}`;
      }
    }
    setText(p.rate, text);
  }

  // Counters count up to each new reading instead of jumping: one animation loop for all of them.
  let animating = 0;
  const reduceMotion = window.matchMedia ? window.matchMedia('(prefers-reduced-motion: reduce)') : { matches: false };

  function countUp(code, target) {
    const c = state.counters.get(code);
    const from = c.shown;
    c.target = target;
    // First reading, a counter that went down (a reset or a correction), or no one watching: jump.
    if (!Number.isFinite(from) || target < from || document.hidden || reduceMotion.matches) {
      c.shown = target;
      c.start = 0;
      return;
    }
    c.from = from;
    c.start = performance.now();
    if (!animating) animating = requestAnimationFrame(frame);
  }

  function frame(now) {
    animating = 0;
    let more = false;
    for (const [code, c] of state.counters) {
      if (!c.start) continue;
      const t = Math.min(1, (now - c.start) / COUNT_UP_MS);
      const eased = 1 - (1 - t) ** 3;
      c.shown = t >= 1 ? c.target : c.from + (c.target - c.from) * eased;
      if (t >= 1) c.start = 0;
      else more = true;
      drawCounter(code);
    }
    if (more) animating = requestAnimationFrame(frame);
  }

  function drawCounter(code) {
    const c = state.counters.get(code);
    setText(counterEls.get(code).value, formatNumber(c.shown, META.get(code).decimals));
  }

  /** failing | down | '' for a source: a firing (or acknowledged) source.failing / source.down alert
   *  about it, or its circuit breaker (open: down, half open: failing). Pending alerts do not count:
   *  their rule holds them back on purpose so that one bad run does not flap the wall. */
  function sourceState(source) {
    if (!state.sourceStates) {
      const states = new Map();
      const worse = (key, level) => { if (states.get(key) !== 'down') states.set(key, level); };
      for (const [key, circuit] of state.circuits) {
        if (circuit === 'open') worse(key, 'down');
        else if (circuit === 'half_open') worse(key, 'failing');
      }
      for (const a of state.alerts.values()) {
        if (a.state !== 'firing' && a.state !== 'acknowledged') continue;
        if (a.rule !== 'source.failing' && a.rule !== 'source.down') continue;
        const key = String(a.params?.source || a.subject || '').toLowerCase();
        worse(key, a.rule === 'source.down' ? 'down' : 'failing');
      }
      state.sourceStates = states;
    }
    return state.sourceStates.get(String(source).toLowerCase()) || '';
  }

  /** When a figure was collected, short: 09:05 today, 09:05 1/12 (1 Dec) another day. */
  function whenText(ms) {
    const time = shortTime(ms);
    if (dayKey(ms) === dayKey(serverNow())) return time;
    return `${time} ${formatTime(ms, { day: 'numeric', month: state.lang === 'en' ? 'short' : 'numeric' })}`;
  }

  /** Age text, staleness and the source's health of one tile or counter (also once a second for all). */
  function refreshAge(code) {
    const meta = META.get(code);
    const p = tileEls.get(code) || counterEls.get(code);
    const box = p.tile || p.box;
    const fig = bestFigure(code);
    const w = W();
    const { level, age } = staleness(fig, meta.freq, serverNow());
    setData(box, 'stale', level);
    // A figure whose source is failing or down may be the last good one for a while: say so, and when it came.
    const health = fig ? sourceState(fig.source) : '';
    setData(box, 'sourceState', health);
    if (p.sourceNote) {
      // In place of the age and the source's name: "⚠ NSO lỗi · số liệu lúc 09:05".
      const src = fig ? fig.source.toUpperCase() : '';
      const note = health && Number.isFinite(fig.collectedAt)
        ? `⚠ ${(health === 'down' ? w.sourceDown : w.sourceFailing)(src)} · ${w.lastGood(whenText(fig.collectedAt))}`
        : '';
      setText(p.sourceNote, note);
      setText(p.age, health ? '' : age);
    } else {
      setText(p.age, age); // a counter: its panel says which sources fail (see renderCountersNote)
    }
    if (p.staleNote) setText(p.staleNote, level === 'amber' || level === 'red' ? w.stale[level] : '');
    if (fig && Number.isFinite(fig.collectedAt)) {
      const title = `${fig.source} · ${clockTime(fig.collectedAt)} ${dayKey(fig.collectedAt)}`;
      if (p.age.title !== title) p.age.title = title;
    }
  }

  const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

  /** Under the counters' heading: the sources of their figures that are failing or down, with the
   *  time of the last good reading (a counter has no room of its own for it). */
  function renderCountersNote() {
    const w = W();
    const failing = new Map(); // source -> {health, at}
    for (const c of COUNTERS) {
      const fig = bestFigure(c.code);
      const health = fig ? sourceState(fig.source) : '';
      if (!health) continue;
      const seen = failing.get(fig.source);
      const at = Math.max(seen?.at ?? -Infinity, fig.collectedAt);
      failing.set(fig.source, { health, at });
    }
    const parts = [...failing].map(([src, f]) => {
      const what = (f.health === 'down' ? w.sourceDown : w.sourceFailing)(src.toUpperCase());
      return Number.isFinite(f.at) ? `${what} · ${w.lastGood(whenText(f.at))}` : what;
    });
    const box = $('#counters-note');
    setText(box, parts.length ? `⚠ ${parts.join('; ')}` : '');
    box.hidden = !parts.length;
  }

  /** The completeness strip: one chip per indicator (latest period due), least complete first, as
   *  many as fit on one line; the rest counted in a last chip. */
  function renderCompleteness() {
    const w = W();
    const panel = $('#completeness');
    const track = $('.completeness-track', panel);
    const count = (v) => (Array.isArray(v) ? v.length : Number(v));
    const rows = (state.reporting.rows || [])
      .filter((r) => r && r.indicator && !r.not_due && count(r.expected) > 0)
      .map((r) => ({
        ...r,
        exp: count(r.expected),
        got: r.received != null ? count(r.received) : count(r.on_time) + count(r.late),
        lateN: count(r.late) || 0,
      }))
      .filter((r) => Number.isFinite(r.got))
      .sort((a, b) => a.got / a.exp - b.got / b.exp || indicatorName(a.indicator).localeCompare(indicatorName(b.indicator)));
    panel.hidden = rows.length === 0;
    if (!rows.length) { track.replaceChildren(); return; }
    const chips = rows.map((r) => {
      const chip = el('span', 'chip');
      chip.dataset.indicator = String(r.indicator);
      chip.dataset.level = r.got >= r.exp ? 'complete' : r.got / r.exp >= 0.8 ? 'partial' : 'low';
      const period = periodLabel(String(r.period), frequencyOf(String(r.indicator), String(r.period)));
      el('span', 'what', chip).textContent = `${indicatorName(String(r.indicator))} ${period}: `;
      el('span', 'figure', chip).textContent = w.completeness(r.got, r.exp);
      if (r.lateN > 0) el('span', 'late', chip).textContent = ` · ${w.lateCount(r.lateN)}`;
      return chip;
    });
    const more = el('span', 'chip more');
    track.replaceChildren(...chips, more);
    // Leave out whole chips from the end until the rest and the "+N" chip fit the line.
    const fits = () => track.scrollWidth <= track.clientWidth + 1;
    let shown = chips.length;
    more.hidden = true;
    while (!fits() && shown > 1) {
      chips[--shown].hidden = true;
      more.hidden = false;
      more.textContent = w.moreReports(chips.length - shown);
    }
  }

  const muted = (a) => (a.inhibited_by != null ? 'inhibited' : a.silenced_by != null ? 'silenced' : '');
  const firedAt = (a) => parseTime(a.fired_at || a.opened_at);

  /** The ticker's items in order, and per rule how many of its alerts are left out.
   *
   *  A wall is read from across a room, and one rule can open hundreds of legitimate alerts at once
   *  (a province's late history revising closed months). So that such a flood cannot hide another
   *  rule's alert:
   *    1. tiers: to act on (firing or pending), then acknowledged, then muted (inhibited or
   *       silenced: dimmed, last, whatever their severity);
   *    2. within a tier: severity, then rule diversity (round robin: every rule's first alert
   *       before any rule's second), then newest first;
   *    3. a rule with more than TICKER_PER_RULE + 1 open alerts shows its TICKER_PER_RULE most
   *       important (tier, severity, newest) and one summary item counting the rest, placed at the
   *       end of the tier of its first left-out alert ("và 12 cảnh báo sửa số liệu khác").
   *  There is no cap on the number of rules shown: rules are few, alerts are many. */
  function tickerOrder(alerts) {
    const tier = (a) => (muted(a) ? 2 : a.state === 'acknowledged' ? 1 : 0);
    const severity = (a) => SEVERITY_RANK[a.severity] ?? 3;
    const byRule = new Map();
    for (const a of alerts) {
      const rule = String(a.rule || '');
      if (!byRule.has(rule)) byRule.set(rule, []);
      byRule.get(rule).push(a);
    }
    const shown = [];
    const summaries = [];
    for (const [rule, list] of byRule) {
      list.sort((a, b) => tier(a) - tier(b) || severity(a) - severity(b) || firedAt(b) - firedAt(a));
      const keep = list.length > TICKER_PER_RULE + 1 ? TICKER_PER_RULE : list.length;
      list.slice(0, keep).forEach((a, rank) => shown.push({ alert: a, rank }));
      const rest = list.slice(keep);
      if (rest.length) {
        summaries.push({
          rule, count: rest.length, tier: tier(rest[0]), severity: rest[0].severity,
          muted: rest.every((a) => muted(a)),
        });
      }
    }
    shown.sort((x, y) => tier(x.alert) - tier(y.alert) || severity(x.alert) - severity(y.alert)
      || x.rank - y.rank || firedAt(y.alert) - firedAt(x.alert));
    summaries.sort((x, y) => x.tier - y.tier || (SEVERITY_RANK[x.severity] ?? 3) - (SEVERITY_RANK[y.severity] ?? 3)
      || y.count - x.count);
    const items = [];
    for (const t of [0, 1, 2]) {
      for (const s of shown) if (tier(s.alert) === t) items.push({ alert: s.alert });
      for (const s of summaries) if (s.tier === t) items.push({ summary: s });
    }
    return items;
  }

  function renderTicker() {
    const w = W();
    const ticker = $('#ticker');
    const track = $('.ticker-track', ticker);
    const alerts = [...state.alerts.values()];
    const today = dayKey(serverNow());
    const items = tickerOrder(alerts).map(({ alert: a, summary }) => {
      const item = el('span', 'alert');
      if (summary) {
        item.classList.add('summary');
        item.dataset.summary = summary.rule;
        item.dataset.more = String(summary.count);
        item.dataset.severity = String(summary.severity);
        if (summary.muted) item.dataset.muted = 'all';
        setText(el('span', 'msg', item), w.moreAlerts(formatNumber(summary.count, 0), summary.rule));
        return item;
      }
      item.dataset.alertId = String(a.id);
      item.dataset.rule = String(a.rule);
      item.dataset.severity = String(a.severity);
      item.dataset.state = String(a.state);
      if (muted(a)) item.dataset.muted = muted(a);
      setText(el('span', 'sev', item), w.severity[a.severity] || String(a.severity));
      setText(el('span', 'msg', item), alertText(a));
      const at = firedAt(a);
      const time = el('time', 'when', item);
      time.dateTime = a.fired_at || a.opened_at || '';
      time.textContent = dayKey(at) === today ? shortTime(at) : `${shortTime(at)} ${dayKey(at)}`;
      if (a.state === 'acknowledged') setText(el('span', 'ack', item), `✓ ${w.acknowledged(a.acknowledged_by)}`);
      else if (a.state === 'pending') setText(el('span', 'ack', item), w.pending);
      return item;
    });
    if (!items.length) {
      const calm = el('span', 'no-alerts');
      calm.textContent = w.noAlerts;
      items.push(calm);
    }
    track.replaceChildren(...items);
    setData(ticker, 'count', String(alerts.length));
    fitTicker();
  }

  /** Scroll the ticker slowly back and forth when its items do not fit the screen's width. */
  function fitTicker() {
    const ticker = $('#ticker');
    const track = $('.ticker-track', ticker);
    const overflow = track.scrollWidth - ticker.clientWidth;
    if (overflow > 8 && !reduceMotion.matches) {
      track.style.setProperty('--ticker-shift', `${-overflow}px`);
      track.style.setProperty('--ticker-duration', `${Math.max(10, overflow / 40)}s`);
      track.classList.add('scrolling');
    } else {
      track.classList.remove('scrolling');
    }
  }

  function renderRuns() {
    const w = W();
    let text = '';
    if (state.running.size) {
      text = w.running([...new Set([...state.running.values()].map((r) => r.source))].join(', '));
    } else if (state.lastRun) {
      const r = state.lastRun;
      text = w.lastRun(r.source, w.outcome[r.outcome] || r.outcome, shortTime(parseTime(r.ended_at || r.started_at)));
    }
    const box = $('#runs');
    setText(box, text);
    setData(box, 'outcome', state.running.size ? 'running' : state.lastRun?.outcome || '');
  }

  function renderConn() {
    const w = W();
    let label = w.conn[state.conn] || state.conn;
    if (state.conn === 'reconnecting' && !state.ws && state.retryAt) {
      label = w.conn.retryIn(Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000)));
    }
    if (state.conn === 'live' && state.lastWelcome?.resumed) label = `${label} · ${w.resumed}`;
    setText($('#conn .conn-label'), label);
  }

  function renderLastMessage() {
    setText($('#last-message'), state.lastMessageAt ? W().lastMessage(clockTime(state.lastMessageAt)) : '');
  }

  function renderClock() {
    const now = serverNow();
    setText($('#clock'), clockTime(now));
    setText($('#date'), formatTime(now, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }));
  }

  function applyLanguage() {
    const w = W();
    document.documentElement.lang = state.lang;
    document.title = w.documentTitle;
    for (const node of document.querySelectorAll('[data-i18n]')) {
      const text = w[node.dataset.i18n];
      if (typeof text === 'string') setText(node, text);
    }
    $('#tiles').setAttribute('aria-label', w.tilesLabel);
    const button = $('#lang-toggle');
    setText(button, w.langButton);
    button.title = w.langTitle;
    renderAuthError();
    renderAll();
    renderClock();
  }

  function toggleLanguage() {
    state.lang = state.lang === 'vi' ? 'en' : 'vi';
    storage.set(STORAGE_LANG, state.lang);
    applyLanguage();
  }

  /** Once a second: clock, ages, staleness, the reconnect countdown. */
  function tick() {
    renderClock();
    for (const code of META.keys()) refreshAge(code);
    renderCountersNote();
    renderConn();
  }

  // --- start --------------------------------------------------------------------------------------

  function start() {
    buildTiles();
    buildCounters();
    $('#token-form').addEventListener('submit', submitToken);
    $('#lang-toggle').addEventListener('click', toggleLanguage);
    $('#token-change').addEventListener('click', changeToken);
    window.addEventListener('resize', () => { fitTicker(); renderCompleteness(); });
    // Back on the network: do not sit out the rest of a long backoff.
    window.addEventListener('online', () => { if (state.conn === 'reconnecting' && !state.ws) connect(); });
    applyLanguage();
    setInterval(tick, 1000);
    if (state.token) connect();
    else showAuth(null);
  }

  // Read-only view for tests and for people at the screen's console. Never the token.
  window.__opscentre = Object.freeze({
    get state() { return state.conn; },
    get lang() { return state.lang; },
    get lastWelcome() { return state.lastWelcome ? { ...state.lastWelcome } : null; },
    get position() { return state.position ? { ...state.position } : null; },
    get stats() { return { ...state.stats, attempt: state.attempt, alerts: state.alerts.size }; },
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
