/*
 * The operations centre's wall display: key national indicators, the public-service portal's live
 * counters and the open alerts, kept current from the feed (/feed, docs/protocol.md).
 *
 * Plain JavaScript as ES modules, no framework, no build step, no external resources: the feed
 * server serves each module as it is (feed/server.py, STATIC). The page needs nothing but the
 * feed: the tiles, their names and units are in settings.js (copied from
 * storage/reference/indicators.csv). This module starts the page; the map of the others is in
 * docs/display.md.
 *
 * Test hooks (stable): tiles [data-indicator] with .value .unit .period .change .age .spark and
 * data-stale="none|fresh|amber|red"; counters [data-counter] with .value .age; #conn[data-state]
 * ("connecting|live|reconnecting|auth") and [data-resumed]; #ticker items [data-alert-id];
 * window.__opscentre (read-only state, never the token, and the page's formatNumber).
 */

import { changeToken, connect, receiveWith, showAuth, submitToken } from './connection.js';
import { $ } from './dom.js';
import { formatNumber } from './format.js';
import { onMessage } from './messages.js';
import { applyLanguage, buildCounters, buildTiles, refreshAge, renderClock, renderConn, renderCountersNote } from './render.js';
import { META } from './settings.js';
import { STORAGE_LANG, state, storage } from './state.js';
import { fitTicker, renderCompleteness } from './ticker.js';

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

function start() {
  buildTiles();
  buildCounters();
  receiveWith(onMessage);
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
  // The page's number formatter, for the parity test with the server's (wording/numbers.py).
  formatNumber: (lang, value, decimals, others) => formatNumber(value, decimals, others, lang),
});

// A module runs once the document is parsed; the check stays for a page that loads it otherwise.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
