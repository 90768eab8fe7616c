/*
 * Along the bottom of the wall: the completeness strip (the feed's reporting query) and the alert
 * ticker, ordered so that a flood of one rule cannot hide another.
 */

import { alertText, frequencyOf, indicatorName } from './data.js';
import { $, el, reduceMotion, setData, setText } from './dom.js';
import { dayKey, formatNumber, parseTime, shortTime } from './format.js';
import { periodLabel } from './periods.js';
import { TICKER_PER_RULE } from './settings.js';
import { serverNow, state, W } from './state.js';
import { label } from './words.js';

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };
/** The completeness strip: one chip per indicator (latest period due), least complete first, as
 *  many as fit on one line; the rest counted in a last chip. */
export function renderCompleteness() {
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
    const period = periodLabel(String(r.period), frequencyOf(String(r.indicator), String(r.period)), state.lang);
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
export function tickerOrder(alerts) {
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

export function renderTicker() {
  const w = W();
  const ticker = $('#ticker');
  const track = $('.ticker-track', ticker);
  const alerts = [...state.alerts.values()];
  const today = dayKey(serverNow(), state.lang);
  const items = tickerOrder(alerts).map(({ alert: a, summary }) => {
    const item = el('span', 'alert');
    if (summary) {
      item.classList.add('summary');
      item.dataset.summary = summary.rule;
      item.dataset.more = String(summary.count);
      item.dataset.severity = String(summary.severity);
      if (summary.muted) item.dataset.muted = 'all';
      setText(el('span', 'msg', item), w.moreAlerts(formatNumber(summary.count, 0, [], state.lang), label(`group.${summary.rule}`, state.lang)));
      return item;
    }
    item.dataset.alertId = String(a.id);
    item.dataset.rule = String(a.rule);
    item.dataset.severity = String(a.severity);
    item.dataset.state = String(a.state);
    if (muted(a)) item.dataset.muted = muted(a);
    setText(el('span', 'sev', item), label(`severity.${a.severity}`, state.lang));
    setText(el('span', 'msg', item), alertText(a));
    const at = firedAt(a);
    const time = el('time', 'when', item);
    time.dateTime = a.fired_at || a.opened_at || '';
    time.textContent = dayKey(at, state.lang) === today ? shortTime(at, state.lang) : `${shortTime(at, state.lang)} ${dayKey(at, state.lang)}`;
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
export function fitTicker() {
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
