/**
 * Envoy's check request carries the client's own method. Fastify routes only the methods it knows,
 * so a WebDAV method (PROPFIND, LOCK, PURGE, …) ended in a plain 404 that no route rule saw and no
 * audit record kept, which Envoy hands to the client as is; the gateway contract is 200, 401 or 403.
 * Every method Node parses now reaches the route's rules, and an unknown /ext-authz path is a 403.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../helpers/broker.js';
import type { createDpopKey } from '../helpers/dpop.js';
import { auditedDecisions, ordersRoute, startGatewayBroker } from '../helpers/gateway-fixture.js';
import { rawRequest } from '../helpers/raw-http.js';

const GW = 'http://gw.example.test';

describe('ext-authz answers every method a client can send with 200, 401 or 403', () => {
  let b: RunningBroker;
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;

  before(async () => {
    const route = ordersRoute(GW, 'envoy');
    // A rule for any method: WebDAV clients on a file share.
    route.rules.push({ method: '*', path: '/dav/:id', action: 'orders:read', resource: { type: 'Order', id: ':id' } });
    ({ b, key, token } = await startGatewayBroker([route]));
  });
  after(async () => {
    await b?.stop();
  });

  const check = async (method: string, path: string, withToken = true) =>
    rawRequest(b.url, method, `/ext-authz/orders${path}`, withToken ? { authorization: `DPoP ${token}`, dpop: await key.proof(method, `${GW}${path}`, { accessToken: token }) } : {});

  test('a method no rule names is a 403, decided and audited like any other', async () => {
    for (const method of ['PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH', 'M-SEARCH']) {
      const r = await check(method, '/orders/1');
      assert.equal(r.status, 403, method);
      const last = (await auditedDecisions(b)).at(-1)!;
      assert.equal(last.data.method, method);
      assert.equal(last.data.decision, 'deny');
      assert.equal(last.data.reason, 'no route rule matches');
    }
    // Without a credential: 401, as for GET.
    assert.equal((await check('PROPFIND', '/orders/1', false)).status, 401);
  });

  test('a rule for any method (*) decides those methods too', async () => {
    for (const method of ['PROPFIND', 'LOCK', 'GET']) assert.equal((await check(method, '/dav/7')).status, 200, method);
    assert.equal((await check('PROPFIND', '/dav/secret')).status, 403, 'the forbid on Order::"secret" holds');
  });

  test('an unknown path under /ext-authz is a JSON 403; elsewhere an unknown path is still a 404', async () => {
    for (const [method, path] of [['GET', '/ext-authz'], ['PROPFIND', '/ext-authz'], ['POST', '/ext-authz/']] as const) {
      const res = await fetch(`${b.url}${path}`, { method });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(((await res.json()) as { error: string }).error, /^(not_found|access_denied)$/);
    }
    for (const path of ['/nope', '/oauth/nope', '/admin/v1/nope']) {
      const res = await fetch(`${b.url}${path}`, { headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' } });
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: string }).error, 'not_found');
    }
    assert.equal((await rawRequest(b.url, 'PROPFIND', '/healthz', {})).status, 404);
  });
});
