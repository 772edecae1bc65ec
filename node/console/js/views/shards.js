// The shards view: this node's shards (leader, applied index, records, digest, freshness), per
// shard every holder's progress as the members list reports it, and the records past their review
// date (review.js).

import { h, replace, badge, scroller, setText } from '../dom.js';
import { ago, num, shortDigest, clock } from '../format.js';
import { shardHolders, digestAgreement, lagText } from '../model.js';
import { reviewPanel } from './review.js';

/** The page title. */
export const title = 'Shards';

/** Draws the view into main; returns the function that tears it down. */
export function mount(main, { store }) {
  const own = h('tbody');
  const perShard = h('div', { id: 'shard-holders' });
  const sections = new Map(); // shard -> {section, tbody, summary, agreement}
  const updated = h('p', { class: 'muted' });
  main.append(
    h('h1', { tabindex: -1 }, 'Shards'),
    updated,
    h('h2', {}, 'On this node'),
    scroller("This node's shards", h('table', { id: 'own-shards' },
      h('thead', {}, h('tr', {}, ['Shard', 'Role here', 'Leader', 'Applied index', 'Records', 'Digest',
        'Last contact with leader', 'Copy'].map((t, i) => h('th', { scope: 'col', class: i >= 3 && i <= 4 ? 'num' : null }, t)))),
      own)),
    h('p', { class: 'note' }, 'Digest agreement: every member gossips the start of each copy\'s digest; a copy that ',
      'differs from this node\'s is named below. ', h('code', {}, 'GET /v1/shards'), ' on a member gives its digest whole.'),
    h('h2', {}, 'Every holder'),
    perShard);
  const review = reviewPanel();
  main.append(review.el);

  const draw = () => {
    if (!store.loaded) return;
    const now = Date.now();
    setText(updated, `This node's view, updated ${clock(new Date(store.updatedAt).toISOString(), now)}.`);
    replace(own, ...store.shards.map((s) => ownRow(s, now)));
    if (store.shards.length === 0) own.append(h('tr', {}, h('td', { colspan: 8 }, 'This node holds no shard.')));
    const names = new Set(store.shards.map((s) => s.shard));
    for (const m of store.members) for (const s of m.shards || []) names.add(s.shard);
    for (const name of [...names].sort()) {
      let sec = sections.get(name);
      if (!sec) {
        sec = newSection(name);
        sections.set(name, sec);
        perShard.append(sec.details);
      }
      fill(sec, name, store);
    }
  };
  store.addEventListener('update', draw);
  draw();
  return () => {
    store.removeEventListener('update', draw);
    review.stop();
  };
}

function ownRow(s, now) {
  const copy = s.stale ? badge('STALE', 'b-bad') : badge('fresh', 'b-ok');
  return h('tr', { 'data-shard': s.shard },
    h('th', { scope: 'row' }, s.shard),
    h('td', {}, s.role === 'nonvoter' ? 'non-voter' : s.role),
    h('td', {}, s.leader ? s.leader : badge('NO LEADER', 'b-bad')),
    h('td', { class: 'num' }, num(s.applied_index)),
    h('td', { class: 'num' }, num(s.records)),
    h('td', { class: 'mono', title: s.digest }, shortDigest(s.digest)),
    h('td', { title: s.last_contact ? clock(s.last_contact, now) : '' }, ago(s.last_contact, now)),
    h('td', {}, copy));
}

function newSection(name) {
  const tbody = h('tbody');
  const summary = h('span');
  const agreement = h('p', { class: 'muted' });
  const details = h('details', { open: true, 'data-shard': name },
    h('summary', {}, h('strong', {}, name), ' ', summary),
    agreement,
    scroller(`Holders of ${name}`, h('table', {},
      h('thead', {}, h('tr', {}, ['Member', 'Raft role', 'Status', 'Applied index', 'Lag (entries)', 'Lag (time)']
        .map((t, i) => h('th', { scope: 'col', class: i >= 3 ? 'num' : null }, t)))),
      tbody)));
  return { details, tbody, summary, agreement };
}

function fill(sec, name, store) {
  const holders = shardHolders(name, store.members);
  const voters = holders.filter((x) => x.voter).length;
  const maxLag = holders.reduce((a, x) => Math.max(a, x.lagEntries || 0), 0);
  const self = store.shards.find((s) => s.shard === name);
  const leader = self ? (self.leader || 'none') : 'not known here';
  setText(sec.summary, `· leader ${leader} · ${voters} voter${voters === 1 ? '' : 's'}, ` +
    `${holders.length - voters} non-voter${holders.length - voters === 1 ? '' : 's'} · most behind: ${num(maxLag)} entr${maxLag === 1 ? 'y' : 'ies'}`);
  const ag = self ? digestAgreement(self.digest, holders) : null;
  setText(sec.agreement, ag === null
    ? (self ? `Digest here: ${shortDigest(self.digest)}. Other holders' digests: not available on this node version.` : 'Not held by this node.')
    : ag.differ.length === 0 ? `All ${ag.known} reporting holders agree on the digest.`
      : `Digest differs on: ${ag.differ.join(', ')}.`);
  replace(sec.tbody, ...holders.map((x) => h('tr', { class: x.status === 'alive' ? (x.lagEntries > 0 ? 'uneasy' : null) : 'down', 'data-member': x.name },
    h('th', { scope: 'row', class: x.self ? 'self' : null }, x.name),
    h('td', {}, x.voter ? 'voter' : 'non-voter'),
    h('td', {}, badge(x.status, `s-${x.status}`)),
    h('td', { class: 'num' }, num(x.applied)),
    h('td', { class: 'num' }, num(x.lagEntries)),
    h('td', { class: 'num' }, lagText(x.lagSeconds)))));
}
