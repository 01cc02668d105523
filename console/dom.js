// Building the page: every value from the API goes in as text
// (textContent, attribute values), never as HTML.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (name === 'value') node.value = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export const text = (value) => document.createTextNode(value === undefined || value === null ? '' : String(value));

export function time(seconds) {
  if (seconds === undefined || seconds === null) return '';
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// A table of rows: columns are [heading, (row) => cell content].
export function table(columns, rows, attributes = {}) {
  return el('table', { class: 'table table-sm table-hover align-middle', ...attributes },
    el('thead', {}, el('tr', {}, columns.map(([heading]) => el('th', { scope: 'col' }, heading)))),
    el('tbody', {}, rows.map((row) => el('tr', {}, columns.map(([, cell]) => el('td', {}, cell(row)))))));
}

export function pretty(value) { return el('pre', { class: 'json' }, JSON.stringify(value, null, 2)); }

// A place for an action's outcome: ok(text) or failed(error).
export function outcome(id) {
  const node = el('div', { id, class: 'my-2', role: 'status' });
  node.ok = (message) => { clear(node); node.className = 'my-2 alert alert-success'; node.append(text(message)); };
  node.failed = (error) => {
    clear(node);
    node.className = 'my-2 alert alert-danger';
    node.append(text(error.code ? `${error.code}: ${error.message}` : error.message || String(error)));
  };
  node.reset = () => { clear(node); node.className = 'my-2'; };
  return node;
}

// Asks before a change; resolves true when confirmed.
export function confirm(message) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = message;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

// A labelled input with a place under it for the server's word on it
// (showFieldError); `hint` is shown in small print.
export function formField(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return el('div', { class: 'mb-2' }, el('label', { class: 'form-label', for: id }, label), input,
    el('div', { class: 'invalid-feedback', id: `${id}-feedback` }),
    hint ? el('div', { class: 'form-text' }, hint) : '');
}

// Shows an API error next to the input of the field it names ("sha256",
// "hardwareVersions[1]": the input named by the leading name); true when
// one was found. clearFieldErrors(inputs) takes every such word away.
export function clearFieldErrors(inputs) {
  for (const input of Object.values(inputs)) {
    input.classList.remove('is-invalid');
    const feedback = document.getElementById(`${input.id}-feedback`);
    if (feedback) feedback.textContent = '';
  }
}

export function showFieldError(inputs, error) {
  clearFieldErrors(inputs);
  const match = /^[A-Za-z0-9_]+/.exec(error.field || '');
  const input = match && Object.prototype.hasOwnProperty.call(inputs, match[0]) ? inputs[match[0]] : null;
  if (!input) return false;
  input.classList.add('is-invalid');
  const feedback = document.getElementById(`${input.id}-feedback`);
  if (feedback) feedback.textContent = error.message;
  return true;
}

export function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return el('div', { class: 'mb-2' }, el('label', { class: 'form-label', for: id }, label), input);
}
