// Service identities (/v1/service-identities): the certificates provisioning
// workers and factory servers connect to the broker with. List; register a
// certificate as a worker's or a factory's; disable, enable, delete (admin;
// each asks first; a disabled or deleted identity's connections are cut off).
// The one this provisiond links with is marked: the server refuses to
// disable or delete it.
import * as api from './api.js';
import { el, clear, table, outcome, time, confirm, formField, showFieldError, clearFieldErrors } from './dom.js';

function view(container, session) {
  const admin = session.role === 'admin';
  const done = outcome('identities-result');
  const listing = el('div', { id: 'identities-list' });
  const load = async () => {
    clear(listing);
    const { items } = await api.all('/v1/service-identities');
    const act = (question, call, success) => async () => {
      if (!(await confirm(question))) return;
      try { const answer = await call(); await load(); done.ok(success(answer)); } catch (error) { done.failed(error); }
    };
    const button = (label, style, action, s, onclick) => el('button', {
      class: `btn btn-sm ${style} me-1`, type: 'button', 'data-action': action, 'data-identity': s.id, onclick,
    }, label);
    listing.append(table([
      ['Name', (s) => [s.name, s.thisProvisiond ? el('span', { class: 'badge bg-info ms-2 this-provisiond' }, 'this provisiond') : '']],
      ['Kind', (s) => s.kind],
      ['Status', (s) => el('span', { class: 'identity-status', 'data-identity': s.id }, s.status)],
      ['Certificate id', (s) => el('span', { class: 'mono', title: s.id }, `${s.id.slice(0, 16)}…`)],
      ['Registered', (s) => time(s.createdAt)],
      ['', (s) => (admin ? [
        s.status === 'ACTIVE'
          ? button('Disable', 'btn-outline-warning', 'disable', s,
            act(`Disable ${s.kind} identity ${s.name}? Its connections are cut off and refused.`,
              () => api.patch(`/v1/service-identities/${api.enc(s.id)}`, { status: 'INACTIVE' }), (a) => `${a.name} is ${a.status}`))
          : button('Enable', 'btn-outline-success', 'enable', s,
            act(`Enable ${s.kind} identity ${s.name}?`,
              () => api.patch(`/v1/service-identities/${api.enc(s.id)}`, { status: 'ACTIVE' }), (a) => `${a.name} is ${a.status}`)),
        button('Delete', 'btn-outline-danger', 'delete', s,
          act(`Delete ${s.kind} identity ${s.name}? Its connections are cut off and its certificate is no longer recognised.`,
            () => api.del(`/v1/service-identities/${api.enc(s.id)}`), () => `identity ${s.name} deleted`)),
      ] : '')],
    ], items, { id: 'identities-table' }));
  };
  container.append(done, listing);
  if (admin) container.append(registration(load, done));
  load().catch((error) => done.failed(error));
}

function registration(load, done) {
  const inputs = {
    name: el('input', { class: 'form-control', id: 'identity-name', placeholder: 'factory-line-1', autocomplete: 'off' }),
    kind: el('select', { class: 'form-select', id: 'identity-kind' },
      el('option', { value: 'factory' }, 'factory (publishes enrollments over MQTT)'),
      el('option', { value: 'worker' }, 'worker (answers provisioning requests)')),
    certificatePem: el('textarea', { class: 'form-control editor', id: 'identity-certificate', rows: 6, spellcheck: 'false',
      placeholder: '-----BEGIN CERTIFICATE-----' }),
  };
  const form = el('form', { id: 'identity-register', novalidate: true },
    el('h2', { class: 'h5 mt-4' }, 'Register an identity'),
    el('div', { class: 'row' },
      el('div', { class: 'col-md-6' }, formField('Name', inputs.name)),
      el('div', { class: 'col-md-6' }, formField('Kind', inputs.kind))),
    formField('Certificate (PEM), issued by a CA the broker trusts; its key stays with the server that uses it', inputs.certificatePem),
    el('button', { class: 'btn btn-primary', type: 'submit' }, 'Register'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(inputs);
    try {
      const s = await api.post('/v1/service-identities',
        { name: inputs.name.value.trim(), kind: inputs.kind.value, certificatePem: inputs.certificatePem.value.trim() });
      inputs.name.value = '';
      inputs.certificatePem.value = '';
      await load();
      done.ok(`${s.kind} identity ${s.name} registered (${s.status})`);
    } catch (error) {
      showFieldError(inputs, error);
      done.failed({ code: error.code, message: `${error.message} (nothing was registered)` });
    }
  });
  return form;
}

export const identities = { id: 'identities', title: 'Service identities', roles: ['admin', 'operator'], render: view };
