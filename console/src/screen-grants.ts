/** Grants and tokens: live grants with the latest expiry of their tokens; revoke a grant, its identity or its issuer. */
import { admin, may, q } from './api.js';
import { h, replace, table, when } from './dom.js';
import type { Grant } from './screen-approvals.js';
import { identityLink } from './screen-inventory.js';
import { failure, loading, reasonAction } from './ui.js';

export function grantsScreen(main: HTMLElement): void {
  const body = h('div', {}, loading());
  const state = h('select', { name: 'state', id: 'grant-state' }, ['active', 'pending', 'ended', 'expired', 'revoked', 'denied'].map((s) => h('option', { value: s }, s)));
  const identity = h('input', { name: 'identity', id: 'grant-identity' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter grants' }, h('label', { for: 'grant-state' }, 'State', state), h('label', { for: 'grant-identity' }, 'Identity', identity), h('button', { type: 'submit' }, 'Show'));
  const load = () => {
    admin<{ grants: Grant[] }>('GET', `/grants${q({ state: state.value, identity: identity.value.trim(), limit: 200 })}`)
      .then((r) =>
        replace(
          body,
          table(r.grants, [
            ['Grant', (g) => h('code', { title: g.id }, g.id.slice(0, 8))],
            ['Identity', (g) => identityLink(g.identity)],
            ['Actions', (g) => g.actions.join(', ')],
            ['Audience', (g) => g.audience],
            ['Task', (g) => [g.task.purpose ?? '', g.task.ticket ? ` (${g.task.ticket})` : '']],
            ['Tokens valid until', (g) => when(g.not_after)],
            ['Issuer', (g) => g.issuer ?? '—'],
            ['Revoke', (g) =>
              may('admin') && (g.state === 'active' || g.state === 'pending')
                ? [
                    reasonAction('Revoke grant', (reason) => admin('POST', '/revocations', { kind: 'grant', value: g.id, reason }), load, { danger: true, testid: 'revoke-grant' }),
                    reasonAction('Revoke identity', (reason) => admin('POST', '/revocations', { kind: 'identity', value: g.identity, reason }), load, { danger: true, testid: 'revoke-identity' }),
                    g.issuer ? reasonAction('Revoke issuer', (reason) => admin('POST', '/revocations', { kind: 'issuer', value: g.issuer, reason }), load, { danger: true, testid: 'revoke-issuer' }) : null,
                  ]
                : '—'],
          ], { empty: `No ${state.value} grants.`, rowClass: (g) => (g.break_glass ? 'break-glass' : undefined), label: 'Grants' }),
        ),
      )
      .catch(failure);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  replace(main, h('h1', {}, 'Grants and tokens'), h('p', { class: 'muted' }, 'A token never outlives its grant: revoking the grant kills its tokens on every instance.'), form, body);
  load();
}
