/*
 * What the page asks the feed (docs/protocol.md, queries): each indicator's history for its
 * sparkline, the catalogue's names, the sources' circuit breakers, the completeness of the latest
 * reports. Answers come back as result messages (messages.js).
 */

import { AREA, META } from './settings.js';
import { state } from './state.js';

export const REPORTING_QUERY = 'reporting';
const REPORTING_EVERY_MS = 60000; // completeness moves with ingests and due dates: once a minute is plenty
export const CATALOGUE_QUERY = 'catalogue';
export const SOURCES_QUERY = 'sources';

/** Send a message on the feed if it is open; false when it is not (nothing is queued). */
export function sendMessage(msg) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

/** An indicator's history (its sparkline), now or after `delay` ms; not while one is pending. */
export function askHistory(code, delay = 0) {
  if (!META.has(code) || META.get(code).freq === 'live' || state.historyAsked.has(code)) return;
  const send = () => {
    state.historyAsked.set(code, true);
    const ok = sendMessage({ type: 'query', id: `h-${code}`, query: { name: 'history', indicator: code, area: AREA } });
    if (!ok) state.historyAsked.delete(code);
  };
  if (delay > 0) state.historyAsked.set(code, setTimeout(send, delay));
  else send();
}

/** Completeness of the latest reports, now (or after `delay` ms), then once a minute. */
export function askReporting(delay = 0) {
  const r = state.reporting;
  clearTimeout(r.timer);
  if (r.unsupported) return;
  r.timer = setTimeout(() => {
    sendMessage({ type: 'query', id: REPORTING_QUERY, query: { name: 'reporting' } });
    askReporting(REPORTING_EVERY_MS);
  }, delay);
}

/** Each source's circuit breaker (the sources query), now or after `delay` ms (several runs ending
 *  together: asked once). */
export function askSources(delay = 0) {
  clearTimeout(state.sourcesTimer);
  const send = () => sendMessage({ type: 'query', id: SOURCES_QUERY, query: { name: 'sources' } });
  if (delay > 0) state.sourcesTimer = setTimeout(send, delay);
  else send();
}

/** The catalogue (names in both languages), once: it changes only with the server's configuration. */
export function askCatalogue() {
  if (state.catalogue.loaded || state.catalogue.asked) return;
  state.catalogue.asked = sendMessage({ type: 'query', id: CATALOGUE_QUERY, query: { name: 'catalogue' } });
}

/** Drop the queries in flight (their answers will not come); returns which indicators they were for. */
export function forgetHistoryQueries() {
  const codes = [...state.historyAsked.keys()];
  for (const pending of state.historyAsked.values()) if (pending !== true) clearTimeout(pending);
  state.historyAsked.clear();
  return codes;
}
