// Provisioning templates: versions, a JSON editor whose errors point at the
// JSON path and the line, dry run, the default version, enable and disable,
// the hook and the broker assignment.
import * as api from './api.js';
import { el, clear, table, outcome, time, pretty, field } from './dom.js';
import { parseWithLines, lineOf } from './json.js';

function view(container, session) {
  const list = el('div', { id: 'templates-list' });
  const detail = el('div', { id: 'template-detail' });
  container.append(list, detail);
  api.all('/v1/templates').then(({ items }) => {
    list.append(table([
      ['Template', (t) => el('a', { href: `#/templates/${api.enc(t.name)}`, class: 'template-link' }, t.name)],
      ['Description', (t) => t.description],
      ['Enabled', (t) => (t.enabled ? 'yes' : 'no')],
      ['Default version', (t) => t.defaultVersion],
    ], items, { id: 'templates-table' }));
  }, (error) => { const o = outcome('templates-error'); list.append(o); o.failed(error); });
  if (session.args[0]) show(detail, session.args[0], session.role);
}

// Errors of the editor's text as [{line, path, message}]: its syntax, or the server's details.
function render(problems, node) {
  clear(node);
  for (const p of problems)
    node.append(el('li', { class: 'template-error', 'data-path': p.path, 'data-line': p.line }, `line ${p.line}, ${p.path}: ${p.message}`));
}

async function show(container, name, role) {
  clear(container);
  const done = outcome('template-result');
  let t;
  try { t = await api.get(`/v1/templates/${api.enc(name)}`); } catch (error) { container.append(done); done.failed(error); return; }
  const admin = role === 'admin';
  const editor = el('textarea', { class: 'form-control editor', id: 'template-editor', spellcheck: 'false', rows: 18 });
  editor.value = JSON.stringify(t.body, null, 2);
  editor.readOnly = !admin;
  const problems = el('ul', { class: 'errors text-danger', id: 'template-problems' });
  const syntax = () => {
    try { parseWithLines(editor.value); render([], problems); editor.classList.remove('invalid'); return true; }
    catch (error) { render([{ line: error.line, path: '$', message: error.message }], problems); editor.classList.add('invalid'); return false; }
  };
  editor.addEventListener('input', syntax);
  const versions = el('select', { class: 'form-select', id: 'template-version' },
    (t.versions || []).map((v) => el('option', { value: v.version }, `version ${v.version} (${time(v.createdAt)})${v.version === t.defaultVersion ? ', default' : ''}`)));
  versions.value = String(t.defaultVersion);
  versions.addEventListener('change', async () => {
    try {
      const v = await api.get(`/v1/templates/${api.enc(name)}/versions/${versions.value}`);
      editor.value = JSON.stringify(v.body, null, 2);
      syntax();
    } catch (error) { done.failed(error); }
  });
  const buttons = [];
  if (admin) {
    buttons.push(el('button', {
      class: 'btn btn-primary', type: 'button', id: 'template-save',
      onclick: async () => {
        done.reset();
        if (!syntax()) { done.failed({ message: 'The template is not JSON: nothing was saved' }); return; }
        const { value, lines } = parseWithLines(editor.value);
        try {
          const answer = await api.post(`/v1/templates/${api.enc(name)}/versions`, { body: value });
          await show(container, name, role);
          document.getElementById('template-result').ok(`saved version ${answer.version}`);
        } catch (error) {
          render(error.details.length ? error.details.map((d) => ({ ...d, line: lineOf(lines, d.path) }))
            : [{ path: error.field || '$', line: lineOf(lines, '$'), message: error.message }], problems);
          editor.classList.add('invalid');
          done.failed({ code: error.code, message: `${error.message} (nothing was saved)` });
        }
      },
    }, 'Save as a new version'));
    buttons.push(el('button', {
      class: 'btn btn-outline-primary', type: 'button', id: 'template-make-default',
      onclick: () => change({ defaultVersion: Number(versions.value) }, `version ${versions.value} is the default`),
    }, 'Make this version the default'));
    buttons.push(el('button', {
      class: `btn ${t.enabled ? 'btn-outline-danger' : 'btn-outline-success'}`, type: 'button', id: 'template-toggle',
      onclick: () => change({ enabled: !t.enabled }, t.enabled ? 'disabled' : 'enabled'),
    }, t.enabled ? 'Disable' : 'Enable'));
  }
  const change = async (body, message) => {
    try { await api.patch(`/v1/templates/${api.enc(name)}`, body); await show(container, name, role); document.getElementById('template-result').ok(message); }
    catch (error) { done.failed(error); }
  };
  container.append(
    el('h2', { class: 'h5', id: 'template-name' }, t.name),
    el('p', {}, t.description),
    el('p', { id: 'template-state' }, `${t.enabled ? 'Enabled' : 'Disabled'}; default version ${t.defaultVersion}; reprovisioning ${t.reprovisioning}`),
    field('Version', versions), field('Template document', editor), problems,
    el('div', { class: 'd-flex gap-2 mb-2' }, buttons), done,
    settings(t, admin, change),
    ['admin', 'factory'].includes(role) ? dryRun(name, versions) : '');
}

// The pre-provisioning hook and the broker assignment, as JSON (null removes one).
function settings(t, admin, change) {
  const box = el('div', { class: 'row mt-3' });
  for (const [key, label] of [['preProvisioningHook', 'Pre-provisioning hook'], ['brokerAssignment', 'Broker assignment']]) {
    const area = el('textarea', { class: 'form-control editor', id: `template-${key}`, rows: 5, spellcheck: 'false' });
    area.value = JSON.stringify(t[key] === undefined ? null : t[key], null, 2);
    area.readOnly = !admin;
    const col = el('div', { class: 'col-md-6' }, field(`${label} (null: none)`, area));
    if (admin)
      col.append(el('button', {
        class: 'btn btn-sm btn-outline-primary', type: 'button', id: `template-save-${key}`,
        onclick: () => {
          let value;
          try { value = JSON.parse(area.value); } catch (error) { document.getElementById('template-result').failed({ message: `${label}: ${error.message}` }); return; }
          change({ [key]: value }, `${label} saved`);
        },
      }, `Save ${label.toLowerCase()}`));
    box.append(col);
  }
  return box;
}

function dryRun(name, versions) {
  const parameters = el('textarea', { class: 'form-control editor', id: 'dryrun-parameters', rows: 4, spellcheck: 'false' });
  parameters.value = '{\n  "SerialNumber": "sample-1"\n}';
  const certificate = el('textarea', { class: 'form-control editor', id: 'dryrun-certificate', rows: 3, spellcheck: 'false',
    placeholder: 'a sample device certificate (PEM); a made-up one when empty' });
  const result = el('div', { id: 'dryrun-result' });
  const run = el('button', {
    class: 'btn btn-outline-secondary', type: 'button', id: 'dryrun-run',
    onclick: async () => {
      clear(result);
      const body = { version: Number(versions.value) };
      try { body.parameters = JSON.parse(parameters.value || '{}'); } catch (error) {
        const o = outcome('dryrun-error'); result.append(o); o.failed({ message: `parameters: ${error.message}` }); return;
      }
      if (certificate.value.trim()) body.certificatePem = certificate.value.trim();
      try {
        const answer = await api.post(`/v1/templates/${api.enc(name)}/dry-run`, body);
        result.append(el('p', { id: 'dryrun-written' }, answer.written ? 'written' : 'Nothing was written.'), pretty(answer));
      } catch (error) { const o = outcome('dryrun-error'); result.append(o); o.failed(error); }
    },
  }, 'Dry run');
  return el('div', { class: 'mt-3' }, el('h3', { class: 'h6' }, 'Dry run'),
    field('Parameters', parameters), field('Certificate', certificate), run, result);
}

export const templates = { id: 'templates', title: 'Templates', roles: ['admin', 'operator', 'factory'], render: view };
