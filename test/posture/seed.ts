/**
 * A broker with a month of history: identities through the admin API, the policy set through
 * `POST /admin/v1/policies`, and usage (issuances, decisions) through the broker's own audit writer,
 * at past times set by the injected clock — the events the token endpoint and PDP write.
 */
import assert from 'node:assert/strict';
import { startBroker, type RunningBroker } from '../helpers/broker.js';

export const DAY = 86_400_000;
export const NOW = Date.parse('2026-03-01T12:00:00Z');
export const AUD = 'https://orders.example';

export const POLICIES = {
  'orders.cedar': `
@id("good-read")
permit (principal == Identity::"svc/good", action == Action::"orders:read", resource);

@id("wide-rw")
permit (principal == Identity::"svc/wide", action in [Action::"orders:read", Action::"orders:write"], resource);
`,
};

export interface SeededBroker {
  b: RunningBroker;
  /** Moves the broker's clock. */
  setNow(ms: number): void;
}

export async function seededBroker(kind: 'pg' | 'pglite'): Promise<SeededBroker> {
  let now = NOW - 60 * DAY;
  const b = await startBroker(kind, {}, { clock: () => new Date(now) });
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await b.admin(method, path, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const future = new Date(NOW + 200 * DAY).toISOString().slice(0, 10);
  for (const id of ['svc/good', 'svc/wide', 'svc/dormant']) {
    await ok('POST', '/admin/v1/identities', { id, kind: 'service_account', owner: 'team-orders', review_by: future });
  }
  await ok('POST', '/admin/v1/identities', { id: 'svc/overdue', kind: 'service_account', owner: 'team-orders', review_by: '2026-01-15' });
  await ok('POST', '/admin/v1/policies', { files: POLICIES });
  // What the token endpoint does on first sight of a workload through a trusted issuer.
  await b.broker.inventory.discover('gh/acme/unknown-workflow', 'github-actions', 'ci_job');

  // Usage in the last week: svc/good and svc/wide obtain and use orders:read; nobody uses orders:write.
  for (const [id, grant] of [['svc/good', 'g-good'], ['svc/wide', 'g-wide'], ['svc/overdue', 'g-over']] as const) {
    now = NOW - 2 * DAY;
    const iat = Math.floor(now / 1000);
    await b.broker.audit.append({
      type: 'token.issued',
      actor: id,
      identity: id,
      data: { jti: `jti-${id}`, grant, aud: AUD, scope: ['orders:read'], jkt: 'k', iat, exp: iat + 300, ttl: 300, issuer: 'github-actions', client_id: id, bearer: false },
    });
    now += 1000;
    await b.broker.audit.append({
      type: 'decision',
      actor: 'ext-authz',
      identity: id,
      data: { entry: 'ext-authz', phase: 'request', decision: 'allow', action: 'orders:read', resource: { type: 'Order', id: '42' }, policies: ['good-read'], errors: [], reason: 'allowed', jti: `jti-${id}`, grant, risk: 0 },
    });
  }
  now = NOW;
  return { b, setNow: (ms) => (now = ms) };
}
