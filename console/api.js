// The admin API, as the signed-in token: every call of the console goes
// through here (the console implements nothing the API does not).
const KEY = 'provisiond.token';

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(value) { sessionStorage.setItem(KEY, value); }
export function clearToken() { sessionStorage.removeItem(KEY); }

// An answer other than 2xx: its status and the API's {error: {code, message, field, details}}.
export class ApiError extends Error {
  constructor(status, error) {
    super(error && error.message ? error.message : `HTTP ${status}`);
    this.status = status;
    this.code = error ? error.code : '';
    this.field = error ? error.field : undefined;
    this.details = (error && error.details) || [];
  }
}

export async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${token() || ''}` };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = response.status === 204 ? '' : await response.text();
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = null; }
  }
  // the token was deleted meanwhile: the console asks for another
  if (response.status === 401) window.dispatchEvent(new CustomEvent('unauthorized'));
  if (!response.ok) throw new ApiError(response.status, parsed && parsed.error);
  return parsed;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

// Every page of a list (up to `max` items).
export async function all(path, max = 2000) {
  const items = [];
  let after = '';
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(`${path}${sep}limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    items.push(...page.items);
    if (!page.nextCursor || items.length >= max) return { items, more: Boolean(page.nextCursor) };
    after = page.nextCursor;
  }
}

export const enc = encodeURIComponent;
