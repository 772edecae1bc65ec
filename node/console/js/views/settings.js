// The alert thresholds an operator may tune, kept in this browser only. When a copy is stale is not
// one of them: that is the node's max_staleness, which it publishes (model.js isStale).

import { h } from '../dom.js';
import { DEFAULT_SETTINGS } from '../model.js';

const FIELDS = [
  ['downAfterS', 'Alert when a member is unreachable for (s)'],
  ['undeliveredAfterS', 'Alert when a notification is undelivered for (s)'],
];

/** A collapsed panel with the thresholds and a save button. */
export function settingsPanel(store) {
  const inputs = {};
  const status = h('span', { role: 'status', class: 'muted' });
  const form = h('form', { class: 'form' },
    FIELDS.map(([k, label]) => {
      inputs[k] = h('input', { id: `set-${k}`, type: 'number', min: 1, step: 1, required: true, value: String(store.settings[k]) });
      return h('label', { for: `set-${k}` }, label, inputs[k]);
    }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', class: 'secondary', onclick: reset }, 'Defaults')),
    status);
  function reset() {
    for (const [k] of FIELDS) inputs[k].value = String(DEFAULT_SETTINGS[k]);
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = {};
    for (const [k, label] of FIELDS) {
      const v = Number(inputs[k].value);
      if (!Number.isFinite(v) || v < 1) {
        status.textContent = `${label}: enter a whole number of seconds, 1 or more.`;
        inputs[k].focus();
        return;
      }
      next[k] = Math.round(v);
    }
    store.saveSettings(next);
    status.textContent = 'Saved for this browser.';
  });
  return h('details', { class: 'settings' }, h('summary', {}, 'Alert thresholds'), form);
}
