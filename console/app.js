// The console: sign-in with an API token, then the screens the token's role
// may use (the server enforces the roles anyway; docs/console.md).
import * as api from './api.js';
import { el, clear } from './dom.js';
import { overview } from './overview.js';
import { things } from './things.js';
import { enrollments } from './enrollments.js';
import { portal } from './portal.js';
import { templates } from './templates.js';
import { audit } from './audit.js';
import { tokens } from './tokens.js';
import { policies, claims, cas, brokers } from './fleet.js';
import { firmware } from './firmware.js';
import { bootstrap } from './bootstrap.js';
import { identities } from './identities.js';

// Each screen: its id (#/<id>), title, the roles that see it, and render(container, session).
const SCREENS = [overview, portal, things, enrollments, templates, policies, claims, cas, brokers, firmware, bootstrap, identities,
  audit, tokens];

const $ = (id) => document.getElementById(id);
let session = null;  // {name, role}
let stop = null;     // what the current screen stops when left (timers)

function screensFor(role) { return SCREENS.filter((s) => s.roles.includes(role)); }

function showSignIn(message) {
  if (stop) { stop(); stop = null; }
  session = null;
  $('signin').classList.remove('hidden');
  $('sign-out').classList.add('hidden');
  clear($('nav'));
  clear($('screen'));
  $('who').textContent = '';
  $('signin-error').textContent = message || '';
}

async function signIn(value) {
  api.setToken(value);
  try {
    session = await api.get('/v1/whoami');
  } catch (error) {
    api.clearToken();
    showSignIn(error.status === 401 ? 'Unknown token' : error.message);
    return;
  }
  $('signin').classList.add('hidden');
  $('sign-out').classList.remove('hidden');
  $('who').textContent = `${session.name} (${session.role})`;
  const nav = clear($('nav'));
  for (const screen of screensFor(session.role))
    nav.append(el('li', { class: 'nav-item' },
      el('a', { class: 'nav-link', href: `#/${screen.id}`, id: `nav-${screen.id}` }, screen.title)));
  route();
}

function route() {
  if (!session) return;
  if (stop) { stop(); stop = null; }
  const allowed = screensFor(session.role);
  const [id, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const screen = allowed.find((s) => s.id === id) || allowed[0];
  for (const link of document.querySelectorAll('#nav .nav-link'))
    link.classList.toggle('active', link.id === `nav-${screen ? screen.id : ''}`);
  const container = clear($('screen'));
  if (!screen) {
    container.append(el('p', { id: 'no-screens' }, `A token with role ${session.role} has no screens in this console.`));
    return;
  }
  container.append(el('h1', { class: 'h4 mb-3', id: 'screen-title' }, screen.title));
  const body = el('div', { id: `screen-${screen.id}` });
  container.append(body);
  stop = screen.render(body, { ...session, args: rest.map(decodeURIComponent) }) || null;
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  signIn($('token').value.trim());
  $('token').value = '';
});
$('sign-out').addEventListener('click', () => { api.clearToken(); location.hash = ''; showSignIn(); });
window.addEventListener('hashchange', route);
window.addEventListener('unauthorized', () => {
  if (!session) return;
  api.clearToken();
  showSignIn('The token is no longer valid: sign in again');
});

if (api.token()) signIn(api.token()); else showSignIn();
