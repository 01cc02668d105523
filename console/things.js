// Things and their certificates: search, a thing's certificates, policies,
// groups and attributes, and a password device's last bootstrap access;
// revoke, disable, re-enable, deprovision (each asks first and shows the result).
import * as api from './api.js';
import { el, clear, table, outcome, time, confirm } from './dom.js';

function view(container, session) {
  const prefix = el('input', { class: 'form-control', id: 'things-prefix', placeholder: 'thing name starts with', autocomplete: 'off' });
  const list = el('div', { id: 'things-list' });
  const detail = el('div', { id: 'thing-detail' });
  const search = el('form', { class: 'd-flex gap-2 mb-3', id: 'things-search' }, prefix,
    el('button', { class: 'btn btn-primary', type: 'submit' }, 'Search'));
  const load = async () => {
    clear(list);
    try {
      const page = await api.get(`/v1/things?limit=100${prefix.value ? `&prefix=${api.enc(prefix.value)}` : ''}`);
      list.append(table([
        ['Thing', (t) => el('a', { href: `#/things/${api.enc(t.name)}`, class: 'thing-link' }, t.name)],
        ['Type', (t) => t.thingType || ''],
        ['Updated', (t) => time(t.updatedAt)],
      ], page.items, { id: 'things-table' }));
      if (page.nextCursor) list.append(el('p', { class: 'text-muted' }, 'More things: narrow the search.'));
    } catch (error) { const o = outcome('things-error'); list.append(o); o.failed(error); }
  };
  search.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  container.append(search, list, certificateSearch(), detail);
  if (session.args[0]) showThing(detail, session.args[0], session.role);
  else load();
}

// Certificates by status (and thing), each linked to its thing.
function certificateSearch() {
  const status = el('select', { class: 'form-select w-auto', id: 'certificates-status' },
    ['ACTIVE', 'INACTIVE', 'REVOKED', 'PENDING_ACTIVATION'].map((s) => el('option', { value: s }, s)));
  const results = el('div', { id: 'certificates-list' });
  const form = el('form', { class: 'd-flex gap-2 my-3', id: 'certificates-search' },
    el('span', { class: 'align-self-center' }, 'Certificates'), status,
    el('button', { class: 'btn btn-outline-primary', type: 'submit' }, 'List'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(results);
    try {
      const page = await api.get(`/v1/certificates?limit=100&status=${status.value}`);
      results.append(table([
        ['Id', (c) => el('span', { class: 'mono' }, c.id)],
        ['Status', (c) => c.status],
        ['Thing', (c) => (c.thingName ? el('a', { href: `#/things/${api.enc(c.thingName)}` }, c.thingName) : '')],
        ['Valid until', (c) => time(c.notAfter)],
      ], page.items, { id: 'certificates-table' }));
      if (page.nextCursor) results.append(el('p', { class: 'text-muted' }, 'Only the first 100 are shown.'));
    } catch (error) { const o = outcome('certificates-error'); results.append(o); o.failed(error); }
  });
  return el('div', {}, form, results);
}

async function showThing(container, name, role) {
  clear(container);
  const done = outcome('thing-result');
  let thing;
  try {
    thing = await api.get(`/v1/things/${api.enc(name)}`);
  } catch (error) { container.append(done); done.failed(error); return; }
  const mayChange = ['admin', 'operator', 'factory'].includes(role);
  const refresh = () => showThing(container, name, role);
  const act = async (question, change, success, reload = true) => {
    if (!(await confirm(question))) return;
    try {
      const answer = await change();
      if (!reload) { clear(container); container.append(done); done.ok(success(answer)); return; }
      await refresh();
      document.getElementById('thing-result').ok(success(answer));
    } catch (error) { done.failed(error); }
  };
  const certificateButtons = (c) => {
    if (!mayChange) return '';
    const buttons = [];
    const setStatus = (status, label, style) => el('button', {
      class: `btn btn-sm ${style} me-1`, type: 'button', 'data-action': status.toLowerCase(), 'data-certificate': c.id,
      onclick: () => act(`${label} certificate ${c.id} of ${thing.name}?`,
        () => api.patch(`/v1/certificates/${api.enc(c.id)}`, { status }), () => `certificate ${c.id} is ${status}`),
    }, label);
    if (c.status === 'ACTIVE') buttons.push(setStatus('REVOKED', 'Revoke', 'btn-danger'), setStatus('INACTIVE', 'Disable', 'btn-outline-warning'));
    if (c.status === 'INACTIVE') {
      buttons.push(setStatus('REVOKED', 'Revoke', 'btn-danger'));
      if (role === 'admin') buttons.push(setStatus('ACTIVE', 'Re-enable', 'btn-outline-success'));
    }
    return buttons;
  };
  const certificates = thing.certificates || [];
  container.append(
    el('h2', { class: 'h5', id: 'thing-name' }, thing.name),
    el('dl', { class: 'row' },
      el('dt', { class: 'col-3' }, 'Type'), el('dd', { class: 'col-9' }, thing.thingType || ''),
      el('dt', { class: 'col-3' }, 'Groups'), el('dd', { class: 'col-9' }, (thing.groups || []).join(', ')),
      el('dt', { class: 'col-3' }, 'Created'), el('dd', { class: 'col-9' }, time(thing.createdAt)),
      el('dt', { class: 'col-3' }, 'Last activity'), el('dd', { class: 'col-9' }, time(thing.updatedAt)),
      credential(thing.credential, role, thing.attributes.mac)),
    el('h3', { class: 'h6' }, 'Attributes'),
    table([['Name', ([k]) => k], ['Value', ([, v]) => v]], Object.entries(thing.attributes), { id: 'thing-attributes' }),
    el('h3', { class: 'h6' }, 'Certificates'),
    table([
      ['Id', (c) => el('span', { class: 'mono' }, c.id)],
      ['Status', (c) => el('span', { class: 'cert-status', 'data-certificate': c.id }, c.status)],
      ['Policies', (c) => (c.policies || []).join(', ')],
      ['Valid until', (c) => time(c.notAfter)],
      ['', certificateButtons],
    ], certificates, { id: 'thing-certificates' }),
    done);
  if (mayChange)
    container.append(el('button', {
      class: 'btn btn-outline-danger', type: 'button', id: 'thing-deprovision',
      onclick: () => act(`Deprovision ${thing.name}? Its certificates are revoked and removed and the thing deleted.`,
        () => api.post(`/v1/things/${api.enc(thing.name)}/deprovision`, {}),
        (answer) => `deprovisioned ${answer.thingName}: ${answer.certificatesRemoved.length} certificate(s) removed`, false),
    }, 'Deprovision'));
  return thing;
}

// A password device's credential (HTTP bootstrap; GET /v1/things/{name} gives
// it when the thing has one): its status and its last bootstrap access, with
// a link to its requests in the access log (by its `mac` attribute, which the
// bootstrap template gives it).
function credential(c, role, mac) {
  if (!c) return '';
  return [
    el('dt', { class: 'col-3' }, 'Password credential'),
    el('dd', { class: 'col-9', id: 'thing-credential' }, `${c.status}, issued ${time(c.issuedAt)}`,
      c.firstConnectedAt ? `, first connected ${time(c.firstConnectedAt)}` : ', never connected with it'),
    el('dt', { class: 'col-3' }, 'Last bootstrap access'),
    el('dd', { class: 'col-9' }, el('span', { id: 'thing-last-bootstrap' }, c.lastSeenAt ? time(c.lastSeenAt) : 'never'),
      ['admin', 'operator'].includes(role)
        ? el('a', { class: 'ms-2', id: 'thing-bootstrap-log', href: `#/bootstrap${mac ? `/${api.enc(mac)}` : ''}` }, 'its requests in the bootstrap log') : ''),
  ];
}

export const things = { id: 'things', title: 'Things', roles: ['admin', 'operator', 'factory'], render: view };
