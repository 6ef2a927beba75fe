/**
 * The gateway trust boundary through a real nginx running examples/nginx/nginx.conf as shipped:
 * what a client sends in headers never names the request, ambiguous targets never reach route
 * matching, and a token that did not verify names nobody.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../helpers/broker.js';
import type { createDpopKey } from '../helpers/dpop.js';
import { auditedDecisions, ordersRoute, startGatewayBroker } from '../helpers/gateway-fixture.js';
import { freePort, startNginx } from '../helpers/nginx.js';
import { rawRequest } from '../helpers/raw-http.js';

const PDP_TOKEN = 'pdp-token-nginx-0123456789abcdef';

describe('gateway trust boundary through nginx with the shipped config', () => {
  let b: RunningBroker;
  let upstream: Server;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let gw: string;
  const seen: string[] = [];
  const overrides: Array<string | undefined> = [];
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      overrides.push(['x-http-method-override', 'x-method-override', 'x-http-method', 'x-original-url', 'x-rewrite-url'].map((h) => req.headers[h]).find((v) => v !== undefined) as string | undefined);
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = await freePort();
    gw = `http://127.0.0.1:${port}`;
    ({ b, key, token } = await startGatewayBroker([ordersRoute(gw, 'nginx')], { pdpToken: PDP_TOKEN, scope: 'orders:read orders:list' }));
    nginx = await startNginx({ port, upstream: `127.0.0.1:${(upstream.address() as { port: number }).port}`, tether: new URL(b.url).host, route: 'orders', pdpToken: PDP_TOKEN });
  });
  after(async () => {
    await nginx?.stop();
    await new Promise((r) => upstream?.close(r));
    await b?.stop();
  });

  const proofFor = (method: string, path: string, accessToken = token) => key.proof(method, `${gw}${path}`, { accessToken });
  const send = async (method: string, target: string, headers: Record<string, string> = {}) => (await rawRequest(gw, method, target, headers)).status;
  const decisions = () => auditedDecisions(b);

  test('a refused token that did not verify is anonymous: no identity in the audit or for detection', async () => {
    const refusals: Array<{ identity?: string; code: string }> = [];
    b.broker.onCredentialRefusal((r) => refusals.push(r));
    const [h, p] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'ci/victim\u0000x', jti: 'forged-jti' })).toString('base64url')}.AAAA`;
    for (let i = 0; i < 3; i++) {
      assert.equal(await send('GET', '/orders/1', { authorization: `DPoP ${forged}`, dpop: await proofFor('GET', '/orders/1', forged) }), 401);
    }
    await new Promise((r) => setImmediate(r));
    assert.equal(refusals.length, 3);
    for (const r of refusals) {
      assert.equal(r.identity, undefined);
      assert.equal(r.code, 'token_invalid');
    }
    const mine = (await decisions()).filter((e) => e.data.unverified?.jti === 'forged-jti');
    assert.equal(mine.length, 3);
    for (const e of mine) {
      assert.equal(e.identity, null, 'the identity column names nobody');
      assert.equal(e.data.unverified.sub, 'ci/victim?x', 'kept as unverified data, printable only');
      assert.equal(e.data.jti, null);
    }
    const victim = await b.admin('GET', '/admin/v1/findings?identity=ci%2Fvictim');
    assert.deepEqual(victim.body.findings ?? [], []);
  });

  test('ambiguous request targets are refused with 403 before route matching (the upstream never runs)', async () => {
    const before = seen.length;
    const auth = async () => ({ authorization: `DPoP ${token}`, dpop: await proofFor('GET', '/orders/x') });
    const refused = ['/orders/secret;v=1', '/orders/secret%3Bv=1', '/orders/a%2Fb', '/orders/a%5Cb', '/orders/x/..%2Fsecret', '/orders/%2e%2e/orders/secret', '/orders/%2E', '/orders/%252F', '/orders//secret', '/orders/%C0%AF'];
    for (const target of refused) assert.equal(await send('GET', target, await auth()), 403, target);
    // nginx itself refuses some shapes (400): a NUL, a broken escape, a dot segment above the root. Never the upstream.
    for (const target of ['/orders/secret#x', '/orders/x%00', '/orders/x%ZZ', '/../orders/secret', '/orders/../orders/secret']) {
      const status = await send('GET', target, await auth());
      assert.ok(status === 400 || status === 403, `${target}: ${status}`);
    }
    assert.equal(seen.length, before, 'the upstream never ran');
    const refusals = new Set((await decisions()).map((e) => e.data.refusal).filter(Boolean));
    for (const r of ['path_parameter', 'encoded_separator', 'dot_segment', 'double_encoding', 'empty_segment', 'bad_percent_encoding']) assert.ok(refusals.has(r), `${r} recorded: ${[...refusals].join(', ')}`);
    // What every server reads alike is normalised before matching: %73ecret is secret (forbidden), %34%32 is 42.
    assert.equal(await send('GET', '/orders/%73ecret', { authorization: `DPoP ${token}`, dpop: await proofFor('GET', '/orders/secret') }), 403);
    assert.equal(await send('GET', '/orders/%34%32', { authorization: `DPoP ${token}`, dpop: await proofFor('GET', '/orders/42') }), 200);
    assert.equal(seen.at(-1), 'GET /orders/%34%32');
  });

  test('header smuggling: X-Forwarded-* and X-Original-* from the client never name the request; the upstream never runs', async () => {
    // The token allows GET /orders/1. The client sends DELETE /orders/42 and claims, in headers nginx
    // passes into the auth subrequest, that it is that GET, with a valid proof for the GET.
    const before = seen.length;
    const smuggled = {
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/orders/1',
      'x-original-method': 'GET',
      'x-original-uri': '/orders/1',
      'x-forwarded-host': 'evil.test',
      'x-forwarded-proto': 'https',
      'x-real-ip': '10.6.6.6',
      'x-forwarded-for': '10.6.6.6',
      'x-tether-pdp-token': 'not-the-token',
    };
    assert.equal(await send('DELETE', '/orders/42', { authorization: `DPoP ${token}`, dpop: await proofFor('GET', '/orders/1'), ...smuggled }), 401, 'the proof is for GET /orders/1, the request is DELETE /orders/42');
    assert.equal(seen.length, before, 'the upstream never ran');
    // With a proof for the real request, Tether decides about the real request: outside the token's scopes.
    assert.equal(await send('DELETE', '/orders/42', { authorization: `DPoP ${token}`, dpop: await proofFor('DELETE', '/orders/42'), ...smuggled }), 403);
    assert.equal(seen.length, before, 'the upstream never ran');
    const all = await decisions();
    const last = all.filter((e) => e.data.entry === 'ext-authz').slice(-2);
    assert.equal(last.length, 2);
    for (const e of last) {
      const req = e.data.request ?? e.data;
      assert.equal(e.data.decision, 'deny');
      assert.equal(req.method, 'DELETE', JSON.stringify(e.data));
      assert.equal(req.path, '/orders/42', JSON.stringify(e.data));
      assert.equal(req.source_ip, '127.0.0.1', 'the address nginx saw, not X-Real-IP from the client');
    }
    assert.ok(!all.some((e) => e.data.decision === 'allow' && (e.data.request ?? e.data).path === '/orders/1'), 'no allow of the smuggled GET is recorded');
    // And the real GET still works through the same gateway.
    assert.equal(await send('GET', '/orders/1', { authorization: `DPoP ${token}`, dpop: await proofFor('GET', '/orders/1'), ...smuggled }), 200);
    assert.equal(seen.at(-1), 'GET /orders/1');
  });

  test('method overrides: the upstream never sees an override header, and a _method query is refused', async () => {
    const overriding = { 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE', 'x-http-method': 'DELETE', 'x-original-url': '/orders/42', 'x-rewrite-url': '/orders/42' };
    assert.equal(await send('GET', '/orders/1', { authorization: `DPoP ${token}`, dpop: await proofFor('GET', '/orders/1'), ...overriding }), 200);
    assert.equal(seen.at(-1), 'GET /orders/1');
    assert.equal(overrides.at(-1), undefined, 'no override header reached the upstream');
    const before = seen.length;
    assert.equal(await send('GET', '/orders/1?_method=DELETE', { authorization: `DPoP ${token}`, dpop: await proofFor('GET', '/orders/1') }), 403);
    assert.equal(seen.length, before, 'the upstream never ran');
    assert.equal((await decisions()).at(-1)!.data.refusal, 'method_override');
  });
});
