/*
 * Numbers, times and ages as the wall writes them (a pure module: Intl only, nothing of window or
 * document, so node's test runner imports it as the page does). Every function takes the language
 * ('vi' or 'en') it writes in.
 */

import { WORDS, wording } from './words.js';

export const TIME_ZONE = 'Asia/Ho_Chi_Minh'; // the centre's time, whatever the screen's own zone is
export const MAX_DECIMALS = 20; // Intl.NumberFormat's limit; enough to tell any two doubles apart

/** A time the feed sent (ISO 8601) in ms, NaN when it is not one. */
export function parseTime(text) {
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : NaN;
}

const numberFormats = new Map();

// The one number formatter (wording/numbers.py) in the browser: CLDR data through Intl, the same
// digits as the server's Babel (held equal by tests/test_wording_browser.py). Intl rounds the
// double's shortest text, half away from zero; signDisplay "negative" writes no "-0".
function numberFormat(min, max, lang) {
  const key = `${lang}:${min}:${max}`;
  let nf = numberFormats.get(key);
  if (!nf) {
    const locales = wording().locales || {};
    nf = new Intl.NumberFormat(locales[lang] || WORDS[lang].locale, {
      minimumFractionDigits: min, maximumFractionDigits: max, useGrouping: true, signDisplay: 'negative',
    });
    numberFormats.set(key, nf);
  }
  return nf;
}

/** `value` in `lang` with `decimals` decimals (null: up to two, one from 1,000 on, no trailing
 *  zeros), and the digits it takes to print differently from each of `others` (the figures it
 *  replaced): 1.111345 revised to 1.11 is never "1,11" twice; the extra digits carry no trailing zero. */
export function formatNumber(value, decimals = null, others = [], lang = 'vi') {
  if (value == null || Number.isNaN(value)) return '—';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : `${numberFormat(0, 0, lang).format(-1).replace('1', '')}∞`;
  const usual = decimals == null
    ? (Number.isInteger(value) ? 0 : Math.abs(value) < 1000 ? 2 : 1)
    : Math.max(0, Math.min(decimals, MAX_DECIMALS));
  let places = usual;
  for (const other of others || []) {
    if (other == null || !Number.isFinite(other) || other === value) continue;
    const nf = () => numberFormat(places, places, lang);
    while (places < MAX_DECIMALS && nf().format(value) === nf().format(other)) places++;
  }
  return numberFormat(decimals == null ? 0 : usual, places, lang).format(value);
}

const timeFormats = new Map();

/** An instant (ms) in the centre's time zone, in `lang`, with Intl.DateTimeFormat's `options`. */
export function formatTime(ms, options, lang) {
  if (!Number.isFinite(ms)) return '';
  const key = `${lang}:${JSON.stringify(options)}`;
  let f = timeFormats.get(key);
  if (!f) {
    const locale = WORDS[lang].locale;
    try {
      f = new Intl.DateTimeFormat(locale, { timeZone: TIME_ZONE, hourCycle: 'h23', ...options });
    } catch {
      f = new Intl.DateTimeFormat(locale, { hourCycle: 'h23', ...options }); // no time zone data
    }
    timeFormats.set(key, f);
  }
  return f.format(new Date(ms));
}

export const clockTime = (ms, lang) => formatTime(ms, { hour: '2-digit', minute: '2-digit', second: '2-digit' }, lang);
export const shortTime = (ms, lang) => formatTime(ms, { hour: '2-digit', minute: '2-digit' }, lang);
export const dayKey = (ms, lang) => formatTime(ms, { year: 'numeric', month: '2-digit', day: '2-digit' }, lang);

/** "2 phút trước" / "2 min ago", for an age of `ms`. */
export function ago(ms, lang) {
  const a = WORDS[lang].ago;
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 5) return a.now;
  if (s < 60) return a.s(s);
  const m = Math.floor(s / 60);
  if (m < 60) return a.m(m);
  const h = Math.floor(m / 60);
  if (h < 48) return a.h(h);
  return a.d(Math.floor(h / 24));
}

/** When a figure was collected, short: 09:05 on the day of `now`, 09:05 1/12 (1 Dec) another day. */
export function whenText(ms, now, lang) {
  const time = shortTime(ms, lang);
  if (dayKey(ms, lang) === dayKey(now, lang)) return time;
  return `${time} ${formatTime(ms, { day: 'numeric', month: lang === 'en' ? 'short' : 'numeric' }, lang)}`;
}
