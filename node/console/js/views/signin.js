// Sign-in: the token is checked against the node before it is kept, so a typo is caught here and
// not on the next page.

import { api, signIn } from '../api.js';
import { h } from '../dom.js';

/** The page title. */
export const title = 'Sign in';

/** Draws the sign-in form into main. */
export function mount(main, { navigate, reason }) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off',
    spellcheck: 'false', required: true, 'aria-describedby': 'token-hint signin-error' });
  const show = h('input', { id: 'show-token', type: 'checkbox' });
  const err = h('p', { id: 'signin-error', class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  show.addEventListener('change', () => { input.type = show.checked ? 'text' : 'password'; });
  const form = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('label', { for: 'token' }, 'Access token',
      h('span', { id: 'token-hint', class: 'hint' },
        'The bearer token your agency was given. It stays in this browser tab only and is forgotten when the tab closes.')),
    input,
    h('label', { for: 'show-token', class: 'inline' }, show, ' Show the token while typing'),
    h('div', { class: 'actions' }, submit),
    err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const secret = input.value.trim();
    err.textContent = '';
    if (!secret) {
      err.textContent = 'Enter a token.';
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Checking…';
    try {
      await api('/v1/cluster/members', { secret });
      signIn(secret);
      const next = sessionStorage.getItem('fedarms.next');
      sessionStorage.removeItem('fedarms.next');
      navigate(next && next !== 'signin' ? next : 'federation', true);
    } catch (x) {
      err.textContent = x.status === 401 ? `The node refused this token: ${x.message}.` : `Cannot sign in: ${x.message}.`;
      input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  main.append(h('section', { class: 'signin' },
    h('h1', { id: 'signin-title', tabindex: -1 }, 'Sign in to the console'),
    reason ? h('p', { class: 'note warn', role: 'status' }, reason) : null,
    form));
  if (!reason) input.focus();
  return () => {};
}
