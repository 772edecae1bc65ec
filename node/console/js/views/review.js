// The panel of records past their review date (GET /v1/review), on the shards view: the counts per
// recording country and, for an NCB or the General Secretariat, the first records to act on. Due
// records still HIT; expired ones (past the grace period too) no longer do until their owner
// renews or deletes them. Read once a minute: the counts change by the day, not by the second.

import { api } from '../api.js';
import { h, replace, setText, badge, scroller } from '../dom.js';
import { num } from '../format.js';

const POLL_MS = 60 * 1000;
const SHOWN = 20; // records listed here; the rest with `fedarms records review`

/** Builds the panel; returns { el, stop }. */
export function reviewPanel() {
  const state = h('p', { id: 'review-state', class: 'muted', role: 'status' }, 'Loading…');
  const counts = h('tbody');
  const records = h('tbody');
  const recordsBlock = h('div', { hidden: true },
    scroller('Records past their review date', h('table', { id: 'review-records' },
      h('thead', {}, h('tr', {}, ['Record', 'Country', 'Review date', 'State', 'No HIT from', 'Serial', 'Make']
        .map((t) => h('th', { scope: 'col' }, t)))),
      records)));
  const el = h('section', { id: 'review', 'aria-labelledby': 'review-title' },
    h('h2', { id: 'review-title' }, 'Records past their review date'),
    state,
    scroller('Records past their review date by country', h('table', { id: 'review-counts' },
      h('thead', {}, h('tr', {}, ['Country', 'Due (still HIT)', 'Expired (no HIT)']
        .map((t, i) => h('th', { scope: 'col', class: i > 0 ? 'num' : null }, t)))),
      counts)),
    recordsBlock,
    h('p', { class: 'note' }, 'The owner renews a record with a new review date, or deletes it. ',
      h('code', {}, 'fedarms records review'), ' lists them all.'));
  const abort = new AbortController();
  let timer = 0;

  const load = async () => {
    try {
      const page = await api(`/v1/review?limit=${SHOWN}`, { signal: abort.signal });
      draw(page);
    } catch (e) {
      if (e.name === 'AbortError') return;
      setText(state, e.status === 403 ? 'This token may not see records past their review date.'
        : e.status === 404 ? 'This node does not list records past their review date (an older release).'
          : `Could not read the list: ${e.message}`);
    }
    timer = setTimeout(load, POLL_MS);
  };

  const draw = (page) => {
    const due = page.counts.reduce((a, c) => a + c.due, 0);
    const expired = page.counts.reduce((a, c) => a + c.expired, 0);
    const grace = page.grace_seconds > 0 ? `grace ${Math.round(page.grace_seconds / 86400)} days` : 'grace off: every record still HITs';
    setText(state, `${num(due)} due, ${num(expired)} expired (${grace})` +
      (page.complete ? '.' : `; this node holds ${page.shards.join(', ')} only: a central node lists them all.`));
    replace(counts, ...page.counts.map((c) => h('tr', { 'data-country': c.country },
      h('th', { scope: 'row' }, c.country),
      h('td', { class: 'num' }, num(c.due)),
      h('td', { class: 'num' }, num(c.expired)))));
    if (page.counts.length === 0) counts.append(h('tr', {}, h('td', { colspan: 3 }, 'No record with a review date.')));
    recordsBlock.hidden = page.records.length === 0;
    replace(records, ...page.records.map((r) => h('tr', { 'data-record': r.id },
      h('th', { scope: 'row', class: 'mono' }, r.id),
      h('td', {}, r.recording_country),
      h('td', {}, r.review_date),
      h('td', {}, r.state === 'expired' ? badge('EXPIRED', 'b-bad') : badge('due', 'b-warn')),
      h('td', {}, r.no_hit_from ? r.no_hit_from.slice(0, 10) : '—'),
      h('td', { class: 'mono' }, r.record ? r.record.serial : '(changed since)'),
      h('td', {}, r.record ? r.record.make : ''))));
  };

  load();
  return { el, stop: () => { abort.abort(); clearTimeout(timer); } };
}
