// The activation portal (role activator, or admin): look up a device's
// enrollment, add the metadata the machine needs, choose its broker,
// activate; or activate many from a CSV or JSON-lines file.
import * as api from './api.js';
import { el, clear, table, pretty, outcome, time, field } from './dom.js';
import { activationProblems } from './metadata.js';

const EXAMPLE = '{\n  "attributes": {},\n  "configuration": {}\n}';

function view(container, session) {
  const id = el('input', { class: 'form-control', id: 'portal-device', placeholder: 'registration id (serial number)', autocomplete: 'off' });
  const result = el('div', { id: 'portal-enrollment' });
  const lookup = el('form', { class: 'd-flex gap-2 mb-3', id: 'portal-lookup' }, id,
    el('button', { class: 'btn btn-primary', type: 'submit', id: 'portal-find' }, 'Look up'));
  lookup.addEventListener('submit', (event) => {
    event.preventDefault();
    show(result, id.value.trim());
  });
  container.append(
    el('p', { class: 'text-muted' }, 'Enter or scan the device id printed on the module.'),
    lookup, result,
    el('hr'),
    bulk());
  if (session.args[0]) { id.value = session.args[0]; show(result, session.args[0]); }
}

async function show(container, id) {
  clear(container);
  if (!id) return;
  let enrollment;
  try {
    enrollment = await api.get(`/v1/enrollments/${api.enc(id)}`);
  } catch (error) {
    container.append(outcome('portal-error'));
    container.firstChild.failed(error.status === 404 ? { message: `No enrollment for ${id}` } : error);
    return;
  }
  const status = el('span', { id: 'portal-status', class: 'badge bg-secondary' }, enrollment.status);
  const details = el('dl', { class: 'row' },
    el('dt', { class: 'col-3' }, 'Device'), el('dd', { class: 'col-9', id: 'portal-id' }, enrollment.registrationId),
    el('dt', { class: 'col-3' }, 'Status'), el('dd', { class: 'col-9' }, status),
    el('dt', { class: 'col-3' }, 'Template'), el('dd', { class: 'col-9', id: 'portal-template' }, enrollment.templateName || '(none)'),
    el('dt', { class: 'col-3' }, 'Enrolled'), el('dd', { class: 'col-9' }, `${time(enrollment.createdAt)} by ${enrollment.createdBy}`),
    el('dt', { class: 'col-3' }, 'Used'), el('dd', { class: 'col-9' }, enrollment.used ? `by ${enrollment.thingName || ''}` : 'not yet'));
  const description = el('dd', { class: 'col-9', id: 'portal-template-description' });
  details.append(el('dt', { class: 'col-3' }, 'Template description'), description);
  if (enrollment.templateName)
    api.get(`/v1/templates/${api.enc(enrollment.templateName)}`).then((t) => { description.textContent = t.description; }, () => {});
  const factory = el('div', {}, el('h2', { class: 'h6' }, "The factory's data"),
    pretty({ attributes: enrollment.attributes, configuration: enrollment.configuration }));
  const initial = { attributes: enrollment.attributes, configuration: enrollment.configuration };
  const editor = el('textarea', { class: 'form-control editor', id: 'portal-metadata', spellcheck: 'false', rows: 10 });
  editor.value = Object.keys(enrollment.attributes).length || Object.keys(enrollment.configuration).length
    ? JSON.stringify(initial, null, 2) : EXAMPLE;
  const problems = el('ul', { class: 'errors text-danger', id: 'portal-problems' });
  const broker = el('select', { class: 'form-select', id: 'portal-broker' }, el('option', { value: '' }, "(the template's assignment)"));
  api.get('/v1/brokers?limit=500').then((page) => {
    for (const b of page.items) broker.append(el('option', { value: b.name }, `${b.name} (${b.endpoint})${b.enabled ? '' : ' disabled'}`));
    if (enrollment.broker) broker.value = enrollment.broker;
  }, () => {});
  const activate = el('button', { class: 'btn btn-success', type: 'button', id: 'portal-activate' }, 'Activate');
  const disable = el('button', { class: 'btn btn-outline-danger', type: 'button', id: 'portal-disable' }, 'Disable');
  const done = outcome('portal-result');
  const check = () => {
    const found = activationProblems(editor.value);
    clear(problems);
    for (const p of found) problems.append(el('li', {}, `line ${p.line}, ${p.path}: ${p.message}`));
    editor.classList.toggle('invalid', found.length > 0);
    activate.disabled = found.length > 0;
    return found.length === 0;
  };
  editor.addEventListener('input', check);
  check();
  activate.addEventListener('click', async () => {
    if (!check()) return;
    const body = editor.value.trim() ? JSON.parse(editor.value) : {};
    if (broker.value) body.broker = broker.value;
    try {
      const answer = await api.post(`/v1/enrollments/${api.enc(enrollment.registrationId)}/activate`, body);
      status.textContent = answer.status;
      done.ok(`${answer.registrationId} is ${answer.status}${answer.broker ? ` on broker ${answer.broker}` : ''}`);
    } catch (error) { done.failed(error); }
  });
  disable.addEventListener('click', async () => {
    try {
      const answer = await api.post(`/v1/enrollments/${api.enc(enrollment.registrationId)}/disable`);
      status.textContent = answer.status;
      done.ok(`${answer.registrationId} is ${answer.status}`);
    } catch (error) { done.failed(error); }
  });
  container.append(details, factory,
    field('Metadata (attributes: strings; configuration: any JSON object, returned to the device at first boot)', editor),
    problems, field('Broker', broker),
    el('div', { class: 'd-flex gap-2' }, activate, disable), done);
}

// Lines of a bulk file: JSON lines ({"registrationId", "attributes", "configuration", "broker"})
// or CSV with a header (registrationId, broker, and any other column an attribute).
export function bulkLines(content) {
  const lines = content.split(/\r?\n/);
  const out = [];
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) return out;
  if (lines[first].trim().startsWith('{')) {
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      try {
        const value = JSON.parse(line);
        if (!value || typeof value !== 'object' || Array.isArray(value) || typeof value.registrationId !== 'string')
          out.push({ line: i + 1, error: 'a line must be an object with registrationId' });
        else {
          const { registrationId, ...body } = value;
          const problems = activationProblems(JSON.stringify(body));
          out.push(problems.length ? { line: i + 1, id: registrationId, error: problems.map((p) => `${p.path}: ${p.message}`).join('; ') }
            : { line: i + 1, id: registrationId, body });
        }
      } catch (error) {
        out.push({ line: i + 1, error: `not JSON: ${error.message}` });
      }
    });
    return out;
  }
  const header = lines[first].split(',').map((h) => h.trim());
  const idColumn = header.indexOf('registrationId');
  lines.forEach((line, i) => {
    if (i <= first || !line.trim()) return;
    const cells = line.split(',').map((c) => c.trim());
    if (idColumn < 0) { out.push({ line: i + 1, error: 'the header has no registrationId column' }); return; }
    if (cells.length !== header.length) { out.push({ line: i + 1, error: `${cells.length} columns, the header has ${header.length}` }); return; }
    const body = { attributes: {} };
    header.forEach((name, c) => {
      if (c === idColumn) return;
      if (name === 'broker') { if (cells[c]) body.broker = cells[c]; } else if (cells[c]) body.attributes[name] = cells[c];
    });
    out.push({ line: i + 1, id: cells[idColumn], body });
  });
  return out;
}

function bulk() {
  const file = el('input', { class: 'form-control', type: 'file', id: 'portal-bulk-file', accept: '.csv,.jsonl,.json,.txt' });
  const results = el('div', { id: 'portal-bulk-results' });
  const run = el('button', { class: 'btn btn-primary', type: 'button', id: 'portal-bulk-run' }, 'Activate all');
  run.addEventListener('click', async () => {
    clear(results);
    if (!file.files.length) return;
    const lines = bulkLines(await file.files[0].text());
    const rows = [];
    for (const entry of lines) {
      if (entry.error) { rows.push({ ...entry, result: 'not sent' }); continue; }
      try {
        const answer = await api.post(`/v1/enrollments/${api.enc(entry.id)}/activate`, entry.body);
        rows.push({ ...entry, result: answer.status, error: '' });
      } catch (error) {
        rows.push({ ...entry, result: `${error.status}`, error: `${error.code}: ${error.message}` });
      }
    }
    const ok = rows.filter((r) => r.result === 'ENABLED').length;
    results.append(el('p', { id: 'portal-bulk-summary' }, `${ok} of ${rows.length} activated`),
      table([['Line', (r) => r.line], ['Device', (r) => r.id || ''], ['Result', (r) => r.result], ['Error', (r) => r.error || '']],
        rows, { id: 'portal-bulk-table' }));
  });
  return el('div', {}, el('h2', { class: 'h5' }, 'Bulk activation'),
    el('p', { class: 'text-muted small' },
      'A CSV file with a header (registrationId, broker, other columns become attributes) or JSON lines ({"registrationId": ..., "attributes": ..., "configuration": ..., "broker": ...}).'),
    el('div', { class: 'd-flex gap-2 mb-2' }, file, run), results);
}

export const portal = { id: 'activate', title: 'Activation', roles: ['activator', 'admin'], render: view };
