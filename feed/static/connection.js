/*
 * The connection to the feed, and the token form that opens it.
 *
 *   - Browsers cannot set headers on a WebSocket, so the token goes in the first message (hello),
 *     never in a URL. It is kept in localStorage so a wall screen asks for it once.
 *   - hello carries the filter and, after the first connection, the last (epoch, seq) received, so a
 *     reconnect resumes: the server replays only what was missed, or sends a fresh snapshot.
 *   - Reconnects back off exponentially with jitter, so a restarted server is not hit by every screen
 *     at the same instant. Close codes 4401/4403 are final: the token form comes back.
 *
 * What arrives goes to the function given to receiveWith (main.js gives messages.js's onMessage:
 * this module does not import the one that imports it).
 */

import { $, setData } from './dom.js';
import { forgetHistoryQueries } from './queries.js';
import { renderAuthError, renderConn } from './render.js';
import {
  BACKOFF_FIRST_MS, BACKOFF_MAX_MS, FILTER, SILENCE_TIMEOUT_MS, TERMINAL_CLOSE, WELCOME_TIMEOUT_MS,
} from './settings.js';
import { STORAGE_TOKEN, state, storage } from './state.js';

let receive = () => {};

/** Where the feed's text frames go. */
export function receiveWith(handler) {
  receive = handler;
}

function feedUrl() {
  // Same host and port as the page; wss when the page came over https. Never a token here.
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/feed`;
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

/** Open the feed (after closing any socket held); without a token, ask for one. */
export function connect() {
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
  ws.onmessage = (ev) => { if (state.ws === ws && typeof ev.data === 'string') receive(ev.data); };
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

export function scheduleReconnect() {
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

export function armSilenceTimer() {
  clearTimeout(state.timers.silence);
  const ws = state.ws;
  // A link can die without a close (a cable pulled): no heartbeat for this long means gone.
  state.timers.silence = setTimeout(() => {
    if (state.ws === ws) { detachSocket(4000, 'silent'); scheduleReconnect(); }
  }, SILENCE_TIMEOUT_MS);
}

/** The connection state: connecting | live | reconnecting | auth (#conn[data-state]). */
export function setConn(conn) {
  state.conn = conn;
  const el = $('#conn');
  setData(el, 'state', conn);
  if (conn !== 'live') setData(el, 'resumed', 'false');
  renderConn();
}

// --- the token form ---------------------------------------------------------------------------

/** Ask for the token; `problem` is null, {empty: true}, or the close {code, reason} that refused it. */
export function showAuth(problem) {
  clearTimers();
  detachSocket();
  state.authProblem = problem;
  setConn('auth');
  $('#auth').hidden = false;
  renderAuthError();
  $('#token-input').focus();
}

/** The token form sent: keep the token (this screen asks once) and connect with it. */
export function submitToken(ev) {
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

/** "Change token": forget it and ask again. */
export function changeToken() {
  state.token = null;
  storage.remove(STORAGE_TOKEN);
  showAuth(null);
}
