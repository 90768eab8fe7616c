/*
 * The feed's messages (docs/protocol.md) and what the page does with each: welcome, snapshot,
 * delta, alert, run, result (the answers to queries.js), error, heartbeat. A message of a type it
 * does not know (a newer server's) is counted and ignored.
 */

import { armSilenceTimer, setConn } from './connection.js';
import { acceptFigure, addToHistory, figureOf, takeAlert, takeCatalogue, takeHistory, takeRun } from './data.js';
import { $, setData } from './dom.js';
import { parseTime } from './format.js';
import {
  CATALOGUE_QUERY, REPORTING_QUERY, SOURCES_QUERY,
  askCatalogue, askHistory, askReporting, askSources, forgetHistoryQueries,
} from './queries.js';
import { renderAll, renderCountersNote, refreshAge, renderLastMessage, renderRuns, renderSeries } from './render.js';
import { AREA, HISTORY_RETRY_MS, META, STABLE_AFTER_MS, TILES } from './settings.js';
import { state } from './state.js';
import { renderCompleteness, renderTicker } from './ticker.js';

const POSITIONED = new Set(['snapshot', 'delta', 'alert', 'run', 'heartbeat']);

export const HANDLERS = {
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

/** One text frame from the feed: parsed, handled, and its position kept for a resume. */
export function onMessage(data) {
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
