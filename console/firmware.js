// Firmware releases (GET/POST /v1/firmware, PATCH/DELETE /v1/firmware/{id}):
// the catalog devices are offered updates from. List and filter; publish a
// release (the server's validation error shown next to the field it names);
// enable, disable, delete (admin; each asks first and shows the result).
import * as api from './api.js';
import { el, clear, table, outcome, time, confirm, formField, showFieldError, clearFieldErrors } from './dom.js';

const list = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);
const short = (hex) => (hex.length > 12 ? `${hex.slice(0, 12)}…` : hex);

function view(container, session) {
  const admin = session.role === 'admin';
  const done = outcome('firmware-result');
  const listing = el('div', { id: 'firmware-list', class: 'table-responsive' });

  // the filters of GET /v1/firmware
  const product = el('input', { class: 'form-control', id: 'firmware-filter-product', placeholder: 'product id', inputmode: 'numeric' });
  const channel = el('input', { class: 'form-control', id: 'firmware-filter-channel', placeholder: 'channel' });
  const enabled = el('select', { class: 'form-select', id: 'firmware-filter-enabled' },
    el('option', { value: '' }, 'enabled or not'), el('option', { value: 'true' }, 'enabled'), el('option', { value: 'false' }, 'disabled'));
  const filters = el('form', { class: 'row g-2 mb-3', id: 'firmware-filters' },
    el('div', { class: 'col' }, product), el('div', { class: 'col' }, channel), el('div', { class: 'col' }, enabled),
    el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-primary', type: 'submit' }, 'Filter')));

  const load = async () => {
    clear(listing);
    const query = [];
    if (product.value.trim()) query.push(`productId=${api.enc(product.value.trim())}`);
    if (channel.value.trim()) query.push(`channel=${api.enc(channel.value.trim())}`);
    if (enabled.value) query.push(`enabled=${enabled.value}`);
    const { items, more } = await api.all(`/v1/firmware${query.length ? `?${query.join('&')}` : ''}`);
    const change = (r, body, question, success) => async () => {
      if (!(await confirm(question))) return;
      try { await api.patch(`/v1/firmware/${r.id}`, body); await load(); done.ok(success); } catch (error) { done.failed(error); }
    };
    const remove = (r) => async () => {
      if (!(await confirm(`Delete release ${r.id} (product ${r.productId} version ${r.version} on ${r.channel})? Devices are no longer offered it.`))) return;
      try { await api.del(`/v1/firmware/${r.id}`); await load(); done.ok(`release ${r.id} deleted`); } catch (error) { done.failed(error); }
    };
    const button = (label, style, action, r, onclick) => el('button', {
      class: `btn btn-sm ${style} me-1`, type: 'button', 'data-action': action, 'data-release': r.id, onclick,
    }, label);
    listing.append(table([
      ['Id', (r) => r.id],
      ['Product', (r) => r.productId],
      ['Version', (r) => r.version],
      ['Channel', (r) => r.channel],
      ['Hardware', (r) => (r.hardwareVersions.length ? r.hardwareVersions.join(', ') : 'every board')],
      ['Enabled', (r) => el('span', { class: 'release-enabled', 'data-release': r.id }, r.enabled ? 'yes' : 'no')],
      ['Rollout', (r) => `${r.rolloutPercent} %`],
      ['From version', (r) => r.minCurrentVersion || ''],
      ['File', (r) => [el('div', { class: 'mono text-break' }, r.downloadUrl),
        el('div', { class: 'small text-muted' }, `${r.fileSize} bytes, SHA-256 `, el('span', { class: 'mono', title: r.sha256 }, short(r.sha256)))]],
      ['Changelog', (r) => r.changelog],
      ['Published', (r) => time(r.createdAt)],
      ['', (r) => (admin ? [
        r.enabled
          ? button('Disable', 'btn-outline-warning', 'disable', r,
            change(r, { enabled: false }, `Disable release ${r.id} (version ${r.version})? Devices are no longer offered it.`, `release ${r.id} is disabled`))
          : button('Enable', 'btn-outline-success', 'enable', r,
            change(r, { enabled: true }, `Enable release ${r.id} (version ${r.version})? Devices it applies to are offered it.`, `release ${r.id} is enabled`)),
        button('Delete', 'btn-outline-danger', 'delete', r, remove(r)),
      ] : '')],
    ], items, { id: 'firmware-table' }));
    if (more) listing.append(el('p', { class: 'text-muted' }, 'Only the first 2000 are shown: narrow the filter.'));
  };
  filters.addEventListener('submit', (event) => { event.preventDefault(); load().catch((error) => done.failed(error)); });
  container.append(filters, done, listing);
  if (admin) container.append(publishing(load, done));
  load().catch((error) => done.failed(error));
}

// The publish form: every field of FirmwareReleaseCreate.
function publishing(load, done) {
  const input = (name, attributes = {}) => el('input', { class: 'form-control', id: `firmware-${name}`, autocomplete: 'off', ...attributes });
  const inputs = {
    productId: input('productId', { inputmode: 'numeric', placeholder: '7' }),
    hardwareVersions: input('hardwareVersions', { placeholder: 'ESP32-S3, ESP32-C3' }),
    version: input('version', { placeholder: '1.4.0' }),
    channel: input('channel', { placeholder: 'stable' }),
    downloadUrl: input('downloadUrl', { placeholder: 'https://firmware.example.com/1.4.0.bin' }),
    fileSize: input('fileSize', { inputmode: 'numeric', placeholder: 'bytes' }),
    sha256: input('sha256', { placeholder: '64 hex digits' }),
    minCurrentVersion: input('minCurrentVersion', { placeholder: '(any)' }),
    rolloutPercent: input('rolloutPercent', { inputmode: 'numeric', placeholder: '100' }),
    changelog: el('textarea', { class: 'form-control', id: 'firmware-changelog', rows: 3 }),
    enabled: el('input', { class: 'form-check-input', type: 'checkbox', id: 'firmware-enabled' }),
  };
  inputs.enabled.checked = true;
  // a number as typed: the server says what is wrong with it
  const number = (text) => (/^-?\d+$/.test(text) ? Number(text) : text);
  const form = el('form', { id: 'firmware-publish', novalidate: true },
    el('h2', { class: 'h5 mt-4' }, 'Publish a release'),
    el('div', { class: 'row' },
      el('div', { class: 'col-md-2' }, formField('Product id', inputs.productId)),
      el('div', { class: 'col-md-2' }, formField('Version', inputs.version, 'MAJOR.MINOR.PATCH')),
      el('div', { class: 'col-md-4' }, formField('Hardware versions', inputs.hardwareVersions, 'comma separated; empty: every board')),
      el('div', { class: 'col-md-2' }, formField('Channel', inputs.channel, 'empty: stable')),
      el('div', { class: 'col-md-2' }, formField('Rollout %', inputs.rolloutPercent, 'empty: 100'))),
    el('div', { class: 'row' },
      el('div', { class: 'col-md-6' }, formField('Download URL', inputs.downloadUrl)),
      el('div', { class: 'col-md-2' }, formField('Size (bytes)', inputs.fileSize)),
      el('div', { class: 'col-md-4' }, formField('SHA-256', inputs.sha256))),
    el('div', { class: 'row' },
      el('div', { class: 'col-md-3' }, formField('Minimum current version', inputs.minCurrentVersion, 'devices below it are not offered it')),
      el('div', { class: 'col-md-7' }, formField('Changelog', inputs.changelog)),
      el('div', { class: 'col-md-2 form-check mt-4' }, inputs.enabled,
        el('label', { class: 'form-check-label ms-1', for: 'firmware-enabled' }, 'Enabled'),
        el('div', { class: 'invalid-feedback', id: 'firmware-enabled-feedback' }))),
    el('button', { class: 'btn btn-primary', type: 'submit', id: 'firmware-publish-button' }, 'Publish'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(inputs);
    const value = (name) => inputs[name].value.trim();
    const body = { enabled: inputs.enabled.checked };
    if (value('productId')) body.productId = number(value('productId'));
    if (value('version')) body.version = value('version');
    body.hardwareVersions = list(inputs.hardwareVersions.value);
    if (value('channel')) body.channel = value('channel');
    if (value('downloadUrl')) body.downloadUrl = value('downloadUrl');
    if (value('fileSize')) body.fileSize = number(value('fileSize'));
    if (value('sha256')) body.sha256 = value('sha256');
    if (inputs.changelog.value.trim()) body.changelog = inputs.changelog.value;
    if (value('minCurrentVersion')) body.minCurrentVersion = value('minCurrentVersion');
    if (value('rolloutPercent')) body.rolloutPercent = number(value('rolloutPercent'));
    try {
      const r = await api.post('/v1/firmware', body);
      await load();
      done.ok(`release ${r.id} published: product ${r.productId} version ${r.version} on ${r.channel}`);
    } catch (error) {
      showFieldError(inputs, error);
      done.failed({ code: error.code, message: `${error.message} (nothing was published)` });
    }
  });
  return form;
}

export const firmware = { id: 'firmware', title: 'Firmware', roles: ['admin', 'operator', 'factory'], render: view };
