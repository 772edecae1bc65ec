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
let renders = 0; // the latest render; an older one still loading its view gives way
let signOutReason = '';
let alertsRead = false; // whether the alerts of this session have been announced once

/** The view named by a path: /console/shards -> shards; '' for the default. */
export function routeOf(pathname) {
  return pathname.replace(/^\/console\/?/, '').split('/')[0];
}

/** Goes to a view by name (or a /console/ path with a #fragment), keeping the history. */
export function navigate(name, replace = false) {
  const url = name.startsWith('/') ? name : `/console/${name}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

async function render() {
  const seq = ++renders;
  let name = routeOf(location.pathname) || DEFAULT_VIEW;
  if (token() && name === 'signin') {
    // Opening the sign-in page is how a user changes token: the old one is dropped first.
    signOut();
    store.stop();
    renderAlerts([]);
  }
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
  if (seq !== renders) return;
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
  alertsRead = false;
  setLive('idle', 'Not connected');
  navigate('signin', true);
}

function setLive(state, text) {
  const el = document.getElementById('live');
  el.dataset.state = state;
  setText(el, text);
}

let shownAlerts = new Map(); // key -> li

const MAX_ALERTS = 5; // more would push the page below the fold; the rest are summed up
const more = h('li', { class: 'warn' }, h('span'), ' ',
  h('a', { href: '/console/federation#attention', 'data-route': 'federation' }, 'Show members needing attention'));

function renderAlerts(alerts) {
  const box = document.getElementById('alerts');
  const list = document.getElementById('alert-list');
  const next = new Map();
  const fresh = [];
  for (const a of alerts) {
    let li = shownAlerts.get(a.key);
    if (!li) {
      const href = a.member ? `/console/federation#m-${encodeURIComponent(a.member)}` : `/console/${a.view}`;
      li = h('li', { class: a.level, 'data-alert': a.key }, h('span'), ' ', h('a', { href, 'data-route': a.view }, 'Show'));
      if (a.level === 'bad') fresh.push(a.text);
    }
    setText(li.firstChild, a.text);
    next.set(a.key, li);
  }
  const shown = [...next.values()].slice(0, MAX_ALERTS);
  if (next.size > MAX_ALERTS) {
    setText(more.firstChild, `and ${next.size - MAX_ALERTS} more alert${next.size - MAX_ALERTS === 1 ? '' : 's'}`);
    shown.push(more);
  }
  if (shown.length !== list.children.length || shown.some((li, i) => list.children[i] !== li)) list.replaceChildren(...shown);
  shownAlerts = next;
  box.hidden = alerts.length === 0;
  // One announcement per change: the standing alerts once after sign-in, then each new one.
  if (!alertsRead) {
    if (alerts.length) announce(`${alerts.length} alert${alerts.length === 1 ? '' : 's'}: ${alerts[0].text}`);
    alertsRead = store.loaded;
  } else if (fresh.length) {
    announce(`Alert: ${fresh.join('. ')}`, true);
  }
}

function onUpdate() {
  const s = store;
  const alerts = computeAlerts({ members: s.members, shards: s.shards, hits: s.hits,
    firstSeenDown: s.firstSeenDown, nowMs: Date.now(), settings: s.settings, staleAfterS: s.staleAfterS, health: s.health });
  if (s.failures > 0 && s.loaded) {
    // What the page shows is what the node said last: say since when.
    alerts.unshift({ key: 'no-answer', level: 'bad', view: routeOf(location.pathname) || DEFAULT_VIEW,
      text: `This node has not answered since ${clock(new Date(s.updatedAt).toISOString(), Date.now())}: the page shows what it said then` });
  }
  renderAlerts(alerts);
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
    if (d.state !== 'paused') onUpdate();
  });
  store.addEventListener('transition', (e) => {
    const { name, to } = e.detail;
    announce(`${name} is now ${to}`, to === 'dead' || to === 'suspect');
  });
  window.addEventListener(UNAUTHORIZED, (e) => endSession(`The node refused the token: ${e.detail}. Sign in again.`));
  window.addEventListener('popstate', render);
  document.getElementById('signout').addEventListener('click', () => endSession('Signed out.'));
  // The skip link moves focus itself: following #main would only move the reading position, and
  // would put a fragment in the URL that the views read as their own.
  document.querySelector('.skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-route]');
    if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
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
