/**
 * The console shell: login, navigation by URL fragment (#/inventory …), one screen at a time.
 * A screen may return a stop function (polling) that runs when the operator leaves it.
 */
import { call, currentSession, setSession, whenLoggedOut, type Session } from './api.js';
import { h, replace } from './dom.js';
import { failure } from './ui.js';
import { approvalsScreen } from './screen-approvals.js';
import { auditScreen } from './screen-audit.js';
import { findingsScreen } from './screen-findings.js';
import { grantsScreen } from './screen-grants.js';
import { leasesScreen } from './screen-leases.js';
import { identityScreen, inventoryScreen } from './screen-inventory.js';
import { policiesScreen } from './screen-policies.js';
import { postureScreen } from './screen-posture.js';

export type Screen = (main: HTMLElement, arg: string) => void | (() => void);

const SCREENS: ReadonlyArray<[string, string, Screen]> = [
  ['inventory', 'Inventory', inventoryScreen],
  ['approvals', 'Approvals', approvalsScreen],
  ['grants', 'Grants', grantsScreen],
  ['leases', 'Leases', leasesScreen],
  ['findings', 'Findings & reviews', findingsScreen],
  ['audit', 'Audit', auditScreen],
  ['policies', 'Policies', policiesScreen],
  ['posture', 'Posture', postureScreen],
];
const HIDDEN: Record<string, Screen> = { identity: identityScreen };

const main = document.getElementById('main') as HTMLElement;
const top = document.getElementById('top') as HTMLElement;
let stop: (() => void) | undefined;

function route(): void {
  stop?.();
  stop = undefined;
  if (!currentSession()) return showLogin();
  const [, name = 'inventory', ...rest] = location.hash.split('/');
  const arg = decodeURIComponent(rest.join('/'));
  const screen = SCREENS.find(([n]) => n === name)?.[2] ?? HIDDEN[name] ?? inventoryScreen;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  stop = screen(main, arg) ?? undefined;
  main.focus();
}

function showShell(s: Session): void {
  top.hidden = false;
  replace(document.getElementById('nav')!, SCREENS.map(([n, label]) => h('a', { href: `#/${n}` }, label)));
  replace(document.getElementById('who')!, `${s.operator} (${s.role})`);
}

function showLogin(message?: string): void {
  top.hidden = true;
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true });
  const note = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Tether console'),
    h('p', { class: 'muted' }, 'Log in with your operator token. It is exchanged for a session; the console never stores it.'),
    h('label', { for: 'token' }, 'Operator token', input),
    note,
    h('button', { type: 'submit', class: 'primary' }, 'Log in'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    call<Session>('POST', '/console/api/login', { token: input.value })
      .then((s) => {
        input.value = '';
        setSession(s);
        showShell(s);
        route();
      })
      .catch((err: Error) => replace(note, `Login refused: ${err.message}`));
  });
  replace(main, form);
  input.focus();
}

whenLoggedOut(() => {
  stop?.();
  stop = undefined;
  showLogin('Your session has ended. Log in again.');
});

document.getElementById('logout')!.addEventListener('click', () => {
  call('POST', '/console/api/logout')
    .catch(failure)
    .finally(() => {
      setSession(null);
      stop?.();
      stop = undefined;
      showLogin('Logged out.');
    });
});

window.addEventListener('hashchange', route);

call<Session>('GET', '/console/api/session')
  .then((s) => {
    setSession(s);
    showShell(s);
    route();
  })
  .catch(() => showLogin());
