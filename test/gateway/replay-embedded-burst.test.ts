/**
 * The embedded store (PGlite) starts an audit group commit after the I/O phase that read its
 * requests: a burst of checks carrying one proof, read together with fresh ones, allows the proof
 * once (RFC 9449 §11.1) and every fresh one, records no allow for a refused copy, and the chain
 * verifies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const GW = 'http://envoy.burst.test';
const ISSUER = 'http://tether.burst.test';

describe('ext-authz on the embedded store: a proof burst inside group commits', () => {
  let a: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  before(async () => {
    a = await startBroker('pglite', { issuerUrl: ISSUER });
    gha = await createWorkloadIssuer();
    const r = await a.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(GW)] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await a?.stop();
  });

  test('one proof sent 20 times among 20 fresh ones: 21 allowed, 19 refused 401', async () => {
    const key = await createDpopKey();
    const t = await exchangeForToken({ endpointBase: a.url, htuBase: ISSUER, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const token = t.body.access_token!;
    const check = (path: string, proof: string) => fetch(`${a.url}/ext-authz/orders${path}`, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    const copy = await key.proof('GET', `${GW}/orders/900`, { accessToken: token });
    const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) => key.proof('GET', `${GW}/orders/91${i}`, { accessToken: token })));
    const res = await Promise.all(fresh.flatMap((p, i) => [check(`/orders/91${i}`, p), check('/orders/900', copy)]));
    const fromCopy = res.filter((_, i) => i % 2 === 1).map((r) => r.status);
    const fromFresh = res.filter((_, i) => i % 2 === 0).map((r) => r.status);
    assert.deepEqual(fromFresh, Array(20).fill(200));
    assert.deepEqual([...fromCopy].sort(), [...Array(19).fill(401), 200].sort());
    const ds = ((await a.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events as Array<{ data: Record<string, unknown> }>).filter((e) => e.data.path === '/orders/900');
    assert.equal(ds.filter((d) => d.data.decision === 'allow').length, 1);
    assert.equal(ds.filter((d) => d.data.refusal === 'dpop_proof_replayed').length, 19);
    const v = await a.admin('GET', '/admin/v1/audit/verify');
    assert.equal(v.body.ok, true, JSON.stringify(v.body));
  });
});
