// The search page for officers: a firearm's description in, ranked records out, with why each one
// matched and what part of the database the answer covers (a missing or stale shard is said first,
// because "no result" from an incomplete search is not "not recorded").

import { api } from '../api.js';
import { h, replace, announce } from '../dom.js';
import { renderResults, renderCoverage } from './results.js';

/** The page title. */
export const title = 'Search';

const TYPES = ['pistol', 'revolver', 'rifle', 'shotgun', 'submachine_gun', 'machine_gun', 'other'];
const FIELDS = [
  ['serial', 'Serial number', 'Required. ? stands for one unreadable character, * for several.', { required: true, autocomplete: 'off', spellcheck: 'false' }],
  ['make', 'Make', 'Manufacturer as marked; aliases are understood.', {}],
  ['model', 'Model', '', {}],
  ['calibre', 'Calibre', 'For example 9x19 or .45 ACP.', {}],
  ['on_behalf_of', 'On behalf of', 'The agency you search for, if not your own.', {}],
  ['reference', 'Your reference', 'Case or file number, kept in the audit log.', {}],
];

let last = null; // {query, resp}: the last answer, shown again when the officer comes back

/** Draws the view into main; returns the function that tears it down. */
export function mount(main) {
  const inputs = {};
  const errors = {};
  const fields = FIELDS.map(([k, label, hint, attrs]) => {
    inputs[k] = h('input', { id: `q-${k}`, name: k, type: 'text', ...attrs, 'aria-describedby': `q-${k}-hint q-${k}-err` });
    errors[k] = h('span', { id: `q-${k}-err`, class: 'error' });
    return h('label', { for: `q-${k}` }, label, inputs[k], h('span', { id: `q-${k}-hint`, class: 'hint' }, hint), errors[k]);
  });
  inputs.type = h('select', { id: 'q-type', name: 'type', 'aria-describedby': 'q-type-err' },
    h('option', { value: '' }, 'Any type'), TYPES.map((t) => h('option', { value: t }, t.replace('_', ' '))));
  errors.type = h('span', { id: 'q-type-err', class: 'error' });
  inputs.limit = h('input', { id: 'q-limit', name: 'limit', type: 'number', min: 1, max: 100, value: '10', 'aria-describedby': 'q-limit-err' });
  errors.limit = h('span', { id: 'q-limit-err', class: 'error' });
  // Sent only when ticked: a node older than the urgent flag rejects unknown fields.
  const urgent = h('input', { id: 'q-urgent', name: 'urgent', type: 'checkbox' });
  const submit = h('button', { type: 'submit' }, 'Search');
  const formError = h('p', { class: 'error', role: 'alert' });
  const out = h('div', { id: 'search-out', 'aria-live': 'off' });
  const form = h('form', { class: 'form', 'aria-labelledby': 'search-title', novalidate: true },
    fields.slice(0, 4),
    h('label', { for: 'q-type' }, 'Type', inputs.type, errors.type),
    fields.slice(4),
    h('label', { for: 'q-limit' }, 'Results at most', inputs.limit, errors.limit),
    h('label', { for: 'q-urgent', class: 'inline' }, urgent, 'Urgent: a hit must be confirmed within the urgent deadline (10 minutes by default)'),
    h('div', { class: 'actions' }, submit, h('button', { type: 'reset', class: 'secondary' }, 'Clear')));

  form.addEventListener('reset', () => { replace(out); last = null; clearErrors(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const q = { limit: Number(inputs.limit.value) || 10 };
    for (const k of [...FIELDS.map((f) => f[0]), 'type']) q[k] = inputs[k].value.trim();
    if (urgent.checked) q.urgent = true;
    if (!q.serial) return fieldError('serial', 'Enter the serial number as you read it; use ? or * for what you cannot read.');
    submit.disabled = true;
    submit.textContent = 'Searching…';
    try {
      const resp = await api('/v1/search', { method: 'POST', body: q });
      last = { query: q, resp };
      show(out, resp, true);
    } catch (x) {
      if (x.field && inputs[x.field]) fieldError(x.field, x.message);
      else formError.textContent = `The search failed: ${x.message}.`;
    } finally {
      submit.disabled = false;
      submit.textContent = 'Search';
    }
  });

  function clearErrors() {
    formError.textContent = '';
    for (const k of Object.keys(errors)) {
      errors[k].textContent = '';
      inputs[k].removeAttribute('aria-invalid');
    }
  }
  function fieldError(k, msg) {
    errors[k].textContent = msg;
    inputs[k].setAttribute('aria-invalid', 'true');
    inputs[k].focus();
  }

  main.append(h('h1', { id: 'search-title', tabindex: -1 }, 'Search a firearm'), form, formError, out);
  if (last) {
    for (const [k, v] of Object.entries(last.query)) if (inputs[k]) inputs[k].value = String(v);
    urgent.checked = !!last.query.urgent;
    show(out, last.resp, false);
  }
  return () => {};
}

function show(out, resp, fresh) {
  const results = resp.results || [];
  const hits = results.filter((r) => r.hit).length;
  const review = results.filter((r) => !r.hit && r.review).length;
  const cov = resp.coverage || { complete: false, shards: [] };
  const heading = h('h2', { id: 'results-title', tabindex: -1 }, 'Results');
  const said = `${results.length} result${results.length === 1 ? '' : 's'}` +
    (hits ? `, ${hits} HIT${hits === 1 ? '' : 's'}` : '') + (review ? `, ${review} to review` : '');
  replace(out,
    heading,
    h('p', {}, `${said} in ${resp.took_us} µs · search `, h('code', {}, resp.search_id)),
    renderCoverageWarning(cov),
    results.length ? renderResults(results) : h('p', { class: 'note' }, cov.complete
      ? 'No recorded firearm matches this description in any shard.'
      : 'No match in the shards that were searched. Shards that were not searched could still hold this firearm.'),
    h('h2', {}, 'Coverage'),
    renderCoverage(cov));
  if (fresh) {
    heading.focus();
    announce(`${said}.${cov.complete ? '' : ' Warning: not every shard was searched.'}`);
  }
}

function renderCoverageWarning(cov) {
  const missing = cov.shards.filter((s) => s.source === 'missing').map((s) => s.shard);
  const stale = cov.shards.filter((s) => s.stale).map((s) => s.shard);
  if (!missing.length && !stale.length) return null;
  return h('div', { class: missing.length ? 'note bad' : 'note warn', role: 'alert', id: 'coverage-warning' },
    missing.length ? h('p', {}, h('strong', {}, 'Incomplete: '), `not searched: ${missing.join(', ')}. `,
      'No node holding these shards could be reached; a firearm recorded there would not be found.') : null,
    stale.length ? h('p', {}, h('strong', {}, 'Stale copy: '), `${stale.join(', ')} `,
      'was searched on a copy older than its maximum staleness; recent records may be missing.') : null);
}
