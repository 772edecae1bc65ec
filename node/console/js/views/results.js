// Search results and coverage as the officer reads them.

import { h, badge, scroller } from '../dom.js';
import { ago, percent, num } from '../format.js';

const RECORD_FIELDS = [
  ['serial', 'Serial'], ['other_serials', 'Other numbers'], ['make', 'Make'], ['model', 'Model'],
  ['calibre', 'Calibre'], ['type', 'Type'], ['status', 'Reported'], ['recording_country', 'Recorded by'],
  ['country_of_manufacture', 'Made in'], ['event_date', 'Event date'], ['case_reference', 'Case'],
  ['remarks', 'Remarks'],
];

/** The ranked results as a list of cards: HIT and REVIEW badges, the record, and why it matched. */
export function renderResults(results) {
  return h('ol', { class: 'results', 'aria-labelledby': 'results-title' }, results.map((r, i) => {
    const kind = r.hit ? 'hit' : r.review ? 'review' : '';
    const rec = r.record || {};
    return h('li', { class: `result ${kind}`, 'data-result': r.id },
      h('h3', {}, `${i + 1}.`,
        r.hit ? badge('HIT', 'b-hit') : r.review ? badge('REVIEW', 'b-review') : badge('weak match', 'b-off'),
        h('span', { class: 'mono' }, r.id), h('span', { class: 'muted' }, `score ${percent(r.score)}`)),
      r.hit ? h('p', {}, 'A hit is a request to the recording country to confirm, not proof. ',
        r.notification_id ? ['Notification ', h('code', {}, r.notification_id),
          ` is stored on this node for the General Secretariat, the NCB of ${rec.recording_country || 'the recording country'} and your agency.`] : '') : null,
      !r.hit && r.review ? h('p', {}, 'Close but not certain: compare the firearm with the record before acting.') : null,
      h('dl', {}, RECORD_FIELDS.flatMap(([k, label]) => {
        const v = Array.isArray(rec[k]) ? rec[k].join(', ') : rec[k];
        return v ? [h('div', {}, h('dt', {}, label), h('dd', {}, v))] : [];
      })),
      whyList(r.why));
  }));
}

function whyList(why) {
  const entries = Object.entries(why || {});
  if (!entries.length) return null;
  return h('div', { class: 'why-block' }, h('span', { class: 'muted', id: null }, 'Why: '),
    h('ul', { class: 'why-inline' }, entries.map(([k, v]) => h('li', {}, h('strong', {}, k), `: ${v}`))));
}

/** The coverage table: each shard, where it was searched, how fresh the copy was. */
export function renderCoverage(cov) {
  const now = Date.now();
  const head = h('p', { id: 'coverage-state' }, cov.complete
    ? [badge('complete', 'b-ok'), ' Every shard was searched.']
    : [badge('INCOMPLETE', 'b-bad'), ' Some shards were not searched.']);
  const rows = (cov.shards || []).map((s) => h('tr', { 'data-shard': s.shard, class: s.source === 'missing' ? 'down' : s.stale ? 'uneasy' : null },
    h('th', { scope: 'row' }, s.shard),
    h('td', {}, s.source === 'missing' ? badge('NOT SEARCHED', 'b-bad') : s.source),
    h('td', {}, s.node || (s.source === 'local' ? 'this node' : '—')),
    h('td', { class: 'num' }, s.source === 'missing' ? '—' : num(s.applied_index)),
    h('td', {}, s.source === 'missing' ? '—' : ago(s.last_contact, now)),
    h('td', {}, s.source === 'missing' ? '—' : s.stale ? badge('STALE', 'b-bad') : badge('fresh', 'b-ok'))));
  return h('div', {}, head, scroller('Coverage by shard', h('table', { id: 'coverage' },
    h('thead', {}, h('tr', {}, ['Shard', 'Searched', 'Node', 'Applied index', 'Last contact with leader', 'Copy']
      .map((t, i) => h('th', { scope: 'col', class: i === 3 ? 'num' : null }, t)))),
    h('tbody', {}, rows))));
}
