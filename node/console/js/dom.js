// A few DOM helpers. Data from the API only ever reaches the page as text nodes or attribute
// values, never as markup, so a record's remarks cannot inject anything (the CSP is the second wall).

const PROPS = new Set(['hidden', 'value', 'checked', 'disabled', 'type', 'open', 'required', 'selected', 'tabIndex']);

/**
 * h('tr', {class: 'down', 'aria-label': 'x', onclick: fn}, child, ...) builds an element. Children
 * may be strings, numbers, nodes, arrays of those, or null/false (skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the text of a node only when it differs, so unchanged cells cost nothing. */
export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

/** Sets or clears an attribute only when it changes. */
export function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== String(value)) {
    el.setAttribute(name, String(value));
  }
}

/** Empties an element and fills it with new children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A badge whose text says the state and whose class colours it. */
export function badge(text, cls) {
  return h('span', { class: `badge ${cls}` }, text);
}

/** A horizontally scrollable, keyboard-focusable wrapper for a wide table. */
export function scroller(label, table) {
  return h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': label }, table);
}

const polite = () => document.getElementById('announce-polite');
const assertive = () => document.getElementById('announce-assertive');

/** Tells screen-reader users of a change without moving their focus. */
export function announce(text, urgent = false) {
  const el = urgent ? assertive() : polite();
  if (!el) return;
  // Clearing first makes a repeated message be read again.
  el.textContent = '';
  setTimeout(() => { el.textContent = text; }, 50);
}
