// API tokens: list, create (the secret is shown once), delete.
import * as api from './api.js';
import { el, clear, table, outcome, time, confirm } from './dom.js';

const ROLES = ['admin', 'factory', 'operator', 'installer', 'activator'];

function view(container) {
  const list = el('div', { id: 'tokens-list' });
  const done = outcome('tokens-result');
  const secret = el('div', { id: 'token-secret' });
  const load = async () => {
    clear(list);
    try {
      const { items } = await api.all('/v1/tokens');
      list.append(table([
        ['Name', (t) => t.name], ['Role', (t) => t.role], ['Created', (t) => time(t.createdAt)], ['Last used', (t) => time(t.lastUsedAt)],
        ['', (t) => el('button', {
          class: 'btn btn-sm btn-outline-danger', type: 'button', 'data-action': 'delete', 'data-token': t.name,
          onclick: async () => {
            if (!(await confirm(`Delete token ${t.name}? Whoever uses it is refused from now on.`))) return;
            try { await api.del(`/v1/tokens/${api.enc(t.name)}`); await load(); done.ok(`token ${t.name} deleted`); } catch (error) { done.failed(error); }
          },
        }, 'Delete')],
      ], items, { id: 'tokens-table' }));
    } catch (error) { done.failed(error); }
  };
  const name = el('input', { class: 'form-control', id: 'token-new-name', placeholder: 'name' });
  const role = el('select', { class: 'form-select', id: 'token-new-role' }, ROLES.map((r) => el('option', { value: r }, r)));
  const form = el('form', { class: 'row g-2 mb-3', id: 'token-create' },
    el('div', { class: 'col' }, name), el('div', { class: 'col' }, role),
    el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-primary', type: 'submit' }, 'Create')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(secret);
    try {
      const t = await api.post('/v1/tokens', { name: name.value.trim(), role: role.value });
      secret.append(el('div', { class: 'alert alert-warning' }, `The token ${t.name} (${t.role}); it is shown only now: `,
        el('span', { class: 'mono', id: 'token-new-secret' }, t.token)));
      await load();
    } catch (error) { done.failed(error); }
  });
  container.append(form, secret, done, list);
  load();
}

export const tokens = { id: 'tokens', title: 'API tokens', roles: ['admin'], render: view };
