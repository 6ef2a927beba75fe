/**
 * Two broker instances on one PostgreSQL database (DESIGN.md "Running": a cluster): a policy, entity
 * or identity change made through one is enforced by the other, learnt by notification alone (no
 * restart, no polling of the tables), within a bounded time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { applyOk, ask, evaluate, PDP_TOKEN } from './http.js';

const BOUND_MS = 1000;

async function within<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  for (;;) {
    const value = await probe();
    const ms = performance.now() - t0;
    if (value !== undefined) return { value, ms };
    if (ms > BOUND_MS) throw new Error(`${what}: not seen within ${BOUND_MS} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('cluster: changes reach the other instance by notification (pg)', () => {
  let a: RunningBroker;
  let b: RunningBroker;
  before(async () => {
    a = await startBroker('pg', { pdpToken: PDP_TOKEN });
    b = await startBroker('pg', { pdpToken: PDP_TOKEN }, { db: a.db });
  });
  after(async () => {
    await b.stop();
    await a.stop();
  });

  const id = { type: 'Identity', id: 'ci/deploy' };
  const order = { type: 'Order', id: '1' };

  test('policy activation, entities and an identity suspension made on A are enforced on B', async () => {
    await applyOk(a, {
      identities: [{ id: 'ci/deploy', kind: 'ci_job', owner: 'team-a' }],
      policies: { 'p.cedar': 'permit(principal is Identity, action == Action::"read", resource is Order);' },
    });
    const p = await within('policy v1 on B', () => (b.broker.pdp.policies.current()?.version === 1 ? true : undefined));
    assert.equal((await evaluate(b, ask(id, 'read', order))).body.decision, true);

    // v2: read needs Group::"ops" membership, which entities.json grants; both changes in one apply.
    await applyOk(a, {
      policies: { 'p.cedar': 'permit(principal in Group::"ops", action == Action::"read", resource is Order);' },
      entities: [{ uid: id, attrs: {}, parents: [{ type: 'Group', id: 'ops' }] }, { uid: { type: 'Group', id: 'ops' }, attrs: {}, parents: [] }],
    });
    const p2 = await within('policy v2 + entities on B', () =>
      b.broker.pdp.policies.current()?.version === 2 && b.broker.pdp.entities.hash() === a.broker.pdp.entities.hash() ? true : undefined,
    );
    assert.equal((await evaluate(b, ask(id, 'read', order))).body.decision, true);

    // Warm B's identity cache, then suspend through A: B must drop its cached copy.
    assert.equal(b.broker.pdp.identities.peek('ci/deploy')?.status, 'active');
    const s = await a.admin('PATCH', `/admin/v1/identities/${encodeURIComponent('ci/deploy')}`, { status: 'suspended' });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    const p3 = await within('identity suspension on B', () => (b.broker.pdp.identities.peek('ci/deploy') === undefined ? true : undefined));
    const denied = await evaluate(b, ask(id, 'read', order));
    assert.equal(denied.body.decision, false);
    assert.match(denied.body.context.reason_admin.reason, /suspended/);
    console.log(`# propagation to B: policy ${p.ms.toFixed(1)} ms, policy+entities ${p2.ms.toFixed(1)} ms, identity ${p3.ms.toFixed(1)} ms`);
  });
});
