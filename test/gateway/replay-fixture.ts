/**
 * Two brokers on one PostgreSQL database with the orders route (Envoy shape), for the tests of the
 * DPoP proof's single-use claim made in the decision record's statement (RFC 9449 §11.1).
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { CredentialRefusal } from '../../src/routes/credential-refusal.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { createTestDb, type TestDb } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

export const GW = 'http://envoy.replay.test';
const ISSUER = 'http://tether.replay.test';

export type Decision = { seq: number; identity: string | null; data: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

export function useReplayCluster() {
  let db: TestDb;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  const c = {
    a: undefined as unknown as RunningBroker,
    b: undefined as unknown as RunningBroker,
    /** What each instance reported to detection. */
    refusals: { a: [] as CredentialRefusal[], b: [] as CredentialRefusal[] },
    /** A fresh DPoP-bound token and its key; waits until both instances have the applied config. */
    async issue() {
      const key = await createDpopKey();
      const t = await exchangeForToken({ endpointBase: c.a.url, htuBase: ISSUER, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const token = t.body.access_token!;
      for (let i = 0; i < 100; i++) {
        const r = await fetch(`${c.b.url}/ext-authz/orders/orders/0`, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', `${GW}/orders/0`, { accessToken: token }) } });
        if (r.status === 200) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      return { key, token };
    },
    check: (on: RunningBroker, token: string, path: string, proof: string) => fetch(`${on.url}/ext-authz/orders${path}`, { headers: { authorization: `DPoP ${token}`, dpop: proof } }),
    decisionsAt: async (path: string): Promise<Decision[]> =>
      ((await c.a.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events as Decision[]).filter((e) => e.data.entry === 'ext-authz' && e.data.path === path),
    allows: (ds: Decision[]) => ds.filter((d) => d.data.decision === 'allow'),
    replays: (ds: Decision[]) => ds.filter((d) => d.data.stage === 'credential' && d.data.refusal === 'dpop_proof_replayed'),
    async verified() {
      const v = await c.b.admin('GET', '/admin/v1/audit/verify');
      assert.equal(v.status, 200);
      assert.equal(v.body.ok, true, JSON.stringify(v.body));
    },
  };
  before(async () => {
    db = await createTestDb('pg');
    c.a = await startBroker('pg', { issuerUrl: ISSUER }, { db });
    c.b = await startBroker('pg', { issuerUrl: ISSUER }, { db });
    c.a.broker.onCredentialRefusal((r) => c.refusals.a.push(r));
    c.b.broker.onCredentialRefusal((r) => c.refusals.b.push(r));
    gha = await createWorkloadIssuer();
    const r = await c.a.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(GW)] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await c.a?.stop();
    await c.b?.stop();
    await db?.drop();
  });
  return c;
}
