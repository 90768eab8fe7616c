/*
 * The page's state: one object the other modules read and change (its fields say what each holds),
 * the screen's storage, and the page's language and clock.
 */

import { WORDS } from './words.js';

export const STORAGE_TOKEN = 'opscentre.token';
export const STORAGE_LANG = 'opscentre.lang';

/** localStorage, but a screen with storage disabled still works (for this session only). */
export const storage = {
  memory: new Map(),
  get(key) {
    try { return window.localStorage.getItem(key); } catch { return this.memory.get(key) ?? null; }
  },
  set(key, value) {
    try { window.localStorage.setItem(key, value); } catch { this.memory.set(key, value); }
  },
  remove(key) {
    try { window.localStorage.removeItem(key); } catch { /* storage disabled */ }
    this.memory.delete(key);
  },
};

export const state = {
  lang: storage.get(STORAGE_LANG) === 'en' ? 'en' : 'vi',
  token: storage.get(STORAGE_TOKEN) || null,

  ws: null,
  conn: 'connecting', // connecting | live | reconnecting | auth
  everLive: false,
  attempt: 0, // reconnect attempts since the last stable connection
  retryAt: 0,
  timers: { retry: 0, welcome: 0, silence: 0, stable: 0 },
  position: null, // {epoch, seq}: the last event received, for resume
  lastWelcome: null,
  authProblem: null, // why the token form is shown (see showAuth)
  lastMessageAt: 0,
  clockOffset: 0, // server time minus this screen's time (from heartbeats)

  series: new Map(), // indicator -> Map(source -> figure): newest figure per series
  history: new Map(), // indicator -> Map(source -> [{period, value, revision}]) oldest first
  historyLoaded: new Set(), // indicators whose history query has been answered
  historyAsked: new Map(), // indicator -> timer or true (query pending)
  historyWanted: new Set(), // queries lost with the last connection, to ask again after a resume
  alerts: new Map(), // id -> alert (open ones only)
  running: new Map(), // run id -> run
  lastRun: null,
  counters: new Map(), // code -> {shown, from, target, start, previous}
  // From the catalogue query: names in both languages for what alerts are about.
  catalogue: { asked: false, loaded: false, indicators: new Map(), areas: new Map(), agencies: new Map() },
  circuits: new Map(), // source (lower case) -> closed | open | half_open, from the sources query
  sourceStates: null, // source (lower case) -> failing | down; null: to be worked out again
  sourcesTimer: 0,
  // The reporting query's answer (completeness per indicator, latest period due); unsupported: the
  // server does not know the query (the panel stays hidden, and it is not asked again).
  reporting: { rows: null, unsupported: false, timer: 0 },

  stats: { connects: 0, welcomes: 0, resumes: 0, snapshots: 0, messages: 0, ignored: 0 },
};

/** The page's own words in its language. */
export const W = () => WORDS[state.lang];
/** Now on the server's clock (ms): ages and staleness are measured on it, not the screen's. */
export const serverNow = () => Date.now() + state.clockOffset;
