/*
 * The page's data from the feed: the newest figure of each series, the sparklines' history, the
 * open alerts, the collection runs, the catalogue's names, and each source's health. These
 * functions change `state` and draw nothing (messages.js then asks render.js to).
 */

import { parseTime } from './format.js';
import { comparePeriods, frequencyOfPeriod, previousPeriod } from './periods.js';
import { askHistory } from './queries.js';
import { AREA, HISTORY_POINTS, MAX_ALERTS, MAX_REPLACED, MAX_RUNNING, MAX_SOURCES, META } from './settings.js';
import { state } from './state.js';
import { label } from './words.js';

// --- names, from the catalogue query --------------------------------------------------------------

export function indicatorName(code) {
  const info = state.catalogue.indicators.get(code);
  if (info) return String(state.lang === 'en' ? info.name_en : info.name_vi);
  return META.has(code) ? META.get(code)[state.lang] : code;
}

/** The frequency of an indicator (catalogue, the page's own table, or the period's form). */
export function frequencyOf(code, period) {
  const known = state.catalogue.indicators.get(code)?.frequency || META.get(code)?.freq;
  return known || frequencyOfPeriod(period);
}

/** A server message fit for the wall: no URL, nothing percent-encoded (older servers quoted errors). */
const presentable = (text) => typeof text === 'string' && text !== '' && !/:\/\/|%[0-9A-Fa-f]{2}/.test(text);

/** An alert's text: the server's, rendered from the one wording catalogue in both languages
 *  (wording/alerts.py), never worded here; an alert kept before English texts reads in Vietnamese. */
export function alertText(alert) {
  if (state.lang === 'en' && presentable(alert.message_en)) return String(alert.message_en);
  if (presentable(alert.message)) return String(alert.message);
  return label('unknown', state.lang, { rule: String(alert.rule || ''), subject: String(alert.subject || '') });
}

/** The catalogue query's answer: names of indicators, areas and agencies in both languages. */
export function takeCatalogue(data) {
  const cat = state.catalogue;
  cat.loaded = true;
  for (const i of data.indicators || []) if (i && i.code) cat.indicators.set(i.code, i);
  for (const a of data.areas || []) if (a && a.code && (!a.valid_to || !cat.areas.has(a.code))) cat.areas.set(a.code, a.name);
  for (const a of data.agencies || []) if (a && a.code) cat.agencies.set(a.code, a);
}

// --- figures and history ---------------------------------------------------------------------

/** A figure as the page keeps it, from an observation of the feed. */
export function figureOf(change) {
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
export function notOlder(fig, cur, freq) {
  const c = comparePeriods(fig.period, cur.period, freq);
  return c > 0 || (c === 0 && fig.revision >= cur.revision);
}

/** Take one figure (the newest of its series) from a snapshot or a delta. Returns its indicator if kept. */
export function acceptFigure(change) {
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
export function trimSources(bySource, freq, newest) {
  if (bySource.size <= MAX_SOURCES) return;
  const order = [...bySource.entries()].sort((a, b) => comparePeriods(newest(b[1]), newest(a[1]), freq));
  for (const [source] of order.slice(MAX_SOURCES)) bySource.delete(source);
}

/** The figure a tile shows: several sources may report one indicator; prefer the newest period,
 *  then the one collected last. */
export function bestFigure(code) {
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

/** The sparkline points of one indicator from one source, oldest first. */
export function historyOf(code, source) {
  return state.history.get(code)?.get(source) || [];
}

/** Put a figure into its series' sparkline history (bounded), newest revision per period. */
export function addToHistory(fig, meta) {
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
export function takeHistory(code, observations) {
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

// --- alerts and runs ---------------------------------------------------------------------------

/** An alert as the feed sent it (snapshot or alert message): kept while open, dropped once resolved. */
export function takeAlert(alert) {
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

/** A collection run started or finished: the runs in flight and the last one finished. */
export function takeRun(run, event) {
  if (!run || run.id == null) return;
  if (event === 'started') {
    state.running.set(run.id, run);
    if (state.running.size > MAX_RUNNING) state.running.delete(state.running.keys().next().value);
  } else {
    state.running.delete(run.id);
    if (!state.lastRun || run.id >= state.lastRun.id) state.lastRun = run;
  }
}

/** failing | down | '' for a source: a firing (or acknowledged) source.failing / source.down alert
 *  about it, or its circuit breaker (open: down, half open: failing). Pending alerts do not count:
 *  their rule holds them back on purpose so that one bad run does not flap the wall. */
export function sourceState(source) {
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
