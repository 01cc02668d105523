// The audit log, with its filters (actor, action, subject, since, until).
import * as api from './api.js';
import { el, clear, table, outcome, time } from './dom.js';

function view(container) {
  const inputs = {};
  const form = el('form', { class: 'row g-2 mb-3', id: 'audit-filters' });
  for (const [name, placeholder] of [['actor', 'actor (api:name)'], ['action', 'action (CreateTemplate)'], ['subject', 'subject'],
    ['since', 'since (Unix time)'], ['until', 'until (Unix time)']]) {
    inputs[name] = el('input', { class: 'form-control', id: `audit-${name}`, placeholder });
    form.append(el('div', { class: 'col' }, inputs[name]));
  }
  form.append(el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-primary', type: 'submit' }, 'Filter')));
  const list = el('div', { id: 'audit-list' });
  const done = outcome('audit-error');
  const load = async () => {
    clear(list);
    done.reset();
    const query = Object.entries(inputs).filter(([, input]) => input.value.trim())
      .map(([name, input]) => `&${name}=${api.enc(input.value.trim())}`).join('');
    try {
      const page = await api.get(`/v1/audit?limit=200${query}`);
      list.append(table([
        ['When', (e) => time(e.at)], ['Actor', (e) => e.actor], ['Action', (e) => e.action], ['Subject', (e) => e.subject],
        ['Result', (e) => e.result], ['Source', (e) => e.source], ['Detail', (e) => el('span', { class: 'mono' }, JSON.stringify(e.detail))],
      ], page.items, { id: 'audit-table' }));
    } catch (error) { done.failed(error); }
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  container.append(form, done, list);
  load();
}

export const audit = { id: 'audit', title: 'Audit log', roles: ['admin', 'operator'], render: view };
