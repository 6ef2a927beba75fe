/**
 * Legacy bridge leases: per-task database and broker accounts, with their revocation state, so an
 * account whose end keeps failing (the target is down) is seen, never silently abandoned.
 */
import { admin, may, q } from './api.js';
import { h, replace, table, when } from './dom.js';
import { identityLink } from './screen-inventory.js';
import { failure, loading, reasonAction } from './ui.js';

interface Lease {
  id: string;
  connector: string;
  role: string;
  username: string;
  identity: string;
  state: string;
  created_at: string;
  expires_at: string;
  end_reason: string | null;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  ended_at: string | null;
  sessions_killed: number | null;
}

export function leasesScreen(main: HTMLElement): void {
  const body = h('div', {}, loading());
  const state = h('select', { id: 'lease-state' }, ['', 'active', 'ending', 'creating', 'ended'].map((s) => h('option', { value: s }, s || 'live (not ended)')));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter leases' }, h('label', { for: 'lease-state' }, 'State', state), h('button', { type: 'submit' }, 'Show'));
  const load = () => {
    admin<{ leases: Lease[] }>('GET', `/leases${q({ state: state.value, limit: 200 })}`)
      .then((r) => {
        const rows = state.value ? r.leases : r.leases.filter((l) => l.state !== 'ended');
        replace(
          body,
          table(rows, [
            ['Account', (l) => h('code', {}, l.username)],
            ['Connector / role', (l) => `${l.connector} / ${l.role}`],
            ['Identity', (l) => identityLink(l.identity)],
            ['State', (l) => h('span', { class: `badge ${l.state === 'active' ? 'ok' : l.state === 'ending' ? 'warn' : ''}` }, l.state)],
            ['Expires', (l) => when(l.expires_at)],
            ['Ending', (l) => (l.state === 'ending' ? [`attempt ${l.attempts}`, l.next_attempt_at ? `, next ${when(l.next_attempt_at)}` : '', l.last_error ? h('div', { class: 'error' }, l.last_error) : null] : l.end_reason ?? '—')],
            ['End', (l) => (may('admin') && l.state === 'active' ? reasonAction('End now', (reason) => admin('POST', `/leases/${l.id}/end`, { reason }), load, { danger: true, testid: 'end-lease' }) : when(l.ended_at))],
          ], { empty: 'No leases.', rowClass: (l) => (l.last_error ? 'break-glass' : undefined), label: 'Leases' }),
        );
      })
      .catch(failure);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  replace(main, h('h1', {}, 'Legacy bridge leases'), h('p', { class: 'muted' }, 'Per-task accounts on databases and brokers; each ends with its grant (disabled, sessions killed, dropped).'), form, body);
  load();
}
