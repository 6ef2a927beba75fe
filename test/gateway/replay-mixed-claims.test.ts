/**
 * Two brokers on one PostgreSQL database, ext-authz (Envoy shape), attacking the deferred proof claim
 * (RFC 9449 §11.1, made in the decision record's statement): the same proof keys (jkt, jti) claimed
 * by matching checks on one instance (deferred, in the audit group commit) and by non-matching ones
 * on the other (claimed at once by the replay guard) are each used once, with no 5xx; odd resource
 * ids (NUL, C1, noncharacters, undecodable, long) sharing group commits with claiming checks fail
 * none of them, and the chain verifies. KEYS and ROUNDS widen the race.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CredentialRefusal } from '../../src/routes/credential-refusal.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { createTestDb, type TestDb } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const GW = 'http://envoy.replay.test';
const ISSUER = 'http://tether.replay.test';

type Decision = { seq: number; identity: string | null; data: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('ext-authz attacks on the deferred proof claim (two instances, PostgreSQL)', () => {
  let db: TestDb;
  let a: RunningBroker;
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  const refusals: Record<'a' | 'b', CredentialRefusal[]> = { a: [], b: [] };

  before(async () => {
    db = await createTestDb('pg');
    a = await startBroker('pg', { issuerUrl: ISSUER }, { db });
    b = await startBroker('pg', { issuerUrl: ISSUER }, { db });
    a.broker.onCredentialRefusal((r) => refusals.a.push(r));
    b.broker.onCredentialRefusal((r) => refusals.b.push(r));
    gha = await createWorkloadIssuer();
    const r = await a.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(GW)] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  /** A fresh DPoP-bound token and its key; waits until both instances have the applied config. */
  const issue = async () => {
    const key = await createDpopKey();
    const t = await exchangeForToken({ endpointBase: a.url, htuBase: ISSUER, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const token = t.body.access_token!;
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`${b.url}/ext-authz/orders/orders/0`, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', `${GW}/orders/0`, { accessToken: token }) } });
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    return { key, token };
  };
  const check = (on: RunningBroker, token: string, path: string, proof: string) => fetch(`${on.url}/ext-authz/orders${path}`, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
  const decisionsAt = async (path: string): Promise<Decision[]> =>
    ((await a.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events as Decision[]).filter((e) => e.data.entry === 'ext-authz' && e.data.path === path);
  const allows = (ds: Decision[]) => ds.filter((d) => d.data.decision === 'allow');
  const replays = (ds: Decision[]) => ds.filter((d) => d.data.stage === 'credential' && d.data.refusal === 'dpop_proof_replayed');
  const verified = async () => {
    const v = await b.admin('GET', '/admin/v1/audit/verify');
    assert.equal(v.status, 200);
    assert.equal(v.body.ok, true, JSON.stringify(v.body));
  };

  test('attack: deferred claims (matching route) racing immediate claims (non-matching route) of the same keys on the other instance: no 5xx, each key once', async () => {
    const { key, token } = await issue();
    const bad: string[] = [];
    for (let round = 0; round < Number(process.env.ROUNDS ?? 15); round++) {
      const N = Number(process.env.KEYS ?? 30);
      const jtis = Array.from({ length: N }, (_, i) => `r${round}-${String(i).padStart(3, '0')}`);
      const good = await Promise.all(jtis.map((jti, i) => key.proof('GET', `${GW}/orders/7${round}${i}`, { accessToken: token, jti })));
      const miss = await Promise.all(jtis.map((jti, i) => key.proof('POST', `${GW}/nomatch/${round}${i}`, { accessToken: token, jti })));
      const res = await Promise.all([
        ...good.map((p, i) => check(a, token, `/orders/7${round}${i}`, p)),
        ...[...miss.entries()].reverse().map(([i, p]) => fetch(`${b.url}/ext-authz/orders/nomatch/${round}${i}`, { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: p } })),
      ]);
      for (const r of res) if (r.status >= 500) bad.push(`${r.status} ${await r.text()}`);
      const ok = res.slice(0, N).filter((r) => r.status === 200).length;
      const other = res.slice(N).filter((r) => r.status === 403).length;
      assert.ok(ok + other <= N, `round ${round}: ${ok} allowed + ${other} route-refused for ${N} keys`);
    }
    assert.deepEqual(bad, []);
    await verified();
  });

  test('attack: odd resource ids (NUL, C1, long) in one group commit with valid claiming checks: no 5xx, chain verifies', async () => {
    const { key, token } = await issue();
    const odd = ['/orders/%00', '/orders/a%00b', '/orders/%C2%85', '/orders/%EF%BF%BF', '/orders/%F0%9F', '/orders/' + 'x'.repeat(4000), '/orders/%E2%80%AE', '/orders/..%2F..%2Fadmin'];
    for (let round = 0; round < 3; round++) {
      const valid = Array.from({ length: 10 }, (_, i) => `/orders/8${round}${i}`);
      const paths = [...valid.slice(0, 5), ...odd, ...valid.slice(5)];
      const proofs = await Promise.all(paths.map((p) => key.proof('GET', `${GW}${p}`, { accessToken: token })));
      const res = await Promise.all(paths.map((p, i) => check(round % 2 ? a : b, token, p, proofs[i]!)));
      const st = await Promise.all(res.map(async (r, i) => `${paths[i]!.slice(0, 30)} ${r.status} ${r.status >= 500 ? await r.text() : ''}`));
      assert.ok(res.every((r, i) => (valid.includes(paths[i]!) ? r.status === 200 : r.status < 500)), st.join('\n'));
    }
    await verified();
  });
});
