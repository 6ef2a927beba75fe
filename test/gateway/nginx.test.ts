import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { freePort, startNginx } from '../helpers/nginx.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const PDP_TOKEN = 'pdp-token-nginx-0123456789abcdef';

describe('gateway enforcement through a real nginx (auth_request → /ext-authz)', () => {
  let b: RunningBroker;
  let upstream: Server;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let gw: string;
  const seen: Array<{ url: string; identity: string | undefined; task: string | undefined; auth: string | undefined }> = [];
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;
  let issue: () => Promise<void>;

  before(async () => {
    b = await startBroker('pglite', { pdpToken: PDP_TOKEN });
    const gha = await createWorkloadIssuer();
    key = await createDpopKey();
    upstream = createServer((req, res) => {
      seen.push({ url: req.url!, identity: req.headers['x-tether-identity'] as string, task: req.headers['x-tether-task'] as string, auth: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, url: req.url }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const up = (upstream.address() as { port: number }).port;
    const port = await freePort();
    gw = `http://127.0.0.1:${port}`;
    const r = await b.admin('POST', '/admin/v1/apply', {
      identities: EXCHANGE_IDENTITIES,
      issuers: [gha.config()],
      policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES },
      routes: [ordersRoute(gw, 'nginx')],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    nginx = await startNginx({ port, upstream: `127.0.0.1:${up}`, tether: new URL(b.url).host, route: 'orders', pdpToken: PDP_TOKEN });
    issue = async () => {
      const r = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token(), scope: 'orders:read orders:list', audience: ORDERS_AUD });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      token = r.body.access_token!;
    };
    await issue();
  });
  after(async () => {
    await nginx?.stop();
    await new Promise((r) => upstream?.close(r));
    await b.stop();
  });

  const call = async (method: string, path: string, o: { proof?: string | null; auth?: string | null } = {}) => {
    const headers: Record<string, string> = {};
    if (o.auth !== null) headers.authorization = o.auth ?? `DPoP ${token}`;
    if (o.proof !== null) headers.dpop = o.proof ?? (await key.proof(method, `${gw}${path.split('?')[0]}`, { accessToken: token }));
    return fetch(`${gw}${path}`, { method, headers });
  };

  test('a DPoP-bound token for the route audience reaches the upstream, which learns identity and task', async () => {
    const res = await call('GET', '/orders/42?expand=items');
    assert.equal(res.status, 200, nginx.errors());
    const last = seen.at(-1)!;
    assert.equal(last.url, '/orders/42?expand=items');
    assert.equal(last.identity, 'ci/acme/api');
    assert.ok(last.task);
    assert.equal(last.auth, undefined, 'the credential is not forwarded upstream');
  });

  test('no token → 401 with a DPoP challenge', async () => {
    const before = seen.length;
    const res = await call('GET', '/orders/42', { auth: null, proof: null });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^DPoP /);
    assert.equal(seen.length, before);
  });

  test('a replayed proof → 401; a proof for another URL → 401; a token without its proof → 401', async () => {
    const proof = await key.proof('GET', `${gw}/orders/7`, { accessToken: token });
    assert.equal((await call('GET', '/orders/7', { proof })).status, 200);
    assert.equal((await call('GET', '/orders/7', { proof })).status, 401);
    assert.equal((await call('GET', '/orders/7', { proof: await key.proof('GET', `${gw}/orders/8`, { accessToken: token }) })).status, 401);
    assert.equal((await call('GET', '/orders/7', { proof: null })).status, 401);
    assert.equal((await call('GET', '/orders/7', { auth: `Bearer ${token}` })).status, 401);
  });

  test('an action the policy denies → 403; an action outside the token scopes → 403; no matching rule → 403', async () => {
    assert.equal((await call('GET', '/orders/secret')).status, 403);
    assert.equal((await call('DELETE', '/orders/42')).status, 403);
    assert.equal((await call('POST', '/orders/42')).status, 403);
    assert.equal((await call('GET', '/orders')).status, 200);
  });

  test('a copied token presented with another DPoP key → 401, and detection revokes its grant', async () => {
    assert.equal((await call('GET', '/orders/9')).status, 200);
    const thief = await createDpopKey();
    const t0 = performance.now();
    assert.equal((await call('GET', '/orders/9', { proof: await thief.proof('GET', `${gw}/orders/9`, { accessToken: token }) })).status, 401);
    // The default response to a replay revokes that grant and its tokens: the holder is cut off too.
    let status = 200;
    while (status === 200 && performance.now() - t0 < 1000) status = (await call('GET', '/orders/9')).status;
    assert.equal(status, 401, 'the replayed grant was not revoked within 1 s');
    // The open critical finding holds the identity's risk at 80+, which the policies refuse, until an
    // operator resolves it; then a new task gets a new grant.
    const open = await b.admin('GET', '/admin/v1/findings?identity=ci%2Facme%2Fapi&status=open');
    assert.ok(open.body.findings.some((f: { rule: string }) => f.rule === 'replay'), JSON.stringify(open.body));
    for (const f of open.body.findings) assert.equal((await b.admin('POST', `/admin/v1/findings/${f.id}/resolve`, { reason: 'test: thief was us' })).status, 200);
    await issue();
  });

  test('after an admin revocation of the identity → refused', async () => {
    assert.equal((await call('GET', '/orders/1')).status, 200);
    const r = await b.admin('POST', '/admin/v1/revocations', { kind: 'identity', value: 'ci/acme/api', reason: 'compromised runner' });
    assert.equal(r.status, 201);
    assert.equal((await call('GET', '/orders/1')).status, 401);
    const audit = await b.admin('GET', '/admin/v1/audit?type=decision&limit=1000');
    const decisions = audit.body.events.map((e: { data: { decision: string } }) => e.data.decision);
    assert.ok(decisions.includes('allow') && decisions.includes('deny'));
    assert.ok(!nginx.errors().includes('[error]'), nginx.errors());
  });
});
