/**
 * Approvals: the pending queue (who asks, for what, why, at what risk, which policy asked, until
 * when), decided with a reason; break-glass grants awaiting a second operator's confirmation are
 * highlighted. Polls every 2 s, so a request appears without a reload.
 */
import { admin, may, q } from './api.js';
import { facts, h, replace, when } from './dom.js';
import { identityLink } from './screen-inventory.js';
import { failure, reasonAction } from './ui.js';

export interface Grant {
  id: string;
  identity: string;
  audience: string;
  actions: string[];
  task: { purpose?: string; ticket?: string; requested_ttl?: number };
  state: string;
  break_glass: boolean;
  justification: string | null;
  issuer: string | null;
  created_at: string;
  not_after: string | null;
  approvals_required: number;
  approvals: Array<{ by: string; at: string; reason: string }>;
  requested_by: string | null;
  decide_by: string | null;
  confirmed_by: string | null;
}

interface DecisionEvent {
  ts: string;
  data: { phase?: string; action?: string; policies?: string[]; obligations?: { approval?: boolean; held?: boolean } };
}

/** Which policy asked for approval: the issuance decision for this identity and action just before the grant. */
async function askedBy(g: Grant): Promise<string> {
  const r = await admin<{ events: DecisionEvent[] }>('GET', `/audit${q({ identity: g.identity, type: 'decision', order: 'desc', limit: 50 })}`);
  // The decision is recorded when its grant commits, so its time is the grant's, give or take: the nearest one.
  const at = Date.parse(g.created_at);
  const near = r.events
    .filter((e) => e.data.phase === 'issue' && e.data.obligations?.approval && g.actions.includes(e.data.action ?? ''))
    .map((e) => ({ e, off: Math.abs(Date.parse(e.ts) - at) }))
    .sort((a, b) => a.off - b.off)[0];
  if (!near || near.off > 60_000) return '—';
  const d = near.e;
  if (d.data.obligations?.held) return 'a detection hold on this identity';
  return (d.data.policies ?? []).join(', ') || '—';
}

export function approvalsScreen(main: HTMLElement): () => void {
  const list = h('div', { id: 'pending', 'aria-live': 'polite' });
  const glass = h('div', { id: 'break-glass' });
  const risk = new Map<string, number>();
  const asked = new Map<string, string>();
  let shown = '';
  const refresh = async () => {
    const [pending, active] = await Promise.all([
      admin<{ grants: Grant[] }>('GET', `/grants${q({ state: 'pending', limit: 200 })}`),
      admin<{ grants: Grant[] }>('GET', `/grants${q({ state: 'active', limit: 200 })}`),
    ]);
    const unconfirmed = active.grants.filter((g) => g.break_glass && !g.confirmed_by);
    for (const g of [...pending.grants, ...unconfirmed]) {
      if (!risk.has(g.identity)) risk.set(g.identity, ((await admin<{ risk: number }>('GET', `/identities/${encodeURIComponent(g.identity)}`)).risk));
      if (!asked.has(g.id) && g.state === 'pending') asked.set(g.id, await askedBy(g));
    }
    // Re-render only when something changed, so a half-typed reason is not wiped by the poll.
    const key = JSON.stringify([pending.grants.map((g) => [g.id, g.approvals.length]), unconfirmed.map((g) => g.id)]);
    if (key === shown) return;
    shown = key;
    replace(list, pending.grants.length ? pending.grants.map((g) => card(g)) : h('p', { class: 'muted' }, 'No grant is waiting for approval.'));
    replace(glass, unconfirmed.length ? unconfirmed.map((g) => card(g)) : h('p', { class: 'muted' }, 'No break-glass use awaits confirmation.'));
  };
  const card = (g: Grant) =>
    h(
      'article',
      { class: `card${g.break_glass ? ' break-glass' : ''}`, 'data-grant': g.id, 'aria-label': `Grant ${g.id}` },
      h('h2', {}, g.break_glass ? '⚠ Break-glass: ' : '', identityLink(g.identity), ' asks for ', h('strong', {}, g.actions.join(', '))),
      facts([
        ['Audience', g.audience],
        ['Purpose', g.task.purpose ?? '—'],
        ['Ticket', g.task.ticket ?? '—'],
        ['Risk', String(risk.get(g.identity) ?? '—')],
        ['Asked by policy', g.state === 'pending' ? asked.get(g.id) ?? '—' : 'break-glass (policy allows it)'],
        ['Justification', g.justification],
        ['Requested by', g.requested_by ?? 'the workload'],
        ['Approvals', `${g.approvals.length} of ${g.approvals_required}${g.approvals.length ? ` (${g.approvals.map((a) => a.by).join(', ')})` : ''}`],
        [g.state === 'pending' ? 'Decide by' : 'Confirm by', when(g.decide_by)],
        ['Requested at', when(g.created_at)],
      ]),
      may('decide')
        ? g.state === 'pending'
          ? [
              reasonAction('Approve', (reason) => admin('POST', `/grants/${g.id}/approve`, { reason }), () => void tick()),
              reasonAction('Deny', (reason) => admin('POST', `/grants/${g.id}/deny`, { reason }), () => void tick(), { danger: true }),
            ]
          : reasonAction('Confirm break-glass', (reason) => admin('POST', `/grants/${g.id}/confirm`, { reason }), () => void tick(), { testid: 'confirm' })
        : h('p', { class: 'muted' }, 'Your role reads only.'),
    );
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await refresh();
    } catch (e) {
      failure(e);
    } finally {
      running = false;
    }
  };
  replace(main, h('h1', {}, 'Approvals'), h('h2', {}, 'Waiting for approval'), list, h('h2', {}, 'Break-glass to confirm'), glass);
  void tick();
  const timer = setInterval(() => void tick(), 2000);
  return () => clearInterval(timer);
}
