/** Shared by the audit anchor tests: a broker with one identity and a permit-all policy, and load. */
import type { RunningBroker } from '../helpers/broker.js';
import { applyOk, evaluate } from '../pdp/http.js';

export const WHO = 'ci/anchor-test';

export async function applyPermitAll(b: RunningBroker): Promise<void> {
  await applyOk(b, {
    identities: [{ id: WHO, kind: 'ci_job', owner: 'team-a', environment: 'prod' }],
    policies: { 'all.cedar': '@id("all") permit(principal, action, resource);' },
  });
}

/** n AuthZEN decisions (one audit event each), `concurrency` at a time; returns their statuses. */
export async function decisions(b: RunningBroker, n: number, concurrency = 8): Promise<number[]> {
  const statuses: number[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < n) {
        const k = i++;
        const r = await evaluate(b, { subject: { type: 'Identity', id: WHO }, action: { name: 'orders:read' }, resource: { type: 'Order', id: String(k) } });
        statuses.push(r.status);
      }
    }),
  );
  return statuses;
}
