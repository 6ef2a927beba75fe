/** Inventory: every identity with owner, kind, status, last use, risk and open findings; one identity's page. */
import { admin, may, q } from './api.js';
import { facts, h, humanize, readable, replace, table, when } from './dom.js';
import { failure, loading, reasonAction } from './ui.js';

interface Identity {
  id: string;
  kind: string;
  owner: string | null;
  purpose: string | null;
  environment: string | null;
  status: string;
  review_by: string | null;
  last_used_at: string | null;
  risk: number;
  open_findings: number;
  labels: Record<string, string>;
  discovered_by: string | null;
}

const KINDS = ['', 'service_account', 'ci_job', 'workload', 'ai_agent', 'api_client'];
const STATUSES = ['', 'active', 'suspended', 'retired', 'unowned'];

export const identityLink = (id: string) => h('a', { href: `#/identity/${encodeURIComponent(id)}` }, id);
const statusBadge = (s: string) => h('span', { class: `badge ${s === 'active' ? 'ok' : s === 'suspended' || s === 'retired' ? 'bad' : 'warn'}` }, s);
const select = (name: string, label: string, options: string[]) =>
  h('label', {}, label, h('select', { name }, options.map((o) => h('option', { value: o }, o || 'any'))));

export function inventoryScreen(main: HTMLElement): void {
  const results = h('div', {}, loading());
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter identities' },
    h('label', {}, 'Owner', h('input', { name: 'owner', placeholder: 'team-…' })),
    select('kind', 'Kind', KINDS),
    select('status', 'Status', STATUSES),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const cursors: string[] = [];
  const load = (after?: string) => {
    const f = new FormData(form);
    admin<{ identities: Identity[]; next_after: string | null }>('GET', `/identities${q({ owner: String(f.get('owner') ?? ''), kind: String(f.get('kind') ?? ''), status: String(f.get('status') ?? ''), limit: 50, after })}`)
      .then((r) => {
        replace(
          results,
          table(r.identities, [
            ['Identity', (i) => identityLink(i.id)],
            ['Owner', (i) => i.owner ?? h('span', { class: 'badge warn' }, 'unowned')],
            ['Kind', (i) => i.kind],
            ['Environment', (i) => i.environment ?? '—'],
            ['Status', (i) => statusBadge(i.status)],
            ['Last used', (i) => when(i.last_used_at)],
            ['Risk', (i) => h('span', { class: `badge ${i.risk >= 80 ? 'bad' : i.risk >= 40 ? 'warn' : ''}` }, i.risk)],
            ['Open findings', (i) => i.open_findings],
          ], { empty: 'No identity matches.', label: 'Identities' }),
          h('p', {},
            cursors.length ? h('button', { type: 'button', onclick: () => { cursors.pop(); load(cursors[cursors.length - 1]); } }, 'Previous page') : null,
            r.next_after ? h('button', { type: 'button', onclick: () => { cursors.push(r.next_after!); load(r.next_after!); } }, 'Next page') : null),
        );
      })
      .catch(failure);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors.length = 0;
    load();
  });
  replace(main, h('h1', {}, 'Inventory'), form, results);
  load();
}

export function identityScreen(main: HTMLElement, id: string): void {
  const reload = () => identityScreen(main, id);
  replace(main, h('h1', {}, 'Identity ', h('code', {}, id)), loading());
  const enc = encodeURIComponent(id);
  Promise.all([
    admin<Identity>('GET', `/identities/${enc}`),
    admin<{ grants: Array<Record<string, any>> }>('GET', `/grants${q({ identity: id, limit: 20 })}`),
    admin<{ events: Array<Record<string, any>> }>('GET', `/audit${q({ identity: id, type: 'decision', limit: 20, order: 'desc' })}`),
    admin<{ findings: Array<Record<string, any>> }>('GET', `/findings${q({ identity: id, limit: 20 })}`),
    admin<{ reviews: Array<Record<string, any>> }>('GET', `/reviews${q({ identity: id, limit: 20 })}`),
    admin<{ identities: Array<{ id: string; blast_radius: Array<Record<string, unknown>> }> }>('GET', '/posture'),
  ])
    .then(([i, grants, decisions, findings, reviews, posture]) => {
      const actions: HTMLElement[] = [];
      if (may('admin') && i.status !== 'retired') {
        if (i.status === 'suspended') actions.push(reasonAction('Restore', (reason) => admin('PATCH', `/identities/${enc}`, { status: 'active', reason }), reload));
        else actions.push(reasonAction('Suspend', (reason) => admin('PATCH', `/identities/${enc}`, { status: 'suspended', reason }), reload, { danger: true }));
        actions.push(reasonAction('Revoke all credentials', (reason) => admin('POST', '/revocations', { kind: 'identity', value: id, reason }), reload, { danger: true, testid: 'revoke-identity' }));
        actions.push(reasonAction('Retire', (reason) => admin('DELETE', `/identities/${enc}`, { reason }), reload, { danger: true }));
      }
      const blast = posture.identities.find((x) => x.id === id)?.blast_radius ?? [];
      replace(
        main,
        h('h1', {}, 'Identity ', h('code', {}, id), ' ', statusBadge(i.status)),
        facts([
          ['Owner', i.owner ?? 'unowned'],
          ['Kind', i.kind],
          ['Purpose', i.purpose],
          ['Environment', i.environment],
          ['Review by', when(i.review_by)],
          ['Last used', when(i.last_used_at)],
          ['Risk', String(i.risk)],
          ['Open findings', String(i.open_findings)],
          ['Labels', readable(i.labels)],
          ['Discovered by', i.discovered_by],
        ]),
        actions.length ? h('section', { 'aria-label': 'Actions' }, h('h2', {}, 'Actions'), actions) : null,
        h('h2', {}, 'Grants'),
        table(grants.grants, [
          ['Grant', (g) => h('code', {}, String(g['id']).slice(0, 8))],
          ['State', (g) => g['state']],
          ['Actions', (g) => (g['actions'] as string[]).join(', ')],
          ['Audience', (g) => g['audience']],
          ['Until', (g) => when(g['not_after'])],
        ], { empty: 'No grants.' }),
        h('h2', {}, 'Blast radius'),
        table(blast, Object.keys(blast[0] ?? {}).map((k) => [humanize(k), (b: Record<string, unknown>) => readable(b[k])] as [string, (b: Record<string, unknown>) => ReturnType<typeof readable>]), { empty: 'Nothing reachable in the posture window.', label: 'Blast radius' }),
        h('h2', {}, 'Recent decisions'),
        table(decisions.events, [
          ['When', (e) => when(e['ts'])],
          ['Decision', (e) => h('span', { class: `badge ${e['data']['decision'] === 'allow' ? 'ok' : 'bad'}` }, String(e['data']['decision'] ?? '—'))],
          ['Phase', (e) => e['data']['phase'] ?? '—'],
          ['Action', (e) => e['data']['action'] ?? '—'],
          ['Resource', (e) => (e['data']['resource'] ? `${e['data']['resource'].type}::"${e['data']['resource'].id}"` : '—')],
        ], { empty: 'No decisions recorded.' }),
        h('h2', {}, 'Findings'),
        table(findings.findings, [
          ['Rule', (f) => f['rule']],
          ['Severity', (f) => h('span', { class: `badge sev-${f['severity']}` }, f['severity'])],
          ['Status', (f) => f['status']],
          ['When', (f) => when(f['created_at'])],
        ], { empty: 'No findings.' }),
        h('h2', {}, 'Reviews'),
        table(reviews.reviews, [
          ['Reason', (r) => r['reason']],
          ['Status', (r) => r['status']],
          ['Opened', (r) => when(r['created_at'])],
        ], { empty: 'No reviews.' }),
      );
    })
    .catch(failure);
}
