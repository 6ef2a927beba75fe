import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../helpers/broker.js';
import { createDpopKey } from '../helpers/dpop.js';
import { auditedDecisions, CLIENT_ADDRESS_HEADER, ordersRoute, startGatewayBroker } from '../helpers/gateway-fixture.js';
import { rawRequest } from '../helpers/raw-http.js';

const GW = 'http://envoy.test';
const PDP_TOKEN = 'pdp-token-0123456789abcdef';

/** Envoy's HTTP ext_authz: the original request is this request, its path appended to the route. */
describe('ext-authz, Envoy style, with TETHER_PDP_TOKEN', () => {
  let b: RunningBroker;
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;

  before(async () => {
    ({ b, key, token } = await startGatewayBroker([ordersRoute(GW, 'envoy', { clientAddress: true }), { ...ordersRoute(GW, 'nginx'), name: 'orders-nginx' }], { pdpToken: PDP_TOKEN }));
  });
  after(async () => {
    await b.stop();
  });

  const check = async (method: string, path: string, headers: Record<string, string> = {}, proofPath = path) =>
    fetch(`${b.url}/ext-authz/orders${path}`, {
      method,
      // Envoy sets the client address header itself (headers_to_add): every check carries it.
      headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1', authorization: `DPoP ${token}`, dpop: await key.proof(method, `${GW}${proofPath}`, { accessToken: token }), ...headers },
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
      await fetch(`${b.url}/ext-authz/nope/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1' } }),
      await fetch(`${b.url}/ext-authz/orders/orders/5`, { method: 'POST', headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1', 'content-type': 'application/json' }, body: '{"a":' }),
      await fetch(`${b.url}/ext-authz/orders/orders/%E0%A4%A`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1', authorization: `DPoP ${token}` } }),
      await fetch(`${b.url}/ext-authz/orders/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1', authorization: 'DPoP ' + 'x'.repeat(12000) } }),
    ];
    for (const r of odd) assert.ok([200, 401, 403].includes(r.status), String(r.status));
    const unauth = await fetch(`${b.url}/ext-authz/orders/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1' } });
    assert.equal(unauth.status, 401);
    assert.match(unauth.headers.get('www-authenticate') ?? '', /^DPoP /);
  });

  const decisions = () => auditedDecisions(b);
  const authHeaders = async (method: string, path: string) => ({ 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1', authorization: `DPoP ${token}`, dpop: await key.proof(method, `${GW}${path}`, { accessToken: token }) });

  test('an empty suffix is the path "/", never a fallback to headers', async () => {
    // The proof is for "/": Tether decides about GET / (no rule: 403), not the smuggled /orders/5.
    const r = await fetch(`${b.url}/ext-authz/orders/`, { headers: { ...(await authHeaders('GET', '/')), 'x-original-uri': '/orders/5', 'x-original-method': 'GET', 'x-forwarded-uri': '/orders/5' } });
    assert.equal(r.status, 403);
    const last = (await decisions()).at(-1)!;
    assert.equal(last.data.path, '/');
    assert.equal(last.data.stage, 'route');
    // A proof for the smuggled URL does not match the request Envoy asked about.
    const smuggled = await fetch(`${b.url}/ext-authz/orders/`, { headers: { ...(await authHeaders('GET', '/orders/5')), 'x-original-uri': '/orders/5', 'x-original-method': 'GET' } });
    assert.equal(smuggled.status, 401);
    // No suffix at all is not Envoy's shape: refused.
    assert.equal((await fetch(`${b.url}/ext-authz/orders`, { headers: await authHeaders('GET', '/orders/5') })).status, 403);
  });

  test('the gateway mode is the route\'s: an nginx route ignores an appended path, an Envoy route ignores X-Original-*', async () => {
    const r = await fetch(`${b.url}/ext-authz/orders-nginx/orders/5`, { headers: { ...(await authHeaders('GET', '/orders/5')), 'x-original-method': 'GET', 'x-original-uri': '/orders/5' } });
    assert.equal(r.status, 403);
    assert.match(((await r.json()) as { error_description: string }).error_description, /configured for nginx/);
    // The nginx route answers in nginx's shape.
    const ok = await fetch(`${b.url}/ext-authz/orders-nginx`, { headers: { ...(await authHeaders('GET', '/orders/5')), 'x-original-method': 'GET', 'x-original-uri': '/orders/5' } });
    assert.equal(ok.status, 200);
  });

  test('the client address is the header the route names (Envoy sets it), never X-Forwarded-For; else the peer', async () => {
    const sourceOfLast = async () => {
      const last = (await decisions()).at(-1)!;
      return last.data.request?.source_ip ?? last.data.source_ip;
    };
    assert.equal((await check('GET', '/orders/6', { [CLIENT_ADDRESS_HEADER]: '192.0.2.7', 'x-forwarded-for': '10.1.1.1, 10.2.2.2', 'x-real-ip': '10.6.6.6' })).status, 200);
    assert.equal(await sourceOfLast(), '192.0.2.7');
    // The route says Envoy sends it: a check without it (or with garbage) is a misconfigured gateway.
    for (const h of [{ [CLIENT_ADDRESS_HEADER]: '' }, { [CLIENT_ADDRESS_HEADER]: 'not-an-address', 'x-forwarded-for': '10.1.1.1' }] as Array<Record<string, string>>) {
      const r = await check('GET', '/orders/6', h);
      assert.equal(r.status, 403);
      assert.match(((await r.json()) as { error_description: string }).error_description, /client address/);
    }
    // A route without client_address_header: the TCP peer, whatever X-Forwarded-For says.
    const peerRoute = { ...ordersRoute(GW), name: 'orders-peer' };
    assert.equal((await b.admin('POST', '/admin/v1/apply', { routes: [peerRoute] })).status, 200);
    const r = await fetch(`${b.url}/ext-authz/orders-peer/orders/6`, {
      headers: { 'x-tether-pdp-token': PDP_TOKEN, authorization: `DPoP ${token}`, dpop: await key.proof('GET', `${GW}/orders/6`, { accessToken: token }), 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(r.status, 200);
    assert.match(String(await sourceOfLast()), /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    // A header any client can set (and Envoy forwards as is) cannot be named as the client address.
    const bad = await b.admin('POST', '/admin/v1/apply', { routes: [{ ...peerRoute, client_address_header: 'x-forwarded-for' }] });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /does not prove the client address/);
  });

  test('ambiguous request targets are refused with 403 before route matching (Envoy shape)', async () => {
    const cases: Array<[string, string | null]> = [
      ['/orders/secret;v=1', 'path_parameter'],
      ['/orders/secret%3bv=1', 'path_parameter'],
      ['/orders/a%2Fb', 'encoded_separator'],
      ['/orders/a%5cb', 'encoded_separator'],
      ['/orders/a\\b', 'encoded_separator'],
      ['/orders/../orders/secret', 'dot_segment'],
      ['/orders/%2e%2e/orders/secret', 'dot_segment'],
      ['/orders/.', 'dot_segment'],
      ['/orders/x%00', 'control_character'],
      ['/orders/x%0a', 'control_character'],
      ['/orders/%252F', 'double_encoding'],
      ['/orders//secret', 'empty_segment'],
      // A broken escape or invalid UTF-8 is refused by the HTTP layer already (403 here, nothing decided;
      // through nginx, where the target travels in a header, Tether refuses it: nginx-trust.test.ts).
      ['/orders/x%ZZ', null],
      ['/orders/%C0%AF', null],
      ['/orders/secret#x', 'fragment'],
      ['/orders/x"y', 'illegal_character'],
    ];
    for (const [path, refusal] of cases) {
      const before = (await decisions()).length;
      const r = await rawRequest(b.url, 'GET', `/ext-authz/orders${path}`, await authHeaders('GET', '/orders/x'));
      assert.equal(r.status, 403, path);
      if (refusal === null) {
        assert.equal((await decisions()).length, before, path);
        continue;
      }
      const last = (await decisions()).at(-1)!;
      assert.equal(last.data.refusal, refusal, `${path}: ${JSON.stringify(last.data)}`);
      assert.equal(last.identity, null);
    }
    // Safe escapes are normalised before matching: %73ecret is the forbidden secret, %34%32 is 42.
    assert.equal((await rawRequest(b.url, 'GET', '/ext-authz/orders/orders/%73ecret', await authHeaders('GET', '/orders/secret'))).status, 403);
    assert.equal((await decisions()).at(-1)!.data.resource?.id ?? (await decisions()).at(-1)!.data.path, 'secret');
    assert.equal((await rawRequest(b.url, 'GET', '/ext-authz/orders/orders/%34%32?x=%2F', await authHeaders('GET', '/orders/42'))).status, 200);
  });

  test('a DPoP jwk that is no usable key is a 401 with an OAuth body, never a 500', async () => {
    const bad = [{ kty: 'foo' }, { kty: 'EC', x: key.jwk.x, y: key.jwk.y }, { kty: 'RSA', e: 'AQAB' }, { kty: 'EC', crv: 'P-256', x: 5 }, { kty: 'OKP', crv: 'Ed25519' }];
    for (const jwk of bad) {
      const dpop = await key.proof('GET', `${GW}/orders/5`, { accessToken: token, headerJwk: jwk as never });
      const r = await fetch(`${b.url}/ext-authz/orders/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1', authorization: `DPoP ${token}`, dpop } });
      assert.equal(r.status, 401, JSON.stringify(jwk));
      const body = (await r.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_dpop_proof');
      assert.doesNotMatch(body.error_description, /at |Error/);
    }
  });

  test('a refusal because this instance may be stale is 403, audited as fail-closed, and not fed to detection', async () => {
    const refusals: unknown[] = [];
    b.broker.onCredentialRefusal((r) => refusals.push(r));
    const changes = b.broker.changes as { current(): boolean };
    const real = changes.current;
    changes.current = () => false;
    try {
      const r = await check('GET', '/orders/5');
      assert.equal(r.status, 403);
      assert.equal(((await r.json()) as { error: string }).error, 'unavailable');
    } finally {
      changes.current = real;
    }
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(refusals, []);
    const last = (await decisions()).at(-1)!;
    assert.equal(last.data.refusal, 'state_may_be_stale');
    assert.equal(last.data.fail_closed, true);
    assert.equal((await check('GET', '/orders/5')).status, 200);
  });
});
