// The HTTP bootstrap listener's access log (GET /v1/bootstrap/access, newest
// first): every request devices without a certificate sent it, filtered by
// MAC, source address, endpoint, outcome and time (#/bootstrap/<MAC> opens
// it filtered by that MAC).
import * as api from './api.js';
import { el, clear, table, outcome } from './dom.js';

// "aa-bb-cc-dd-ee-ff", "AABB.CCDD.EEFF"...: the log's AA:BB:CC:DD:EE:FF; anything else as typed.
export function normalMac(text) {
  const hex = text.replace(/[^0-9A-Fa-f]/g, '');
  if (hex.length !== 12 || /[^0-9A-Fa-f:.\- ]/.test(text)) return text;
  return hex.toUpperCase().match(/../g).join(':');
}

// Unix milliseconds, or a date and time (2024-05-01T10:00Z); null when neither.
export function milliseconds(text) {
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : at;
}

const when = (ms) => new Date(ms).toISOString().replace('T', ' ');

function view(container, session) {
  const inputs = {
    mac: el('input', { class: 'form-control', id: 'bootstrap-mac', placeholder: 'MAC address' }),
    source: el('input', { class: 'form-control', id: 'bootstrap-source', placeholder: 'source address' }),
    endpoint: el('select', { class: 'form-select', id: 'bootstrap-endpoint' },
      ['', '/device/info', '/firmware/check', '/health'].map((e) => el('option', { value: e }, e || 'any endpoint'))),
    outcome: el('input', { class: 'form-control', id: 'bootstrap-outcome', placeholder: 'outcome (registered, not_found...)' }),
    since: el('input', { class: 'form-control', id: 'bootstrap-since', placeholder: 'since (Unix ms or 2024-05-01T10:00Z)' }),
    until: el('input', { class: 'form-control', id: 'bootstrap-until', placeholder: 'until' }),
  };
  const form = el('form', { class: 'row g-2 mb-3', id: 'bootstrap-filters' },
    Object.values(inputs).map((input) => el('div', { class: 'col' }, input)),
    el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-primary', type: 'submit' }, 'Filter')));
  const done = outcome('bootstrap-error');
  const list = el('div', { id: 'bootstrap-list', class: 'table-responsive' });
  const more = el('button', { class: 'btn btn-outline-secondary hidden', type: 'button', id: 'bootstrap-more' }, 'Older entries');
  let query = '';
  let cursor = '';
  let rows = [];
  const render = () => {
    clear(list).append(
      el('p', { class: 'text-muted', id: 'bootstrap-count' }, `${rows.length} request${rows.length === 1 ? '' : 's'}, newest first`),
      table([
        ['When', (r) => when(r.at)],
        ['Source', (r) => r.source],
        ['MAC', (r) => el('span', { class: 'mono' }, r.mac)],
        ['Endpoint', (r) => r.endpoint],
        ['Outcome', (r) => el('span', { class: 'access-outcome' }, r.outcome)],
        ['Status', (r) => r.status],
        ['Latency', (r) => `${r.latencyMs} ms`],
      ], rows, { id: 'bootstrap-table' }));
    more.classList.toggle('hidden', !cursor);
  };
  const page = async () => {
    try {
      const answer = await api.get(`/v1/bootstrap/access?limit=200${query}${cursor ? `&after=${api.enc(cursor)}` : ''}`);
      rows = rows.concat(answer.items);
      cursor = answer.nextCursor || '';
      render();
    } catch (error) { done.failed(error); }
  };
  const load = () => {
    done.reset();
    const parts = [];
    for (const [name, input] of Object.entries(inputs)) {
      let value = input.value.trim();
      if (!value) continue;
      if (name === 'mac') value = normalMac(value);
      if (name === 'since' || name === 'until') {
        const ms = milliseconds(value);
        if (ms === null) { done.failed({ message: `${name}: a Unix time in milliseconds or a date and time (2024-05-01T10:00Z), not ${value}` }); return; }
        value = String(ms);
      }
      parts.push(`&${name}=${api.enc(value)}`);
    }
    query = parts.join('');
    cursor = '';
    rows = [];
    clear(list);
    page();
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  more.addEventListener('click', page);
  container.append(form, done, list, more);
  if (session.args[0]) inputs.mac.value = session.args[0];  // #/bootstrap/<MAC>: a thing's requests
  load();
}

export const bootstrap = { id: 'bootstrap', title: 'Bootstrap log', roles: ['admin', 'operator'], render: view };
