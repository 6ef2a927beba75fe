/**
 * Two `tether serve` processes on one PostgreSQL database, each judging the cluster's activity (the
 * detectors share token places, denies and request counts over the change feed):
 *   - a CI job behind a NAT with two addresses, calling both instances: no finding, no harm;
 *   - its token and key copied and used on the other instance from an address in the job's own /24:
 *     a source_changed replay, the token dead on both instances within a second;
 *   - denied probes spread over both instances, each half under the threshold: enumeration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster } from '../helpers/cluster.js';
import { createDpopKey } from '../helpers/dpop.js';
import { CLIENT_ADDRESS_HEADER, ordersRoute } from '../helpers/gateway-fixture.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, ORDERS_AUD } from '../helpers/workload-issuer.js';
import { clusterExchange } from './fixture.js';

const GATEWAY = 'http://gateway.cluster-sources.test';
const ID = 'ci/acme/api';
const NAT = ['198.51.100.10', '198.51.100.11'];
const POLICIES = {
  'orders.cedar': `permit (principal == Identity::"${ID}", action in [Action::"orders:read", Action::"orders:list"], resource);`,
};
const HOUR = 3_600_000;
type Key = Awaited<ReturnType<typeof createDpopKey>>;

/** Eight days of the job: exchanges (the test's socket address) and calls from its NAT pool and pods. */
function history(now: number) {
  const events: Record<string, unknown>[] = [];
  for (let h = 8 * 24; h > 0; h--) {
    const at = now - h * HOUR;
    const jti = `hist-${h}`;
    const common = { identity: ID, identityKind: 'ci_job', jti, grantId: `hg-${h}`, environment: 'prod' };
    events.push({ ...common, kind: 'issue', at, allowed: true, action: 'orders:read', resource: ORDERS_AUD, sourceIp: '127.0.0.1' });
    events.push({ ...common, kind: 'request', at: at + 1000, allowed: true, action: 'orders:read', resource: `Order::${h % 5}`, sourceIp: NAT[h % 2] });
    events.push({ ...common, kind: 'request', at: at + 2000, allowed: true, action: 'orders:read', resource: `Order::${h % 5}`, sourceIp: `10.8.3.${10 + (h % 4)}` });
  }
  return events;
}

describe('cluster-wide activity (2 nodes, PostgreSQL)', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;

  before(async () => {
    cluster = await startCluster(2);
    gha = await createWorkloadIssuer();
    const r = await cluster.admin(0, 'POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: POLICIES, routes: [ordersRoute(GATEWAY, 'envoy', { clientAddress: true })] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const events = history(Date.now());
    for (const n of [0, 1]) assert.equal((await cluster.admin(n, 'POST', '/admin/v1/detection/learn', { events })).status, 200);
  });
  after(async () => {
    await cluster?.stop();
  });

  const issue = (node: number, key: Key, purpose: string) => clusterExchange(cluster.nodes[node]!.url, cluster.issuerUrl, gha, key, purpose);

  const call = async (node: number, token: string, key: Key, path: string, ip: string): Promise<number> => {
    const res = await fetch(`${cluster.nodes[node]!.url}/ext-authz/orders${path}`, {
      headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', GATEWAY + path, { accessToken: token }), [CLIENT_ADDRESS_HEADER]: ip },
    });
    await res.arrayBuffer();
    return res.status;
  };
  const findings = async (q = '') => (await cluster.admin(1, 'GET', `/admin/v1/findings?identity=${encodeURIComponent(ID)}&limit=100${q}`)).body.findings as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

  // First: enumeration counts denies relative to the identity's volume in the last minute.
  test('probing spread over both instances, under the threshold on each, is enumeration', async () => {
    const key = await createDpopKey();
    const token = await issue(1, key, 'prober');
    // Twelve policy denies within a minute, six per instance (the threshold is ten); all by this one
    // token, so once the burst is seen the token is contained (401 from then on).
    let cut = false;
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${cluster.nodes[i % 2]!.url}/ext-authz/orders/orders/p${i}`, {
        method: 'DELETE',
        headers: { authorization: `DPoP ${token}`, dpop: await key.proof('DELETE', `${GATEWAY}/orders/p${i}`, { accessToken: token }), [CLIENT_ADDRESS_HEADER]: NAT[0]! },
      });
      await res.arrayBuffer();
      if (res.status === 401 && i >= 9) cut = true;
      else assert.equal(res.status, cut ? 401 : 403, `probe ${i}`);
      await new Promise((r) => setTimeout(r, 60)); // the other instance's denies arrive in between
    }
    const deadline = Date.now() + 5000;
    let en: Record<string, unknown> | undefined;
    while (!en && Date.now() < deadline) {
      en = (await findings('&rule=enumeration'))[0];
      if (!en) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(en, 'enumeration raised from the cluster\'s denies');
    assert.equal(en.response, 'revoke_grant', 'every deny by one token: that token is contained');
    for (;;) {
      if (!(await cluster.introspect(0, token)) && !(await cluster.introspect(1, token))) break;
      assert.ok(Date.now() < deadline + 2000, 'the probing token dies on both instances');
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  test('a NAT-ed CI job with two addresses on both instances raises nothing and keeps working', async () => {
    const key = await createDpopKey();
    const token = await issue(0, key, 'nat job');
    const grant = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).grant as string;
    for (let i = 0; i < 12; i++) assert.equal(await call(i % 2, token, key, `/orders/${i % 5}`, NAT[(i >> 1) % 2]!), 200, `call ${i}`);
    await new Promise((r) => setTimeout(r, 500)); // both detectors have judged and shared everything
    assert.deepEqual((await findings()).filter((f) => f.grant_id === grant), []);
    for (const n of [0, 1]) assert.equal(await cluster.introspect(n, token), true);
  });

  test('a copied token and key used on the other instance from the job\'s own /24 is caught and dies within a second', async () => {
    const key = await createDpopKey();
    const token = await issue(0, key, 'copied job');
    assert.equal(await call(0, token, key, '/orders/1', '10.8.3.11'), 200);
    await new Promise((r) => setTimeout(r, 200)); // the holder's use has reached the other instance
    const t0 = performance.now();
    assert.equal(await call(1, token, key, '/orders/2', '10.8.3.99'), 200, 'the copy works once: token and key are right');
    const dead = await Promise.all(
      [0, 1].map(async (n) => {
        for (;;) {
          if (!(await cluster.introspect(n, token))) return performance.now() - t0;
          if (performance.now() - t0 > 3000) return Infinity;
          await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );
    process.stdout.write(`# copied token on the other instance → dead on both in ${Math.max(...dead).toFixed(1)} ms\n`);
    assert.ok(Math.max(...dead) < 1000, `dead after ${dead.join(', ')} ms`);
    const f = (await findings('&rule=replay'))[0]!;
    assert.equal(f.evidence.reason, 'source_changed');
    assert.equal(f.evidence.strangeIp, '10.8.3.99');
    assert.equal(f.response, 'revoke_grant');
    const who = await cluster.admin(0, 'GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.ok(who.body.risk < 80, `no lock-out: risk ${who.body.risk}`);
    const k2 = await createDpopKey();
    assert.equal(await call(1, await issue(1, k2, 'after the copy'), k2, '/orders/3', '10.8.3.12'), 200, 'the job exchanges and works again');
  });

});
