// The console's live data: one poller for the members and this node's shards (every view and the
// alerts banner read the same snapshot), backing off while the node does not answer and pausing
// while the tab is hidden. It holds only the latest answers, so memory stays flat however long the
// page stays open.

import { api, pages, APIError } from './api.js';
import { DEFAULT_SETTINGS } from './model.js';

const INTERVAL_MS = 2000;
const MAX_BACKOFF_MS = 30000;
const HITS_EVERY = 5; // ticks between hit list refreshes (10 s)
const SETTINGS_KEY = 'fedarms.settings';

/** Delay before the next poll after `failures` failures in a row: 2 s, then doubling to 30 s. */
export function backoffMs(failures) {
  return failures === 0 ? INTERVAL_MS : Math.min(MAX_BACKOFF_MS, INTERVAL_MS * 2 ** failures);
}

/**
 * Store fires 'update' after each successful poll, 'state' when the connection state changes
 * ({state: ok|retry|paused, retryInMs, error}) and 'transition' when a member changes status.
 */
export class Store extends EventTarget {
  constructor() {
    super();
    this.members = [];
    this.shards = [];
    this.hits = null; // the hit list, or null while the node offers none
    this.hitsState = 'unknown'; // unknown, ok, absent (404: not on this node version), forbidden, error
    this.health = null;
    this.updatedAt = 0;
    this.firstSeenDown = new Map(); // member name -> ms when this console first saw it not alive
    this.settings = loadSettings();
    this.staleAfterS = null; // the node's max_staleness in seconds (GET /v1/shards), for isStale
    this.failures = 0;
    this.ticks = 0;
    this.timer = 0;
    this.running = false;
    this.loaded = false;
    this.onVisibility = () => (document.hidden ? this.pause() : this.resume());
  }

  /** Starts polling now. */
  start() {
    if (this.running) return;
    this.running = true;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.tick();
  }

  /** Stops polling and forgets the data (on sign-out). */
  stop() {
    this.running = false;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.members = [];
    this.shards = [];
    this.hits = null;
    this.loaded = false;
    this.firstSeenDown.clear();
  }

  pause() {
    clearTimeout(this.timer);
    this.emit('state', { state: 'paused' });
  }

  resume() {
    if (this.running) this.tick();
  }

  /** Polls at once (after a fault drill, or when the user asks). */
  refreshNow() {
    if (this.running) this.tick();
  }

  async tick() {
    clearTimeout(this.timer);
    const tick = ++this.ticks;
    try {
      const [m, s] = await Promise.all([api('/v1/cluster/members'), api('/v1/shards')]);
      if (tick !== this.ticks || !this.running) return; // a newer tick superseded this one
      if ((tick - 1) % HITS_EVERY === 0 && this.hitsState !== 'absent') await this.fetchHits();
      if ((tick - 1) % 15 === 0) this.health = await api('/v1/health').catch(() => this.health);
      if (typeof s.stale_after_seconds === 'number') this.staleAfterS = s.stale_after_seconds;
      this.accept(m.members || [], s.shards || []);
      // Every fetch leaves a resource-timing entry; a page open for days does not need them.
      if (tick % 100 === 0) performance.clearResourceTimings();
      this.failures = 0;
      this.emit('state', { state: 'ok' });
    } catch (e) {
      if (tick !== this.ticks || !this.running) return;
      if (e instanceof APIError && e.status === 401) return; // the app signs out
      this.failures++;
      this.emit('state', { state: 'retry', retryInMs: backoffMs(this.failures), error: e.message });
    }
    if (this.running && !document.hidden) this.timer = setTimeout(() => this.tick(), backoffMs(this.failures));
  }

  // fetchHits reads only the hits an alert can be about (undelivered, or overdue for a decision),
  // so the General Secretariat's long history is not fetched every ten seconds.
  async fetchHits() {
    try {
      const lists = await Promise.all(['undelivered', 'overdue'].map((s) => pages(`/v1/hits?status=${s}`, 'hits')));
      const byID = new Map();
      for (const l of lists) for (const x of l.items) byID.set(x.id, x);
      this.hits = [...byID.values()];
      this.hitsState = 'ok';
    } catch (e) {
      this.hits = null;
      this.hitsState = e.status === 404 ? 'absent' : e.status === 403 ? 'forbidden' : 'error';
    }
  }

  accept(members, shards) {
    const now = Date.now();
    const before = new Map(this.members.map((m) => [m.name, m.status]));
    for (const m of members) {
      if (m.status === 'alive' || m.status === 'left') this.firstSeenDown.delete(m.name);
      else if (!this.firstSeenDown.has(m.name)) this.firstSeenDown.set(m.name, now);
      const prev = before.get(m.name);
      if (this.loaded && prev && prev !== m.status) this.emit('transition', { name: m.name, from: prev, to: m.status });
    }
    const names = new Set(members.map((m) => m.name));
    for (const name of this.firstSeenDown.keys()) if (!names.has(name)) this.firstSeenDown.delete(name);
    this.members = members;
    this.shards = shards;
    this.updatedAt = now;
    this.loaded = true;
    this.emit('update', {});
  }

  /** Saves changed thresholds for this browser and redraws. */
  saveSettings(s) {
    this.settings = { ...DEFAULT_SETTINGS, ...s };
    try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.settings)); } catch { /* private mode */ }
    this.emit('update', {});
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function loadSettings() {
  try {
    const s = JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}');
    const out = { ...DEFAULT_SETTINGS };
    for (const k of Object.keys(DEFAULT_SETTINGS)) if (Number.isFinite(s[k]) && s[k] > 0) out[k] = s[k];
    return out;
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}
