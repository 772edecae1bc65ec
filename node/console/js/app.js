// The console's entry module: the router (paths under /console/, which the node answers with this
// page), the session, the header's live indicator and the alerts banner.

import { api, token, signOut, UNAUTHORIZED } from './api.js';
import { Store } from './store.js';
import { computeAlerts } from './model.js';
import { h, setText, announce } from './dom.js';
import { clock } from './format.js';
import * as federation from './views/federation.js';

const VIEWS = {
  federation: () => Promise.resolve(federation),
  shards: () => import('./views/shards.js'),
  search: () => import('./views/search.js'),
  hits: () => import('./views/hits.js'),
  signin: () => import('./views/signin.js'),
};
const DEFAULT_VIEW = 'federation';

const store = new Store();
const main = document.getElementById('main');
let unmount = null;
let first = true;
let signOutReason = '';

/** The view named by a path: /console/shards -> shards; '' for the default. */
export function routeOf(pathname) {
  return pathname.replace(/^\/console\/?/, '').split('/')[0];
}

/** Goes to a view by name, keeping the history. */
export function navigate(name, replace = false) {
  const url = `/console/${name}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

async function render() {
  let name = routeOf(location.pathname) || DEFAULT_VIEW;
  if (!token() && name !== 'signin') {
    sessionStorage.setItem('fedarms.next', name);
    history.replaceState(null, '', '/console/signin');
    name = 'signin';
  }
  if (unmount) unmount();
  unmount = null;
  const signedIn = name !== 'signin';
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (signedIn) store.start();
  const load = VIEWS[name];
  if (!load) {
    document.title = 'Not found · fedarms console';
    main.replaceChildren(h('h1', { tabindex: -1 }, 'No such page'),
      h('p', {}, 'The console has no page called ', h('code', {}, name), '. ',
        h('a', { href: '/console/federation', 'data-route': 'federation' }, 'Go to the federation view'), '.'));
    return;
  }
  const view = await load();
  document.title = `${view.title} · fedarms console`;
  main.replaceChildren();
  unmount = view.mount(main, { store, navigate, reason: signOutReason });
  signOutReason = '';
  // Moving focus to the new page's heading tells keyboard and screen-reader users where they are;
  // on first load the browser's own focus is left alone.
  if (!first) main.querySelector('h1')?.focus();
  first = false;
}

function endSession(reason) {
  signOut();
  store.stop();
  signOutReason = reason;
  renderAlerts([]);
  setLive('idle', 'Not connected');
  navigate('signin', true);
}

function setLive(state, text) {
  const el = document.getElementById('live');
  el.dataset.state = state;
  setText(el, text);
}

let shownAlerts = new Map(); // key -> li

function renderAlerts(alerts) {
  const box = document.getElementById('alerts');
  const list = document.getElementById('alert-list');
  const next = new Map();
  for (const a of alerts) {
    let li = shownAlerts.get(a.key);
    if (!li) {
      li = h('li', { class: a.level }, h('span'), ' ', h('a', { href: `/console/${a.view}`, 'data-route': a.view }, 'Show'));
      if (!first && a.level === 'bad') announce(`Alert: ${a.text}`, true);
    }
    setText(li.firstChild, a.text);
    next.set(a.key, li);
  }
  if ([...next.keys()].join() !== [...shownAlerts.keys()].join()) list.replaceChildren(...next.values());
  shownAlerts = next;
  box.hidden = alerts.length === 0;
}

function onUpdate() {
  const s = store;
  renderAlerts(computeAlerts({ members: s.members, shards: s.shards, hits: s.hits,
    firstSeenDown: s.firstSeenDown, nowMs: Date.now(), settings: s.settings }));
}

function wire() {
  store.addEventListener('update', onUpdate);
  store.addEventListener('state', (e) => {
    const d = e.detail;
    if (d.state === 'ok') setLive('ok', `Live · ${clock(new Date().toISOString(), Date.now())}`);
    else if (d.state === 'paused') setLive('paused', 'Paused while hidden');
    else {
      setLive('retry', `No answer · retry in ${Math.round(d.retryInMs / 1000)} s`);
      if (store.failures === 1) announce(`Lost contact with the node: ${d.error}`, true);
    }
  });
  store.addEventListener('transition', (e) => {
    const { name, to } = e.detail;
    announce(`${name} is now ${to}`, to === 'dead' || to === 'suspect');
  });
  window.addEventListener(UNAUTHORIZED, (e) => endSession(`The node refused the token: ${e.detail}. Sign in again.`));
  window.addEventListener('popstate', render);
  document.getElementById('signout').addEventListener('click', () => endSession('Signed out.'));
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-route]');
    if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.dataset.route);
  });
}

async function showNode() {
  try {
    const hl = await api('/v1/health', { secret: '' });
    setText(document.getElementById('node-name'), `· ${hl.node} (${hl.role}, v${hl.version})`);
    store.health = hl;
  } catch { /* the header simply stays short */ }
}

wire();
showNode();
render();
