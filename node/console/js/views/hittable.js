// A table of hits (with the NCB's confirm/deny controls where asked) and the look-up of one hit.

import { api } from '../api.js';
import { h, badge, scroller, replace } from '../dom.js';
import { clock, countdown, duration, percent } from '../format.js';
import { hitDeadline, undelivered } from '../model.js';

const DECISION_BADGE = { pending: 'b-warn', confirmed: 'b-bad', denied: 'b-off' };

/**
 * hitTable lists hits: record, owner, origin, when, score, decision with its deadline, receipts.
 * opts: {now, label, decide: show confirm/deny, onDecided(hit), controls: a Map that keeps each
 * hit's decide controls across redraws, so a comment being typed survives new hits arriving}.
 */
export function hitTable(list, { now, label, decide = false, onDecided = () => {}, controls = new Map() }) {
  const cols = ['Hit', 'Record', 'Recorded by', 'Origin', 'Searched', 'Score', 'Decision', 'Receipts'];
  if (decide) cols.push('Decide');
  return scroller(label, h('table', {},
    h('thead', {}, h('tr', {}, cols.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map((x) => hitRow(x, now, decide && controlsFor(x, controls, onDecided))))));
}

function controlsFor(x, controls, onDecided) {
  if (!controls.has(x.id)) controls.set(x.id, decideControls(x, onDecided));
  return controls.get(x.id);
}

function hitRow(x, now, decideBox) {
  const dl = hitDeadline(x);
  const missing = undelivered(x, now);
  return h('tr', { 'data-hit': x.id, class: missing.length ? 'uneasy' : null },
    h('th', { scope: 'row', class: 'mono' }, x.id, x.late ? [' ', badge('late match', 'b-warn')] : null),
    h('td', { class: 'mono' }, x.record_id),
    h('td', {}, x.recording_country),
    h('td', {}, x.origin, x.agency ? ` · ${x.agency}` : '', x.on_behalf_of ? ` for ${x.on_behalf_of}` : ''),
    h('td', {}, clock(x.searched_at, now)),
    h('td', { class: 'num' }, percent(x.score)),
    h('td', {}, badge(x.decision, DECISION_BADGE[x.decision] || 'b-off'),
      x.decided_by ? h('span', { class: 'muted' }, ` by ${x.decided_by}${x.comment ? `: ${x.comment}` : ''}`) : null,
      x.decision === 'pending' && dl ? [h('br'),
        h('span', { class: `countdown${now > dl.ms ? ' late' : ''}`, 'data-deadline': String(dl.ms) }, countdown(dl.ms, now)),
        dl.assumed ? h('span', { class: 'muted', title: 'The node sent no deadline; assumed from the hit time (urgent 10 min, routine 1 h).' }, ' (assumed)') : null] : null),
    h('td', {}, h('ul', { class: 'receipts' }, Object.entries(x.receipts || {}).map(([to, at]) =>
      h('li', {}, at ? `✓ ${to} ${clock(at, now)}` : h('strong', {}, `✗ ${to} waiting ${duration(missing[0]?.ageS ?? 0)}`))))),
    decideBox ? h('td', {}, decideBox) : null);
}

// decideControls asks twice, in the page rather than in a browser dialog, so a stray tap at a gate
// cannot decide and the question is read out like any other content.
function decideControls(x, onDecided) {
  const comment = h('input', { type: 'text', 'aria-label': `Comment on hit ${x.id}`, placeholder: 'comment' });
  const msg = h('span', { role: 'status', class: 'muted' });
  const box = h('div', { class: 'decide', 'data-decide': x.id });
  const ask = (decision) => {
    const verb = decision === 'confirmed' ? 'Confirm' : 'Deny';
    const yes = h('button', { type: 'button', 'data-answer': decision }, `Yes, ${verb.toLowerCase()}`);
    const no = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    yes.addEventListener('click', () => send(decision, yes));
    no.addEventListener('click', start);
    replace(box, h('span', {}, `${verb} hit on ${x.record_id}?`), yes, no, msg);
    yes.focus();
  };
  const send = async (decision, btn) => {
    btn.disabled = true;
    try {
      const r = await api(`/v1/hits/${encodeURIComponent(x.id)}/decision`, { method: 'POST', body: { decision, comment: comment.value.trim() } });
      onDecided(r && r.id ? r : { ...x, decision });
    } catch (e) {
      msg.textContent = e.status === 404 ? 'Deciding is not available on this node version.'
        : e.status === 403 ? 'Only the recording country\'s NCB may decide.' : `Failed: ${e.message}`;
      btn.disabled = false;
    }
  };
  function start() {
    const yes = h('button', { type: 'button', 'data-decision': 'confirmed' }, 'Confirm');
    const no = h('button', { type: 'button', class: 'secondary', 'data-decision': 'denied' }, 'Deny');
    yes.addEventListener('click', () => ask('confirmed'));
    no.addEventListener('click', () => ask('denied'));
    replace(box, comment, yes, no, msg);
  }
  start();
  return box;
}

/** A form that shows one hit by id (GET /v1/hits/{id}), which every node version offers. */
export function lookupForm() {
  const id = h('input', { id: 'hit-id', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
  const out = h('div', { id: 'hit-lookup-out' });
  const form = h('form', { class: 'form', 'aria-labelledby': 'lookup-title' },
    h('label', { for: 'hit-id' }, 'Hit id (the notification id of a search result)', id),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Show')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = id.value.trim();
    if (!v) return;
    try {
      const x = await api(`/v1/hits/${encodeURIComponent(v)}`);
      replace(out, hitTable([x], { now: Date.now(), label: `Hit ${x.id}` }));
    } catch (err) {
      replace(out, h('p', { class: 'error', role: 'alert' }, err.status === 404 ? `No hit ${v} visible to this token.` : `Look-up failed: ${err.message}.`));
    }
  });
  return h('section', { id: 'hit-lookup' }, h('h2', { id: 'lookup-title' }, 'Look up a hit'), form, out);
}
