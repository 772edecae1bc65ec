// The hits view: pending decisions with their deadline, notifications still missing a receipt, and
// the stream of new hits. Built against the contract's GET /v1/hits, /v1/hits/stream and
// POST /v1/hits/{id}/decision; where the node does not offer them yet it says so, and still looks
// a single hit up by id (GET /v1/hits/{id}).

import { api, pages, stream } from '../api.js';
import { h, replace, setText, announce } from '../dom.js';
import { hitDeadline } from '../model.js';
import { countdown } from '../format.js';
import { hitTable, lookupForm } from './hittable.js';

/** The page title. */
export const title = 'Hits';

const KEEP = 500; // hits kept in memory: the newest ones
const POLL_MS = 5000;
const RECENT_MS = 24 * 3600 * 1000; // how far back "recent hits" reach

/** Draws the view into main; returns the function that tears it down. */
export function mount(main) {
  const state = h('p', { id: 'hits-state', class: 'muted', role: 'status' }, 'Loading hits…');
  const body = h('div', { id: 'hits-body' });
  main.append(h('h1', { tabindex: -1 }, 'Hits'), state, body, lookupForm());
  const hits = new Map();
  const controls = new Map(); // hit id -> its decide controls, kept across redraws
  const abort = new AbortController();
  let pollTimer = 0;
  let truncated = false; // a list was longer than the console reads (pages() stops at 5,000)
  let clockTimer = 0;
  let alive = true;

  const merge = (list, fromStream) => {
    for (const x of list) {
      if (fromStream && !hits.has(x.id)) announce(`New hit ${x.id} on ${x.record_id} (${x.recording_country})`, true);
      hits.set(x.id, x);
    }
    if (hits.size > KEEP) {
      const sorted = [...hits.values()].sort((a, b) => Date.parse(b.searched_at) - Date.parse(a.searched_at));
      for (const x of sorted.slice(KEEP)) hits.delete(x.id);
    }
    draw();
  };

  const draw = () => {
    const all = [...hits.values()];
    const now = Date.now();
    const pending = all.filter((x) => x.decision === 'pending')
      .sort((a, b) => (hitDeadline(a)?.ms ?? 0) - (hitDeadline(b)?.ms ?? 0));
    const undelivered = all.filter((x) => Object.values(x.receipts || {}).some((v) => !v))
      .sort((a, b) => Date.parse(a.searched_at) - Date.parse(b.searched_at));
    const recent = all.filter((x) => now - Date.parse(x.searched_at) <= RECENT_MS)
      .sort((a, b) => Date.parse(b.searched_at) - Date.parse(a.searched_at)).slice(0, 100);
    const onDecided = (x) => {
      hits.set(x.id, x);
      controls.delete(x.id);
      announce(`Hit ${x.id} on ${x.record_id}: ${x.decision}`);
      draw();
    };
    for (const id of controls.keys()) if (!pending.some((x) => x.id === id)) controls.delete(id);
    const active = document.activeElement;
    replace(body,
      truncated ? h('p', { class: 'note' }, 'Only the newest 5,000 hits of a list are shown here; page through the rest with fedarms hits --all.') : null,
      h('h2', {}, `Pending decisions (${pending.length})`),
      pending.length ? hitTable(pending, { now, decide: true, onDecided, controls, label: 'Pending decisions' }) : h('p', { class: 'muted' }, 'None.'),
      h('h2', {}, `Undelivered notifications (${undelivered.length})`),
      undelivered.length ? hitTable(undelivered, { now, label: 'Undelivered notifications' }) : h('p', { class: 'muted' }, 'None: every recipient has stored every hit.'),
      h('h2', {}, 'Hits of the last 24 hours'),
      recent.length ? hitTable(recent, { now, label: 'Recent hits' }) : h('p', { class: 'muted' }, 'No hit visible to this token in the last 24 hours.'));
    // The decide controls are the same elements as before the redraw: give focus back to them.
    if (active && active !== document.body && body.contains(active)) active.focus();
  };

  // poll reads what the page shows: every pending decision, every undelivered notification, and
  // the last day's hits; not the whole history a General Secretariat node holds.
  const poll = async () => {
    try {
      const since = new Date(Date.now() - RECENT_MS).toISOString().replace(/\.\d+Z$/, 'Z');
      const lists = await Promise.all(['status=pending', 'status=undelivered', `since=${since}`]
        .map((q) => pages(`/v1/hits?${q}`, 'hits', { signal: abort.signal })));
      // The answers are the whole truth for what the page shows: a hit decided elsewhere since
      // the last poll leaves the pending list here too.
      hits.clear();
      truncated = lists.some((l) => l.more);
      merge(lists.flatMap((l) => l.items), false);
      return true;
    } catch (e) {
      if (e.name === 'AbortError') return false;
      if (e.status === 404) {
        replace(body, h('div', { class: 'note', id: 'hits-absent' },
          h('p', {}, h('strong', {}, 'Hit lists arrive with the notification subsystem.'),
            ' This node version does not offer GET /v1/hits yet, so pending decisions, undelivered notifications and the live stream cannot be shown. ',
            'Every hit is already stored durably with its audit entry; look one up by its id below.')));
        setText(state, 'Not available on this node version.');
        return false;
      }
      setText(state, e.status === 403 ? `This token may not list hits: ${e.message}.` : `Could not load hits: ${e.message}.`);
      return e.status !== 403;
    }
  };

  const follow = async () => {
    let failures = 0;
    while (alive) {
      // After a dropped stream, catch up on what was missed before listening again.
      if (failures > 0 && !(await poll())) break;
      try {
        setText(state, 'Live: new hits appear as they are made.');
        await stream('/v1/hits/stream', (ev) => {
          failures = 0;
          try { merge([JSON.parse(ev.data)], true); } catch { /* a keep-alive or a foreign event */ }
        }, abort.signal);
      } catch (e) {
        if (!alive || e.name === 'AbortError') return;
        if (e.status === 404 || e.status === 403) break; // no stream here: poll instead
      }
      failures++;
      setText(state, 'The live stream dropped; reconnecting…');
      await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** failures)));
    }
    if (!alive) return;
    setText(state, `Refreshed every ${POLL_MS / 1000} s (this node offers no live stream).`);
    const again = async () => { if (alive && await poll()) pollTimer = setTimeout(again, POLL_MS); };
    pollTimer = setTimeout(again, POLL_MS);
  };

  poll().then((ok) => {
    if (!ok || !alive) return;
    follow();
    // Countdowns move every second without refetching.
    clockTimer = setInterval(() => {
      const now = Date.now();
      for (const el of body.querySelectorAll('[data-deadline]')) {
        const ms = Number(el.dataset.deadline);
        setText(el, countdown(ms, now));
        el.classList.toggle('late', now > ms);
      }
    }, 1000);
  });
  return () => {
    alive = false;
    abort.abort();
    clearTimeout(pollTimer);
    clearInterval(clockTimer);
  };
}
