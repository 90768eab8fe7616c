/*
 * Periods (a pure module: nothing of window or document, so node's test runner imports it as the
 * page does). Canonical forms (storage/periods.py): 2026-11-23 (D), 2026-10 (M), 2026-Q3 (Q),
 * 2026 (Y), and for live counters the UTC instant 2026-11-23T12:00:05Z.
 */

import { ago, clockTime, parseTime } from './format.js';
import { WORDS } from './words.js';

// How old a figure may get. Live counters: since it was collected. Periodic figures: since the
// period ended, i.e. how late the next period is past its usual publication.
const DAY = 86400000;
export const STALE = {
  live: { amber: 30 * 1000, red: 120 * 1000 },
  D: { amber: 3 * DAY, red: 7 * DAY },
  M: { amber: 55 * DAY, red: 85 * DAY },
  Q: { amber: 100 * DAY, red: 140 * DAY },
  Y: { amber: 430 * DAY, red: 500 * DAY },
};

export function parsePeriod(period, freq) {
  let m;
  if (freq === 'D' && (m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(period))) return { y: +m[1], m: +m[2], d: +m[3] };
  if (freq === 'M' && (m = /^(\d{4})-(\d{2})$/.exec(period))) return { y: +m[1], m: +m[2] };
  if (freq === 'Q' && (m = /^(\d{4})-Q([1-4])$/.exec(period))) return { y: +m[1], q: +m[2] };
  if (freq === 'Y' && (m = /^(\d{4})$/.exec(period))) return { y: +m[1] };
  return null;
}

/** The frequency a period's form says (D, M, Q, Y), else live (an instant). */
export function frequencyOfPeriod(period) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(period)) return 'D';
  if (/^\d{4}-\d{2}$/.test(period)) return 'M';
  if (/^\d{4}-Q[1-4]$/.test(period)) return 'Q';
  return /^\d{4}$/.test(period) ? 'Y' : 'live';
}

/** When the period ends (the first instant after it), in ms; live: the instant itself. */
export function periodEnd(period, freq) {
  if (freq === 'live') return parseTime(period);
  const p = parsePeriod(period, freq);
  if (!p) return NaN;
  if (freq === 'D') return Date.UTC(p.y, p.m - 1, p.d + 1);
  if (freq === 'M') return Date.UTC(p.y, p.m, 1);
  if (freq === 'Q') return Date.UTC(p.y, p.q * 3, 1);
  return Date.UTC(p.y + 1, 0, 1);
}

/** The period just before (null for live counters or unreadable periods). */
export function previousPeriod(period, freq) {
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
export function comparePeriods(a, b, freq) {
  if (freq === 'live') return parseTime(a) - parseTime(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "Tháng 10/2026", "Quý III/2026" / "Oct 2026", "Q3 2026"; `short` leaves out a day's year. */
export function periodLabel(period, freq, lang, short = false) {
  if (freq === 'live') return clockTime(parseTime(period), lang);
  const p = parsePeriod(period, freq);
  if (!p) return period;
  const f = (short ? WORDS[lang].periodShort : WORDS[lang].period)[freq];
  return freq === 'Q' ? f(p.y, p.q) : f(p.y, p.m, p.d);
}

/** none | fresh | amber | red, and the age text, for the figure a tile or counter shows. */
export function staleness(fig, freq, now, lang) {
  if (!fig) return { level: 'none', age: '' };
  const rule = STALE[freq] || STALE.M;
  const since = freq === 'live' ? fig.collectedAt : periodEnd(fig.period, freq);
  const age = now - since;
  let level = 'fresh';
  if (Number.isFinite(age)) {
    if (age > rule.red) level = 'red';
    else if (age > rule.amber) level = 'amber';
  }
  return { level, age: Number.isFinite(fig.collectedAt) ? ago(now - fig.collectedAt, lang) : '' };
}
