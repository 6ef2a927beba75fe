/** Audit: search by identity, type and time; the chain's verification and the latest signed checkpoint. */
import { admin, q } from './api.js';
import { facts, h, readable, replace, table, when } from './dom.js';
import { failure, loading } from './ui.js';

interface Event {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  identity: string | null;
  data: Record<string, unknown>;
}

export function auditScreen(main: HTMLElement): void {
  const chain = h('div', {}, loading());
  const results = h('div', {});
  const identity = h('input', { id: 'audit-identity', name: 'identity' });
  const type = h('input', { id: 'audit-type', name: 'type', placeholder: 'e.g. decision, grant.approved' });
  const since = h('input', { id: 'audit-since', name: 'since', type: 'datetime-local' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search the audit log' },
    h('label', { for: 'audit-identity' }, 'Identity', identity),
    h('label', { for: 'audit-type' }, 'Type', type),
    h('label', { for: 'audit-since' }, 'Since (UTC)', since),
    h('button', { type: 'submit' }, 'Search'));
  const search = (before?: number) => {
    const sinceIso = since.value ? new Date(`${since.value}Z`).toISOString() : undefined;
    admin<{ events: Event[]; next_before: number | null }>('GET', `/audit${q({ identity: identity.value.trim(), type: type.value.trim(), since: sinceIso, order: 'desc', limit: 100, before })}`)
      .then((r) =>
        replace(
          results,
          table(r.events, [
            ['#', (e) => e.seq],
            ['When', (e) => when(e.ts)],
            ['Type', (e) => e.type],
            ['Actor', (e) => e.actor],
            ['Identity', (e) => e.identity ?? '—'],
            ['Details', (e) => h('details', {}, h('summary', {}, 'show'), readable(e.data))],
          ], { empty: 'No event matches.', label: 'Audit events' }),
          r.next_before ? h('button', { type: 'button', onclick: () => search(r.next_before!) }, 'Older') : null,
        ),
      )
      .catch(failure);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });
  Promise.all([admin<{ ok: boolean; events: number; head: { seq: number; hash: string }; anchorsMatched?: number; error?: string }>('GET', '/audit/verify'), admin<{ checkpoint: { seq: number; ts: string; hash: string; kid: string } | null }>('GET', '/audit/checkpoint')])
    .then(([v, c]) =>
      replace(
        chain,
        facts([
          ['Chain', h('span', { class: `badge ${v.ok ? 'ok' : 'bad'}`, id: 'chain-state' }, v.ok ? 'verified' : `BROKEN${v.error ? `: ${v.error}` : ''}`)],
          ['Events', String(v.events)],
          ['Head', `#${v.head?.seq} ${v.head?.hash?.slice(0, 16) ?? ''}…`],
          ['Checkpoints matched', String(v.anchorsMatched ?? 0)],
          ['Latest checkpoint', c.checkpoint ? `#${c.checkpoint.seq} at ${when(c.checkpoint.ts)}, signed by key ${c.checkpoint.kid.slice(0, 12)}…` : 'none yet'],
        ]),
      ),
    )
    .catch(failure);
  replace(main, h('h1', {}, 'Audit'), h('section', { 'aria-label': 'Chain state' }, h('h2', {}, 'Chain'), chain), h('h2', {}, 'Search'), form, results);
  search();
}
