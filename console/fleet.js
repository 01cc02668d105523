// The fleet's other resources: policies, claim certificates (a created
// claim's private key is shown once, with a download; the templates,
// description and expiry of one changed), CAs (their templates changed) and
// brokers.
import * as api from './api.js';
import { el, clear, table, outcome, time, confirm, field, formField, showFieldError, clearFieldErrors } from './dom.js';
import { parseWithLines, lineOf } from './json.js';

const list = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);

// A file the browser saves (nothing leaves the page).
function download(name, content, label, id) {
  return el('button', {
    class: 'btn btn-sm btn-outline-secondary me-1', type: 'button', id,
    onclick: () => {
      const url = URL.createObjectURL(new Blob([content], { type: 'application/x-pem-file' }));
      const a = el('a', { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
  }, label);
}

// Asks, calls, reloads and says what happened.
function action(done, reload, question, call, success) {
  return async () => {
    if (question && !(await confirm(question))) return;
    try { const answer = await call(); await reload(); done.ok(success(answer)); } catch (error) { done.failed(error); }
  };
}

const button = (label, style, id, onclick) => el('button', { class: `btn btn-sm ${style} me-1`, type: 'button', id, onclick }, label);

// An edit form for the PATCH-able fields of one resource: `fields` are
// [name, label, current text, hint]; `body(values)` makes the PATCH body of
// what changed (null: nothing did). The server's refusal is shown next to
// the field it names, and nothing is changed.
function editForm(id, title, fields, body, save, done, close) {
  const inputs = {};
  for (const [name, , current] of fields) {
    inputs[name] = el('input', { class: 'form-control', id: `${id}-${name}`, autocomplete: 'off' });
    inputs[name].value = current;
  }
  const form = el('form', { class: 'card card-body my-3', id, novalidate: true }, el('h2', { class: 'h6' }, title),
    el('div', { class: 'row' }, fields.map(([name, label, , hint]) => el('div', { class: 'col-md' }, formField(label, inputs[name], hint)))),
    el('div', { class: 'd-flex gap-2' },
      el('button', { class: 'btn btn-primary btn-sm', type: 'submit', id: `${id}-save` }, 'Save'),
      el('button', { class: 'btn btn-secondary btn-sm', type: 'button', id: `${id}-cancel`, onclick: close }, 'Cancel')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(inputs);
    const values = Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.value.trim()]));
    const changes = body(values);
    if (!changes) { done.ok('nothing to change'); return; }
    try { await save(changes); } catch (error) {
      showFieldError(inputs, error);
      done.failed({ code: error.code, message: `${error.message} (nothing was changed)` });
    }
  });
  return form;
}

const sameList = (a, b) => a.join(',') === b.join(',');
// "1767225600" -> the number; "" -> null (none); anything else as typed, for the server to refuse
const unixTime = (text) => (text === '' ? null : /^\d+$/.test(text) ? Number(text) : text);

// ------------------------------------------------------------------ policies
function policiesView(container, session) {
  const admin = session.role === 'admin';
  const done = outcome('policies-result');
  const listing = el('div', { id: 'policies-list' });
  const editor = el('textarea', { class: 'form-control editor', id: 'policy-editor', rows: 14, spellcheck: 'false' });
  const name = el('input', { class: 'form-control', id: 'policy-name', placeholder: 'policy name' });
  const problems = el('ul', { class: 'errors text-danger', id: 'policy-problems' });
  editor.readOnly = !admin;
  editor.value = '{\n  "statements": []\n}';
  const show = (list) => {
    clear(problems);
    for (const p of list) problems.append(el('li', { 'data-path': p.path }, `line ${p.line}, ${p.path}: ${p.message}`));
  };
  const parse = () => {
    try { const parsed = parseWithLines(editor.value); show([]); return parsed; } catch (error) {
      show([{ line: error.line, path: '$', message: error.message }]);
      return null;
    }
  };
  editor.addEventListener('input', parse);
  const load = async () => {
    clear(listing);
    const { items } = await api.all('/v1/policies');
    listing.append(table([
      ['Policy', (p) => el('a', { href: '#', class: 'policy-link', onclick: (e) => { e.preventDefault(); name.value = p.name; editor.value = JSON.stringify(p.document, null, 2); parse(); } }, p.name)],
      ['Certificates', (p) => p.attachments ?? ''],
      ['Updated', (p) => time(p.updatedAt)],
      ['', (p) => (admin ? button('Delete', 'btn-outline-danger', undefined,
        action(done, load, `Delete policy ${p.name}?`, () => api.del(`/v1/policies/${api.enc(p.name)}`), () => `policy ${p.name} deleted`)) : '')],
    ], items, { id: 'policies-table' }));
  };
  const save = async () => {
    done.reset();
    const parsed = parse();
    if (!parsed) { done.failed({ message: 'The policy is not JSON: nothing was saved' }); return; }
    const exists = [...document.querySelectorAll('#policies-table .policy-link')].some((a) => a.textContent === name.value.trim());
    try {
      if (exists) await api.call('PUT', `/v1/policies/${api.enc(name.value.trim())}`, { document: parsed.value });
      else await api.post('/v1/policies', { name: name.value.trim(), document: parsed.value });
      await load();
      done.ok(`policy ${name.value.trim()} saved`);
    } catch (error) {
      const path = (field) => `$${(field || '').replace(/^document/, '')}`;
      show(error.details.length ? error.details.map((d) => ({ ...d, line: lineOf(parsed.lines, d.path) }))
        : [{ path: path(error.field), line: lineOf(parsed.lines, path(error.field)), message: error.message }]);
      done.failed({ code: error.code, message: `${error.message} (nothing was saved)` });
    }
  };
  container.append(done, listing, el('h2', { class: 'h6' }, 'Policy document'), field('Name', name), editor, problems,
    admin ? el('button', { class: 'btn btn-primary mt-2', type: 'button', id: 'policy-save', onclick: save }, 'Save') : '');
  load().catch((error) => done.failed(error));
}

// ------------------------------------------------------------------ claims
function claimsView(container, session) {
  const admin = session.role === 'admin';
  const done = outcome('claims-result');
  const listing = el('div', { id: 'claims-list' });
  const secret = el('div', { id: 'claim-secret' });
  const load = async () => {
    clear(listing);
    const { items } = await api.all('/v1/claims');
    listing.append(table([
      ['Id', (c) => el('span', { class: 'mono' }, c.id.slice(0, 16))],
      ['Description', (c) => c.description], ['Status', (c) => c.status], ['Templates', (c) => c.templates.join(', ')],
      ['Expires', (c) => time(c.expiresAt)],
      ['', (c) => (admin ? [
        el('button', { class: 'btn btn-sm btn-outline-primary me-1', type: 'button', 'data-action': 'edit', 'data-claim': c.id,
          onclick: () => edit(c) }, 'Edit'),
        button(c.status === 'ACTIVE' ? 'Disable' : 'Enable', 'btn-outline-warning', undefined,
          action(done, load, `${c.status === 'ACTIVE' ? 'Disable' : 'Enable'} claim ${c.description || c.id}?`,
            () => api.patch(`/v1/claims/${api.enc(c.id)}`, { status: c.status === 'ACTIVE' ? 'INACTIVE' : 'ACTIVE' }), (a) => `claim is ${a.status}`)),
        button('Delete', 'btn-outline-danger', undefined,
          action(done, load, `Delete claim ${c.description || c.id}?`, () => api.del(`/v1/claims/${api.enc(c.id)}`), () => 'claim deleted')),
      ] : '')],
    ], items, { id: 'claims-table' }));
  };
  const editing = el('div', { id: 'claim-editing' });
  const edit = (c) => {
    clear(editing).append(editForm('claim-edit', `Claim ${c.description || c.id.slice(0, 16)}`, [
      ['templates', 'Templates', c.templates.join(', '), 'comma separated: the templates its devices may register with'],
      ['description', 'Description', c.description],
      ['expiresAt', 'Expires at (Unix time)', c.expiresAt === undefined ? '' : String(c.expiresAt), 'empty: no expiry but its certificate\'s'],
    ], (v) => {
      const body = {};
      if (!sameList(list(v.templates), c.templates)) body.templates = list(v.templates);
      if (v.description !== c.description) body.description = v.description;
      if (unixTime(v.expiresAt) !== (c.expiresAt === undefined ? null : c.expiresAt)) body.expiresAt = unixTime(v.expiresAt);
      return Object.keys(body).length ? body : null;
    }, async (body) => {
      const a = await api.patch(`/v1/claims/${api.enc(c.id)}`, body);
      clear(editing);
      await load();
      done.ok(`claim ${a.description || a.id} saved: templates ${a.templates.join(', ') || '(none)'}${a.expiresAt ? `, expires ${time(a.expiresAt)}` : ''}`);
    }, done, () => clear(editing)));
  };
  const description = el('input', { class: 'form-control', id: 'claim-description', placeholder: 'description' });
  const templates = el('input', { class: 'form-control', id: 'claim-templates', placeholder: 'templates (comma separated)' });
  const validity = el('input', { class: 'form-control', id: 'claim-validity', placeholder: 'validity in seconds (empty: the default)' });
  const create = el('form', { class: 'row g-2 my-3', id: 'claim-create' },
    el('div', { class: 'col' }, description), el('div', { class: 'col' }, templates), el('div', { class: 'col' }, validity),
    el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-primary', type: 'submit' }, 'Create claim')));
  create.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(secret);
    const body = { templates: list(templates.value) };
    if (description.value.trim()) body.description = description.value.trim();
    if (validity.value.trim()) body.validitySeconds = Number(validity.value.trim());
    try {
      const c = await api.post('/v1/claims', body);
      secret.append(el('div', { class: 'alert alert-warning' },
        el('p', {}, 'The private key of this claim is shown only now: download it (and the certificate) before you leave this screen.'),
        download(`claim-${c.id.slice(0, 12)}.key`, c.privateKey, 'Download the private key', 'claim-download-key'),
        download(`claim-${c.id.slice(0, 12)}.pem`, c.certificatePem, 'Download the certificate', 'claim-download-certificate'),
        el('pre', { class: 'json mt-2', id: 'claim-private-key' }, c.privateKey)));
      await load();
      done.ok(`claim ${c.id} created`);
    } catch (error) { done.failed(error); }
  });
  container.append(done, admin ? create : '', secret, listing, editing);
  load().catch((error) => done.failed(error));
}

// ------------------------------------------------------------------ CAs
function casView(container, session) {
  const admin = session.role === 'admin';
  const done = outcome('cas-result');
  const listing = el('div', { id: 'cas-list' });
  const load = async () => {
    clear(listing);
    const { items } = await api.all('/v1/cas');
    listing.append(table([
      ['Name', (c) => c.name], ['Role', (c) => c.role], ['Status', (c) => c.status], ['Templates', (c) => c.templates.join(', ')],
      ['Registration id', (c) => c.registrationIdField], ['Issuing', (c) => (c.issuing ? 'yes' : '')],
      ['', (c) => (admin && c.role !== 'root' ? [
        el('button', { class: 'btn btn-sm btn-outline-primary me-1', type: 'button', 'data-action': 'edit', 'data-ca': c.id,
          onclick: () => edit(c) }, 'Edit'),
        el('button', { class: 'btn btn-sm btn-outline-warning me-1', type: 'button', 'data-action': c.status === 'ACTIVE' ? 'disable' : 'enable', 'data-ca': c.id,
          onclick: action(done, load, `${c.status === 'ACTIVE' ? 'Disable' : 'Enable'} CA ${c.name}?${c.status === 'ACTIVE' ? ' The certificates it issued are refused from then on.' : ''}`,
            () => api.patch(`/v1/cas/${api.enc(c.id)}`, { status: c.status === 'ACTIVE' ? 'INACTIVE' : 'ACTIVE' }), (a) => `CA ${a.name} is ${a.status}`) },
        c.status === 'ACTIVE' ? 'Disable' : 'Enable'),
        el('button', { class: 'btn btn-sm btn-outline-danger me-1', type: 'button', 'data-action': 'delete', 'data-ca': c.id,
          onclick: action(done, load, `Delete CA ${c.name}?`, () => api.del(`/v1/cas/${api.enc(c.id)}`), () => `CA ${c.name} deleted`) }, 'Delete'),
      ] : '')],
    ], items, { id: 'cas-table' }));
  };
  const editing = el('div', { id: 'ca-editing' });
  const edit = (c) => {
    clear(editing).append(editForm('ca-edit', `CA ${c.name}`, [
      ['templates', 'Templates', c.templates.join(', '), 'comma separated: the templates the certificates it issued may register with'],
    ], (v) => (sameList(list(v.templates), c.templates) ? null : { templates: list(v.templates) }), async (body) => {
      const a = await api.patch(`/v1/cas/${api.enc(c.id)}`, body);
      clear(editing);
      await load();
      done.ok(`CA ${a.name} saved: templates ${a.templates.join(', ') || '(none)'}`);
    }, done, () => clear(editing)));
  };
  const name = el('input', { class: 'form-control', id: 'ca-name', placeholder: 'name' });
  const role = el('select', { class: 'form-select', id: 'ca-role' }, ['manufacturer', 'claim', 'fleet'].map((r) => el('option', { value: r }, r)));
  const templates = el('input', { class: 'form-control', id: 'ca-templates', placeholder: 'templates (comma separated)' });
  const pem = el('textarea', { class: 'form-control editor', id: 'ca-certificate', rows: 4, placeholder: 'the CA certificate (PEM)' });
  const register = el('button', {
    class: 'btn btn-primary', type: 'button', id: 'ca-register',
    onclick: action(done, load, null, () => api.post('/v1/cas', { name: name.value.trim(), role: role.value, templates: list(templates.value), certificatePem: pem.value.trim() }),
      (c) => `CA ${c.name} registered`),
  }, 'Register CA');
  container.append(done, listing, editing, admin ? el('div', {}, el('h2', { class: 'h6' }, 'Register a CA'),
    el('div', { class: 'row g-2 mb-2' }, el('div', { class: 'col' }, name), el('div', { class: 'col' }, role), el('div', { class: 'col' }, templates)),
    pem, el('div', { class: 'mt-2' }, register)) : '');
  load().catch((error) => done.failed(error));
}

// ------------------------------------------------------------------ brokers
function brokersView(container, session) {
  const admin = session.role === 'admin';
  const done = outcome('brokers-result');
  const listing = el('div', { id: 'brokers-list' });
  const load = async () => {
    clear(listing);
    const { items } = await api.all('/v1/brokers');
    listing.append(table([
      ['Name', (b) => b.name], ['Endpoint', (b) => b.endpoint], ['Weight', (b) => b.weight], ['Enabled', (b) => (b.enabled ? 'yes' : 'no')],
      ['', (b) => (admin ? [
        el('button', { class: 'btn btn-sm btn-outline-warning me-1', type: 'button', 'data-action': b.enabled ? 'disable' : 'enable', 'data-broker': b.name,
          onclick: action(done, load, `${b.enabled ? 'Disable' : 'Enable'} broker ${b.name}?`,
            () => api.patch(`/v1/brokers/${api.enc(b.name)}`, { enabled: !b.enabled }), (a) => `broker ${a.name} is ${a.enabled ? 'enabled' : 'disabled'}`) },
        b.enabled ? 'Disable' : 'Enable'),
        el('button', { class: 'btn btn-sm btn-outline-danger me-1', type: 'button', 'data-action': 'delete', 'data-broker': b.name,
          onclick: action(done, load, `Delete broker ${b.name}?`, () => api.del(`/v1/brokers/${api.enc(b.name)}`), () => `broker ${b.name} deleted`) },
        'Delete'),
      ] : '')],
    ], items, { id: 'brokers-table' }));
  };
  const name = el('input', { class: 'form-control', id: 'broker-name', placeholder: 'name' });
  const endpoint = el('input', { class: 'form-control', id: 'broker-endpoint', placeholder: 'mqtts://broker.example.com:8883' });
  const weight = el('input', { class: 'form-control', id: 'broker-weight', placeholder: 'weight (1)' });
  const create = el('form', { class: 'row g-2 my-3', id: 'broker-create' },
    el('div', { class: 'col' }, name), el('div', { class: 'col' }, endpoint), el('div', { class: 'col' }, weight),
    el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-primary', type: 'submit' }, 'Add broker')));
  create.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = { name: name.value.trim(), endpoint: endpoint.value.trim() };
    if (weight.value.trim()) body.weight = Number(weight.value.trim());
    action(done, load, null, () => api.post('/v1/brokers', body), (b) => `broker ${b.name} added`)();
  });
  container.append(done, admin ? create : '', listing);
  load().catch((error) => done.failed(error));
}

const readers = ['admin', 'operator', 'factory'];
export const policies = { id: 'policies', title: 'Policies', roles: readers, render: policiesView };
export const claims = { id: 'claims', title: 'Claims', roles: readers, render: claimsView };
export const cas = { id: 'cas', title: 'CAs', roles: readers, render: casView };
export const brokers = { id: 'brokers', title: 'Brokers', roles: readers, render: brokersView };
