import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster } from '../helpers/cluster.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

/** Polls `probe` (every 10 ms, up to 2 s) until it returns true. */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > 2000) assert.fail(`${what}: not within 2 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('two tether serve processes on one PostgreSQL database: issuer revocation and suspension', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;

  before(async () => {
    cluster = await startCluster(2);
    gha = await createWorkloadIssuer();
    const r = await cluster.admin(0, 'POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: EXCHANGE_POLICIES });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await cluster?.stop();
  });

  const exchange = async (node: number) =>
    exchangeForToken({ endpointBase: cluster.nodes[node]!.url, htuBase: cluster.issuerUrl, key: await createDpopKey(), subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
  const nextSecond = () => new Promise((r) => setTimeout(r, 1001 - (Date.now() % 1000)));

  test('an issuer revoked on node 0 is refused by node 1 until restored on node 1, then by neither', async () => {
    let token = '';
    await eventually('node 1 issues', async () => {
      const r = await exchange(1);
      token = r.body.access_token ?? '';
      return r.status === 200;
    });
    const rv = await cluster.admin(0, 'POST', '/admin/v1/revocations', { kind: 'issuer', value: 'github', reason: 'issuer compromised' });
    assert.equal(rv.status, 201, JSON.stringify(rv.body));
    await eventually('node 1 refuses the revoked issuer', async () => {
      const r = await exchange(1);
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `status ${r.status}`);
      return r.status === 400 && r.body.error === 'invalid_grant';
    });
    assert.equal(await cluster.introspect(1, token), false, 'node 1 refuses tokens issued through the revoked issuer');
    // Stopped, not a moment: both nodes keep refusing.
    for (let i = 0; i < 5; i++) {
      for (const n of [0, 1]) {
        const r = await exchange(n);
        assert.equal(r.status, 400, `node ${n}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'invalid_grant');
      }
    }
    const restored = await cluster.admin(1, 'POST', '/admin/v1/issuers/github/restore', { reason: 'rotated' });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    await nextSecond();
    await eventually('node 0 issues again', async () => (await exchange(0)).status === 200);
    assert.equal((await exchange(1)).status, 200);
  });

  test('an identity suspended on node 1 has its tokens refused on node 0', async () => {
    const r = await exchange(0);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const t = r.body.access_token!;
    assert.equal(await cluster.introspect(0, t), true);
    const p = await cluster.admin(1, 'PATCH', `/admin/v1/identities/${encodeURIComponent('ci/acme/api')}`, { status: 'suspended' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    await eventually('node 0 refuses the suspended identity\'s token', async () => !(await cluster.introspect(0, t)));
    const again = await exchange(0);
    assert.equal(again.status, 400);
    assert.match(again.body.error_description!, /suspended/);
  });
});
