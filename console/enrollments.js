// Enrollments: list and filter, create, import a file (line-numbered
// errors), activate (in the activation screen), disable, reset a used one
// (its device may register once more) and delete (admin; each asks first).
import * as api from './api.js';
import { el, clear, table, outcome, time, field, confirm } from './dom.js';

function view(container, session) {
  const status = el('select', { class: 'form-select w-auto', id: 'enrollments-status' },
    el('option', { value: '' }, 'any status'), el('option', { value: 'DISABLED' }, 'DISABLED'), el('option', { value: 'ENABLED' }, 'ENABLED'));
  const list = el('div', { id: 'enrollments-list' });
  const done = outcome('enrollments-result');
  const admin = session.role === 'admin';
  // asks (when there is a question), calls, reloads, says what happened
  const act = (question, call, success) => async () => {
    if (question && !(await confirm(question))) return;
    try { const answer = await call(); await load(); done.ok(success(answer)); } catch (error) { done.failed(error); }
  };
  const button = (label, style, action, e, onclick) => el('button', {
    class: `btn btn-sm ${style} me-1`, type: 'button', 'data-action': action, 'data-enrollment': e.registrationId, onclick,
  }, label);
  const load = async () => {
    clear(list);
    try {
      const { items, more } = await api.all(`/v1/enrollments${status.value ? `?status=${status.value}` : ''}`);
      list.append(table([
        ['Device', (e) => e.registrationId],
        ['Status', (e) => e.status],
        ['Template', (e) => e.templateName || ''],
        ['Broker', (e) => e.broker || ''],
        ['Kind', (e) => e.kind],
        ['Used by', (e) => (e.used ? e.thingName || 'yes' : '')],
        ['Enrolled', (e) => `${time(e.createdAt)} by ${e.createdBy}`],
        ['', (e) => (admin ? [
          el('a', { class: 'btn btn-sm btn-outline-success me-1', href: `#/activate/${api.enc(e.registrationId)}` }, 'Activate'),
          e.status === 'ENABLED' ? button('Disable', 'btn-outline-danger', 'disable', e,
            act(null, () => api.post(`/v1/enrollments/${api.enc(e.registrationId)}/disable`), (a) => `${a.registrationId} is ${a.status}`)) : '',
          e.kind === 'individual' && e.used ? button('Reset', 'btn-outline-warning', 'reset', e,
            act(`Reset ${e.registrationId}? Its device may register once more, for its thing ${e.thingName || ''} (its earlier certificates are then revoked).`,
              () => api.post(`/v1/enrollments/${api.enc(e.registrationId)}/reset`),
              (a) => `${a.registrationId} was reset: its device may register once more${a.thingName ? ` (for ${a.thingName})` : ''}`)) : '',
          button('Delete', 'btn-outline-danger', 'delete', e,
            act(`Delete the enrollment of ${e.registrationId}? Its device can no longer register through it.`,
              () => api.del(`/v1/enrollments/${api.enc(e.registrationId)}`), () => `enrollment ${e.registrationId} deleted`)),
        ] : '')],
      ], items, { id: 'enrollments-table' }));
      if (more) list.append(el('p', { class: 'text-muted' }, 'Only the first 2000 are shown.'));
    } catch (error) { done.failed(error); }
  };
  status.addEventListener('change', load);
  container.append(el('div', { class: 'd-flex gap-2 mb-2' }, status), done, list);
  if (['admin', 'factory'].includes(session.role)) container.append(creation(load, done));
  load();
}

// One enrollment per line: JSON lines ({"registrationId", "templateName", "kind", "reprovisioning"})
// or CSV with a header (registrationId, templateName...).
function importLines(content) {
  const lines = content.split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) return [];
  if (lines[first].trim().startsWith('{'))
    return lines.map((line, i) => {
      if (!line.trim()) return null;
      try { return { line: i + 1, body: JSON.parse(line) }; } catch (error) { return { line: i + 1, error: `not JSON: ${error.message}` }; }
    }).filter(Boolean);
  const header = lines[first].split(',').map((h) => h.trim());
  return lines.map((line, i) => {
    if (i <= first || !line.trim()) return null;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== header.length) return { line: i + 1, error: `${cells.length} columns, the header has ${header.length}` };
    const body = {};
    header.forEach((h, c) => { if (cells[c]) body[h] = cells[c]; });
    return { line: i + 1, body };
  }).filter(Boolean);
}

function creation(load, done) {
  const id = el('input', { class: 'form-control', id: 'enrollment-new-id', placeholder: 'registration id' });
  const templateName = el('input', { class: 'form-control', id: 'enrollment-new-template', placeholder: 'template name' });
  const create = el('form', { class: 'row g-2 mb-3', id: 'enrollment-create' },
    el('div', { class: 'col' }, id), el('div', { class: 'col' }, templateName),
    el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-primary', type: 'submit' }, 'Enroll')));
  create.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { registrationId: id.value.trim() };
    if (templateName.value.trim()) body.templateName = templateName.value.trim();
    try { const e = await api.post('/v1/enrollments', body); await load(); done.ok(`${e.registrationId} enrolled (${e.status})`); }
    catch (error) { done.failed(error); }
  });
  const file = el('input', { class: 'form-control', type: 'file', id: 'enrollment-import-file', accept: '.csv,.jsonl,.json,.txt' });
  const results = el('div', { id: 'enrollment-import-results' });
  const run = el('button', {
    class: 'btn btn-outline-primary', type: 'button', id: 'enrollment-import-run',
    onclick: async () => {
      clear(results);
      if (!file.files.length) return;
      const rows = [];
      for (const entry of importLines(await file.files[0].text())) {
        if (entry.error) { rows.push({ ...entry, result: 'not sent' }); continue; }
        try { const e = await api.post('/v1/enrollments', entry.body); rows.push({ ...entry, result: e.status, error: '' }); }
        catch (error) { rows.push({ ...entry, result: String(error.status), error: `${error.code}: ${error.message}` }); }
      }
      const errors = rows.filter((r) => r.error);
      results.append(el('p', { id: 'enrollment-import-summary' }, `${rows.length - errors.length} of ${rows.length} lines enrolled`),
        table([['Line', (r) => r.line], ['Device', (r) => (r.body && r.body.registrationId) || ''], ['Result', (r) => r.result], ['Error', (r) => r.error]],
          rows, { id: 'enrollment-import-table' }));
      await load();
    },
  }, 'Import');
  return el('div', {}, el('h2', { class: 'h5' }, 'Enroll'), create,
    field('Import a file (CSV with a header: registrationId,templateName; or JSON lines)', file), run, results);
}

export const enrollments = { id: 'enrollments', title: 'Enrollments', roles: ['admin', 'operator', 'factory'], render: view };
