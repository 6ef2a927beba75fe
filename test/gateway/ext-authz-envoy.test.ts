import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const GW = 'http://envoy.test';
const PDP_TOKEN = 'pdp-token-0123456789abcdef';

/** Envoy's HTTP ext_authz: the original request is this request, its path appended to the route. */
describe('ext-authz, Envoy style, with TETHER_PDP_TOKEN', () => {
  let b: RunningBroker;
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;

  before(async () => {
    b = await startBroker('pglite', { pdpToken: PDP_TOKEN });
    const gha = await createWorkloadIssuer();
    key = await createDpopKey();
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(GW)] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const t = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
    token = t.body.access_token!;
  });
  after(async () => {
    await b.stop();
  });

  const check = async (method: string, path: string, headers: Record<string, string> = {}, proofPath = path) =>
    fetch(`${b.url}/ext-authz/orders${path}`, {
      method,
      headers: { 'x-tether-pdp-token': PDP_TOKEN, authorization: `DPoP ${token}`, dpop: await key.proof(method, `${GW}${proofPath}`, { accessToken: token }), ...headers },
    });

  test('allow answers 200 with the identity and task for the upstream', async () => {
    const r = await check('GET', '/orders/5');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-tether-identity'), 'ci/acme/api');
    assert.ok(r.headers.get('x-tether-task'));
  });

  test('smuggled X-Original-* headers cannot change what Envoy asks about', async () => {
    const r = await check('GET', '/orders/secret', { 'x-original-uri': '/orders/5', 'x-original-method': 'GET' });
    assert.equal(r.status, 403);
    const r2 = await check('DELETE', '/orders/5', { 'x-forwarded-method': 'GET' });
    assert.equal(r2.status, 403);
  });

  test('the gateway must present the PDP token; answers are only ever 200, 401 or 403', async () => {
    const no = await check('GET', '/orders/5', { 'x-tether-pdp-token': 'wrong' });
    assert.equal(no.status, 403);
    const odd = [
      await check('GET', '/orders/5', { 'content-type': 'application/json' }),
      await fetch(`${b.url}/ext-authz/nope/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN } }),
      await fetch(`${b.url}/ext-authz/orders/orders/5`, { method: 'POST', headers: { 'x-tether-pdp-token': PDP_TOKEN, 'content-type': 'application/json' }, body: '{"a":' }),
      await fetch(`${b.url}/ext-authz/orders/orders/%E0%A4%A`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, authorization: `DPoP ${token}` } }),
      await fetch(`${b.url}/ext-authz/orders/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, authorization: 'DPoP ' + 'x'.repeat(12000) } }),
    ];
    for (const r of odd) assert.ok([200, 401, 403].includes(r.status), String(r.status));
    const unauth = await fetch(`${b.url}/ext-authz/orders/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN } });
    assert.equal(unauth.status, 401);
    assert.match(unauth.headers.get('www-authenticate') ?? '', /^DPoP /);
  });
});
