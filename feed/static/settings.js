/*
 * What the wall shows and how it behaves: its tiles and counters, the feed filter, the limits and
 * the timings (a pure module: constants only).
 */

export const AREA = 'VN';
export const HISTORY_POINTS = 24; // sparkline length per series
export const MAX_SOURCES = 8; // sources kept per indicator (several agencies may report one indicator)
export const MAX_REPLACED = 4; // earlier values of a revised figure that its tile is told apart from
// Open alerts kept. The server sends every open alert; this only bounds a runaway flood, and the
// eviction (see takeAlert) takes from the rule with the most, so it cannot hide another rule.
export const MAX_ALERTS = 5000;
// A rule with more open alerts than this (plus one) shows this many on the ticker and one item
// counting the rest: a flood of one rule must not push another off the wall.
export const TICKER_PER_RULE = 3;
export const LONG_NAME = 48; // characters: a tile name longer than this is set smaller (see .name[data-long])
export const MAX_RUNNING = 20;

export const BACKOFF_FIRST_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
export const STABLE_AFTER_MS = 30000; // a connection live this long resets the backoff
export const WELCOME_TIMEOUT_MS = 10000; // no welcome by then: drop the socket and retry
export const SILENCE_TIMEOUT_MS = 60000; // heartbeats come every few seconds; this much silence = dead link
export const HISTORY_RETRY_MS = 5000;
export const COUNT_UP_MS = 1500;

// 4401 (wrong or missing token) and 4403 (origin refused): retrying would only fail again.
export const TERMINAL_CLOSE = new Set([4401, 4403]);

// --- what the wall shows (from storage/reference/indicators.csv) -------------------------------
// decimals: how the figure is written; kind "rate" makes changes "percentage points".

export const TILES = [
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
export const COUNTERS = [
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

export const META = new Map([...TILES, ...COUNTERS].map((m) => [m.code, m]));

// Everything the page shows and nothing else: the server then sends no other series; the ticker
// shows every alert in the country (all_alerts), not only those about these figures.
export const FILTER = { indicators: [...META.keys()], areas: [AREA], all_alerts: true };

