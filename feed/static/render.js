/*
 * Drawing the page from `state`: the tiles (value, change, sparkline, age, source health), the
 * portal's counters counting up, the heading's connection state, clock and runs, and the words of
 * the page's language. The ticker and the completeness strip along the bottom: ticker.js.
 */

import { bestFigure, historyOf, sourceState } from './data.js';
import { $, el, reduceMotion, setData, setText } from './dom.js';
import { clockTime, dayKey, formatNumber, formatTime, parseTime, shortTime, whenText } from './format.js';
import { comparePeriods, periodLabel, staleness } from './periods.js';
import { COUNTERS, COUNT_UP_MS, HISTORY_POINTS, LONG_NAME, META, TILES } from './settings.js';
import { serverNow, state, W } from './state.js';
import { renderCompleteness, renderTicker } from './ticker.js';
import { capitalised, label, unitLabel } from './words.js';

// --- building the page --------------------------------------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';
const tileEls = new Map();
const counterEls = new Map();

export function buildTiles() {
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

export function buildCounters() {
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

export function renderAll() {
  for (const t of TILES) renderTile(t.code);
  for (const c of COUNTERS) renderCounter(c.code);
  renderCountersNote();
  renderCompleteness();
  renderTicker();
  renderRuns();
  renderConn();
  renderLastMessage();
}

export function renderSeries(code) {
  if (tileEls.has(code)) renderTile(code);
  else if (counterEls.has(code)) renderCounter(code);
}

export function renderTile(code) {
  const meta = META.get(code);
  const p = tileEls.get(code);
  const w = W();
  setText(p.name, meta[state.lang]);
  if (p.name.title !== meta[state.lang]) p.name.title = meta[state.lang];
  // A long name is set smaller so that it still fits two lines, in full.
  p.name.toggleAttribute('data-long', meta[state.lang].length > LONG_NAME);
  setText(p.unit, unitLabel(meta.unit, state.lang));
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
  setText(p.value, formatNumber(fig.value, meta.decimals, fig.replaced, state.lang));
  setText(p.period, periodLabel(fig.period, meta.freq, state.lang));
  setData(p.tile, 'period', fig.period);
  setData(p.tile, 'source', fig.source);
  setData(p.tile, 'status', fig.status);
  setData(p.tile, 'revision', String(fig.revision));
  // Official is the normal case and gets no badge; provisional and estimated figures, and
  // revisions, do: they are what someone reading the wall must not miss.
  const badges = [];
  if (fig.status !== 'official') badges.push(capitalised(label(`status.${fig.status}`, state.lang), state.lang));
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
    const amount = dir === 'flat' ? '' : ` ${formatNumber(Math.abs(diff), meta.decimals, [], state.lang)}${unit}`;
    // "so với Tháng 10/2026" kept on one line: a period is never broken across two.
    const versus = w.versus(periodLabel(previous.period, meta.freq, state.lang, true));
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
export function drawSparkline(svg, points) {
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

export function renderCounter(code) {
  const meta = META.get(code);
  const p = counterEls.get(code);
  const c = state.counters.get(code);
  setText(p.name, meta.short[state.lang]);
  const full = `${meta[state.lang]} (${unitLabel(meta.unit, state.lang)})`;
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

export function renderRate(code) {
  const c = state.counters.get(code);
  const p = counterEls.get(code);
  const cur = c.figure;
  const prev = c.previous;
  let text = '';
  if (cur && prev) {
    const dt = parseTime(cur.period) - parseTime(prev.period);
    const dv = cur.value - prev.value;
    if (dt > 0 && dt <= 3600000 && dv >= 0) {
      text = `+${formatNumber((dv * 60000) / dt, META.get(code).decimals, [], state.lang)}${W().perMinute}`;
    }
  }
  setText(p.rate, text);
}

// Counters count up to each new reading instead of jumping: one animation loop for all of them.
let animating = 0;

export function countUp(code, target) {
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

export function frame(now) {
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

export function drawCounter(code) {
  const c = state.counters.get(code);
  setText(counterEls.get(code).value, formatNumber(c.shown, META.get(code).decimals, [], state.lang));
}
/** Age text, staleness and the source's health of one tile or counter (also once a second for all). */
export function refreshAge(code) {
  const meta = META.get(code);
  const p = tileEls.get(code) || counterEls.get(code);
  const box = p.tile || p.box;
  const fig = bestFigure(code);
  const w = W();
  const { level, age } = staleness(fig, meta.freq, serverNow(), state.lang);
  setData(box, 'stale', level);
  // A figure whose source is failing or down may be the last good one for a while: say so, and when it came.
  const health = fig ? sourceState(fig.source) : '';
  setData(box, 'sourceState', health);
  if (p.sourceNote) {
    // In place of the age and the source's name: "⚠ NSO lỗi · số liệu lúc 09:05".
    const src = fig ? fig.source.toUpperCase() : '';
    const note = health && Number.isFinite(fig.collectedAt)
      ? `⚠ ${(health === 'down' ? w.sourceDown : w.sourceFailing)(src)} · ${w.lastGood(whenText(fig.collectedAt, serverNow(), state.lang))}`
      : '';
    setText(p.sourceNote, note);
    setText(p.age, health ? '' : age);
  } else {
    setText(p.age, age); // a counter: its panel says which sources fail (see renderCountersNote)
  }
  if (p.staleNote) setText(p.staleNote, level === 'amber' || level === 'red' ? w.stale[level] : '');
  if (fig && Number.isFinite(fig.collectedAt)) {
    const title = `${fig.source} · ${clockTime(fig.collectedAt, state.lang)} ${dayKey(fig.collectedAt, state.lang)}`;
    if (p.age.title !== title) p.age.title = title;
  }
}

/** Under the counters' heading: the sources of their figures that are failing or down, with the
 *  time of the last good reading (a counter has no room of its own for it). */
export function renderCountersNote() {
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
    return Number.isFinite(f.at) ? `${what} · ${w.lastGood(whenText(f.at, serverNow(), state.lang))}` : what;
  });
  const box = $('#counters-note');
  setText(box, parts.length ? `⚠ ${parts.join('; ')}` : '');
  box.hidden = !parts.length;
}

export function renderRuns() {
  const w = W();
  let text = '';
  if (state.running.size) {
    text = w.running([...new Set([...state.running.values()].map((r) => r.source))].join(', '));
  } else if (state.lastRun) {
    const r = state.lastRun;
    text = w.lastRun(r.source, w.outcome[r.outcome] || r.outcome, shortTime(parseTime(r.ended_at || r.started_at), state.lang));
  }
  const box = $('#runs');
  setText(box, text);
  setData(box, 'outcome', state.running.size ? 'running' : state.lastRun?.outcome || '');
}

export function renderConn() {
  const w = W();
  let text = w.conn[state.conn] || state.conn;
  if (state.conn === 'reconnecting' && !state.ws && state.retryAt) {
    text = w.conn.retryIn(Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000)));
  }
  if (state.conn === 'live' && state.lastWelcome?.resumed) text = `${text} · ${w.resumed}`;
  setText($('#conn .conn-label'), text);
}

export function renderLastMessage() {
  setText($('#last-message'), state.lastMessageAt ? W().lastMessage(clockTime(state.lastMessageAt, state.lang)) : '');
}

export function renderClock() {
  const now = serverNow();
  setText($('#clock'), clockTime(now, state.lang));
  setText($('#date'), formatTime(now, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }, state.lang));
}

/** Every word of the page in its language (state.lang): the fixed ones, then everything drawn. */
export function applyLanguage() {
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

/** Why the token form is shown, in the page's language (state.authProblem). */
export function renderAuthError() {
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
