// The federation view: every member, grouped by region and country, updated in place on each poll
// (rows are kept by member name, so focus, scroll and memory stay put while the data changes).

import { h, setText, setAttr, badge, scroller } from '../dom.js';
import { ago, duration, num, clock } from '../format.js';
import { groupMembers, memberLag, needsAttention, downSinceMs, lagText } from '../model.js';
import { countries } from '../countries.js';
import { settingsPanel } from './settings.js';

/** The page title. */
export const title = 'Federation';

const COLUMNS = [
  ['Member'], ['Role'], ['Status'], ['Last contact'],
  ['Lag (entries)', 'num'], ['Lag (time)', 'num'], ['Outbox', 'num'], ['Version'], ['Shards'],
];

/** Draws the view into main; returns the function that tears it down. */
export function mount(main, { store }) {
  const summary = h('ul', { class: 'summary', 'aria-label': 'Member counts' });
  const filter = h('input', { type: 'search', id: 'member-filter', placeholder: 'name, country, role' });
  const onlyBad = h('input', { type: 'checkbox', id: 'only-attention' });
  const none = h('p', { class: 'muted', hidden: true }, 'No member matches the filter.');
  const groups = h('div', { id: 'regions', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Waiting for the member list…'));
  main.append(
    h('h1', { tabindex: -1 }, 'Federation'),
    summary,
    h('p', { class: 'muted' }, 'Last contact: with a central node. Lag: the most-behind shard, against the most advanced copy any member reports. ',
      'Live: refreshed every 2 s, more slowly while the node does not answer.'),
    h('div', { class: 'toolbar' },
      h('label', { for: 'member-filter' }, 'Filter members', filter),
      h('label', { for: 'only-attention' }, onlyBad, 'Only members needing attention')),
    settingsPanel(store),
    none,
    groups);

  let table = null; // {signature, rows: Map name -> row, regions: [...]} for the current member set
  let names = null; // the country table; the first draw waits for it so groups do not jump
  const draw = () => {
    if (!store.loaded || !names) return;
    const members = store.members;
    const sig = members.map((m) => `${m.name}|${m.country || ''}|${m.role}`).join(',');
    if (!table || table.signature !== sig) {
      table = build(members, names);
      table.signature = sig;
      groups.replaceChildren(...table.sections);
      groups.removeAttribute('aria-busy');
      // For the first-paint measurement: when the member table first reached the page.
      if (!performance.getEntriesByName('fedarms:members').length) performance.mark('fedarms:members');
    }
    update(table, members, store, summary);
    none.hidden = applyFilter(table, filter.value.trim().toLowerCase(), onlyBad.checked);
    followHash();
  };
  // An alert's link names a member (#m-NAME) or asks for the members needing attention
  // (#attention): honour it once the rows exist, then forget it. (Following another alert
  // remounts the view, which reads the new fragment.)
  let hash = location.hash;
  const followHash = () => {
    if (!hash) return;
    if (hash === '#attention') {
      onlyBad.checked = true;
      hash = '';
      draw();
      return;
    }
    const row = table.rows.get(decodeURIComponent(hash.slice(3)));
    hash = '';
    if (!row) return;
    row.tr.hidden = false;
    row.tr.tabIndex = -1;
    row.tr.scrollIntoView({ block: 'center' });
    row.tr.focus();
    flash(row.tr);
  };
  filter.addEventListener('input', draw);
  onlyBad.addEventListener('change', draw);
  countries().then((c) => { names = c; draw(); });
  store.addEventListener('update', draw);
  return () => store.removeEventListener('update', draw);
}

function build(members, names) {
  const rows = new Map();
  const regions = [];
  const sections = [];
  for (const g of groupMembers(members, names)) {
    const id = `region-${g.region}`;
    const counts = h('span', { class: 'counts' });
    const tbodies = [];
    for (const c of g.countries) {
      const head = h('tr', { class: 'group' }, h('th', { scope: 'rowgroup', colspan: COLUMNS.length },
        c.code ? `${c.name} (${c.code})` : c.name));
      const tb = h('tbody', { 'data-country': c.code }, head);
      const countryRows = [];
      for (const m of c.members) {
        const row = newRow(m);
        rows.set(m.name, row);
        countryRows.push(row);
        tb.append(row.tr);
      }
      tbodies.push({ tb, rows: countryRows });
    }
    const thead = h('thead', {}, h('tr', {}, COLUMNS.map(([t, cls]) => h('th', { scope: 'col', class: cls }, t))));
    const section = h('section', { class: 'region', 'aria-labelledby': id, 'data-region': g.region },
      h('h2', { id }, g.label, ' ', counts),
      scroller(`${g.label}: members`, h('table', {}, thead, tbodies.map((x) => x.tb))));
    regions.push({ section, counts, tbodies, members: g.countries.flatMap((c) => c.members.map((m) => m.name)) });
    sections.push(section);
  }
  return { rows, regions, sections };
}

function newRow(m) {
  const td = (cls) => h('td', { class: cls });
  const cells = { name: h('th', { scope: 'row' }), role: td(), status: td(), contact: td(), lagE: td('num'),
    lagS: td('num'), outbox: td('num'), version: td(), shards: td() };
  cells.status.className = 'status';
  const tr = h('tr', { 'data-member': m.name, id: `m-${m.name}` }, Object.values(cells));
  setText(cells.name, m.name);
  if (m.self) cells.name.classList.add('self');
  if (m.peer_id) cells.name.title = `peer ${m.peer_id}`;
  return { tr, cells, status: '' };
}

function update(table, members, store, summary) {
  const now = Date.now();
  const byStatus = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const m of members) {
    byStatus[m.status] = (byStatus[m.status] || 0) + 1;
    const row = table.rows.get(m.name);
    if (!row) continue;
    const c = row.cells;
    const since = downSinceMs(m, store.firstSeenDown.get(m.name));
    setText(c.role, m.role);
    if (row.status !== m.status) {
      c.status.replaceChildren(badge(m.status, `s-${m.status}`), h('span'));
      if (row.status) flash(row.tr);
      row.status = m.status;
    }
    setText(c.status.lastChild, since === null ? '' : ` for ${duration((now - since) / 1000)}`);
    setAttr(row.tr, 'data-status', m.status);
    const down = m.status === 'dead' || m.status === 'suspect';
    row.tr.classList.toggle('down', down);
    row.tr.classList.toggle('uneasy', !down && needsAttention(m, store.staleAfterS));
    setText(c.contact, ago(m.last_contact, now));
    c.contact.title = m.last_contact ? clock(m.last_contact, now) : '';
    const lag = memberLag(m);
    setText(c.lagE, num(lag.entries));
    setText(c.lagS, lagText(lag.seconds));
    setText(c.outbox, num(m.outbox_depth));
    setText(c.version, m.version || '—');
    setText(c.shards, (m.shards || []).map((s) => s.shard).join(', ') || '—');
  }
  for (const r of table.regions) {
    let down = 0;
    for (const name of r.members) {
      const row = table.rows.get(name);
      if (row && (row.status === 'dead' || row.status === 'suspect')) down++;
    }
    setText(r.counts, `(${r.members.length} member${r.members.length === 1 ? '' : 's'}${down ? ` · ${down} unreachable` : ''})`);
  }
  const items = [h('li', {}, h('strong', {}, `${members.length} members`))];
  for (const [st, cls] of [['alive', 's-alive'], ['suspect', 's-suspect'], ['dead', 's-dead'], ['left', 's-left']]) {
    if (byStatus[st]) items.push(h('li', {}, badge(`${byStatus[st]} ${st}`, cls)));
  }
  items.push(h('li', { class: 'muted' }, `updated ${clock(new Date(store.updatedAt).toISOString(), now)}`));
  summary.replaceChildren(...items);
}

// applyFilter hides the rows, countries and regions the filter leaves out; true when any is shown.
function applyFilter(table, q, onlyBad) {
  let shown = false;
  for (const r of table.regions) {
    let any = false;
    for (const { tb, rows } of r.tbodies) {
      let visible = 0;
      for (const row of rows) {
        const text = row.tr.textContent.toLowerCase() + ' ' + (tb.dataset.country || '').toLowerCase();
        const bad = row.tr.classList.contains('down') || row.tr.classList.contains('uneasy');
        const show = (!q || text.includes(q) || tb.rows[0].textContent.toLowerCase().includes(q)) && (!onlyBad || bad);
        row.tr.hidden = !show;
        if (show) visible++;
      }
      tb.hidden = visible === 0;
      any ||= visible > 0;
    }
    r.section.hidden = !any;
    shown ||= any;
  }
  return shown;
}

function flash(tr) {
  tr.classList.remove('changed');
  void tr.offsetWidth; // restart the animation
  tr.classList.add('changed');
}
