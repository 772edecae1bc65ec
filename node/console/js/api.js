// The node's HTTP API as the console uses it. The token lives in sessionStorage only: it is never
// put in a URL (where logs, history and referrers would keep it) and is gone when the tab closes.

const KEY = 'fedarms.token';

/** The signed-in token, or '' when signed out. */
export function token() {
  try { return sessionStorage.getItem(KEY) || ''; } catch { return ''; }
}

/** Keeps the token for this tab. */
export function signIn(secret) { sessionStorage.setItem(KEY, secret); }

/** Forgets the token. */
export function signOut() { sessionStorage.removeItem(KEY); }

/** An API failure with the error shape's code, status and field. */
export class APIError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || '';
  }
}

/** The event fired on window when the node refuses the token, so the app can ask for another. */
export const UNAUTHORIZED = 'fedarms:unauthorized';

/**
 * Calls the API with the bearer token and returns the decoded JSON. A non-2xx answer throws an
 * APIError carrying the node's message; a network failure throws an APIError with status 0.
 */
export async function api(path, { method = 'GET', body, signal, secret } = {}) {
  const headers = { Accept: 'application/json' };
  const t = secret ?? token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, signal, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, 'network', 'the node did not answer (network error)');
  }
  return decode(resp, secret === undefined);
}

/**
 * Reads a paged list (GET /v1/hits and the like: `limit` and the answer's `cursor`) page after
 * page, newest first, until its end or `max` items. Resolves to { items, more }: more is true when
 * items stopped at max. A node of an older release answers the whole list in one page.
 */
export async function pages(path, key, { signal, max = 5000, limit = 1000 } = {}) {
  const items = [];
  let cursor = '';
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { signal });
    const got = Array.isArray(r) ? r : (r && r[key]) || [];
    items.push(...got);
    cursor = (r && r.cursor) || '';
    if (!cursor) return { items, more: false };
    if (items.length >= max) return { items: items.slice(0, max), more: true };
  }
}

async function decode(resp, global) {
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* handled below */ }
  if (resp.ok) {
    if (data === null && text) throw new APIError(resp.status, 'invalid_json', 'the node answered with something other than JSON');
    return data;
  }
  const e = data && data.error ? data.error : {};
  const err = new APIError(resp.status, e.code || `http_${resp.status}`, e.message || `${resp.status} ${resp.statusText}`, e.field);
  if (resp.status === 401 && global) window.dispatchEvent(new CustomEvent(UNAUTHORIZED, { detail: err.message }));
  return Promise.reject(err);
}

/**
 * Reads a server-sent event stream over fetch (EventSource cannot send an Authorization header),
 * calling onEvent({event, data, id}) for each event until the stream ends or signal aborts.
 * Resolves when the stream ends; rejects with an APIError when the node refuses it.
 */
export async function stream(path, onEvent, signal) {
  const resp = await fetch(path, { headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token()}` },
    signal, cache: 'no-store', credentials: 'omit' });
  if (!resp.ok) return decode(resp, true);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = sseParser(onEvent);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser(value);
  }
}

/**
 * sseParser returns a function fed with chunks of an event stream, in any split; it calls onEvent
 * once per complete event (blank-line terminated), as the event-stream format defines.
 */
export function sseParser(onEvent) {
  let buf = '';
  let ev = { event: 'message', data: [], id: '' };
  return (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.search(/\r\n|\r|\n/)) >= 0) {
      if (buf[i] === '\r' && i === buf.length - 1) break; // a CRLF split across chunks: wait for the LF
      const line = buf.slice(0, i);
      buf = buf.slice(buf[i] === '\r' && buf[i + 1] === '\n' ? i + 2 : i + 1);
      if (line === '') {
        if (ev.data.length) onEvent({ event: ev.event, data: ev.data.join('\n'), id: ev.id });
        ev = { event: 'message', data: [], id: ev.id };
        continue;
      }
      if (line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      let value = c < 0 ? '' : line.slice(c + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') ev.data.push(value);
      else if (field === 'event') ev.event = value;
      else if (field === 'id') ev.id = value;
    }
  };
}
