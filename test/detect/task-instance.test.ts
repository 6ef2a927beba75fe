/**
 * Grants per task instance, against a real broker over HTTP (PGlite): a CI matrix of 8 shards and a
 * 3-replica service exchange for the same identity, audience and task, each instance gets its own
 * grant, and revoking one token (by an operator, or by its holder at shutdown per RFC 7009) leaves
 * every sibling working, also after detection has judged the revoked token's later use.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { ordersRoute } from '../helpers/gateway-fixture.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES } from '../helpers/workload-issuer.js';
import { claimsOf, client, createDpopKey, GATEWAY, RISK_POLICIES, setupOrders, type DpopKey } from './fixture.js';

describe('grants per task instance', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let c: ReturnType<typeof client>;

  before(async () => {
    b = await startBroker('pglite');
    gha = await setupOrders((m, p, body) => b.admin(m, p, body));
    c = client(b.url, b.url, gha);
  });
  after(async () => {
    await b?.stop();
  });

  const revokeAsHolder = async (token: string, key: DpopKey) => {
    const res = await fetch(`${b.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${b.url}/oauth/revoke`, { accessToken: token }) },
      body: `token=${token}`,
    });
    assert.equal(res.status, 200);
  };

  test('CI matrix of 8 shards: one grant per shard; revoking one token leaves the other seven working', async () => {
    const shards: Array<{ key: DpopKey; token: string }> = [];
    for (let i = 0; i < 8; i++) {
      const key = await createDpopKey();
      const x = await c.exchange(key, { purpose: 'ci matrix run 42' });
      assert.equal(x.status, 200, JSON.stringify(x.body));
      shards.push({ key, token: x.token! });
    }
    const grants = new Set(shards.map((s) => claimsOf(s.token).grant));
    assert.equal(grants.size, 8, 'each shard (its own DPoP key) holds its own grant');
    // The same shard exchanging again reuses its own grant.
    const again = await c.exchange(shards[2]!.key, { purpose: 'ci matrix run 42' });
    assert.equal(claimsOf(again.token!).grant, claimsOf(shards[2]!.token).grant);

    assert.equal((await b.admin('POST', '/admin/v1/revocations', { kind: 'jti', value: claimsOf(shards[0]!.token).jti, reason: 'leaked in a log' })).status, 201);
    for (let i = 0; i < 3; i++) assert.equal(await c.call(shards[0]!.token, shards[0]!.key, 'GET', '/orders/1'), 401);
    await b.broker.detection.idle();
    await new Promise((r) => setTimeout(r, 100));
    for (const s of shards.slice(1)) assert.equal(await c.call(s.token, s.key, 'GET', '/orders/1'), 200, 'a sibling shard keeps working');
    for (const s of shards.slice(1)) {
      const x = await c.exchange(s.key, { purpose: 'ci matrix run 42' });
      assert.equal(x.status, 200, `a sibling re-exchanges: ${JSON.stringify(x.body)}`);
    }
    const view = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent('ci/acme/api')}`);
    assert.ok(view.body.risk < 80, `risk ${view.body.risk}`);
    // The revoked shard obtains a new token for its own task.
    const fresh = await c.exchange(shards[0]!.key, { purpose: 'ci matrix run 42' });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.equal(await c.call(fresh.token!, shards[0]!.key, 'GET', '/orders/1'), 200);
  });

  test("rolling restart: a replica revoking its own token (RFC 7009) ends its own task only", async () => {
    const pods: Array<{ key: DpopKey; token: string }> = [];
    for (let i = 0; i < 3; i++) {
      const key = await createDpopKey();
      const x = await c.exchange(key, { purpose: 'orders-api deployment' });
      assert.equal(x.status, 200, JSON.stringify(x.body));
      pods.push({ key, token: x.token! });
    }
    await revokeAsHolder(pods[0]!.token, pods[0]!.key);
    assert.equal((await b.admin('GET', `/admin/v1/grants/${claimsOf(pods[0]!.token).grant}`)).body.state, 'ended');
    assert.equal(await c.call(pods[0]!.token, pods[0]!.key, 'GET', '/orders/1'), 401);
    await b.broker.detection.idle();
    for (const p of pods.slice(1)) {
      assert.equal((await b.admin('GET', `/admin/v1/grants/${claimsOf(p.token).grant}`)).body.state, 'active');
      assert.equal(await c.call(p.token, p.key, 'GET', '/orders/1'), 200);
    }
    const replacement = await c.exchange(await createDpopKey(), { purpose: 'orders-api deployment' });
    assert.equal(replacement.status, 200, JSON.stringify(replacement.body));
  });

  test('issuer-configured instance claims (a Kubernetes pod uid): 3 replicas, one token revoked, two keep working', async () => {
    const r = await b.admin('POST', '/admin/v1/apply', {
      identities: EXCHANGE_IDENTITIES,
      issuers: [gha.config({ instance_claims: ['kubernetes.io.pod.uid'] })],
      policies: RISK_POLICIES,
      routes: [ordersRoute(GATEWAY)],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const exchange = async (key: DpopKey, pod: string | undefined) => {
      const res = await fetch(`${b.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${b.url}/oauth/token`) },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: await gha.token(pod ? { 'kubernetes.io': { namespace: 'orders', pod: { name: pod, uid: `uid-${pod}` } } } : {}),
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          scope: 'orders:read',
          audience: 'https://orders.example.test',
        }).toString(),
      });
      return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string } };
    };
    // One key shared by the replicas on purpose: the pod uid alone names the instance here.
    const key = await createDpopKey();
    const tokens: string[] = [];
    for (const pod of ['a', 'b', 'c']) {
      const x = await exchange(key, pod);
      assert.equal(x.status, 200, JSON.stringify(x.body));
      tokens.push(x.body.access_token!);
    }
    assert.equal(new Set(tokens.map((t) => claimsOf(t).grant)).size, 3);
    const missing = await exchange(key, undefined);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'invalid_grant', 'a token without the configured instance claim is refused, not shared');
    await b.admin('POST', '/admin/v1/revocations', { kind: 'grant', value: claimsOf(tokens[0]!).grant, reason: 'pod a compromised' });
    assert.equal(await c.call(tokens[0]!, key, 'GET', '/orders/1'), 401);
    await b.broker.detection.idle();
    for (const t of tokens.slice(1)) assert.equal(await c.call(t, key, 'GET', '/orders/1'), 200);
    const bad = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config({ instance_claims: ['has space'] })], policies: RISK_POLICIES, routes: [ordersRoute(GATEWAY)] });
    assert.equal(bad.status, 400);
  });
});
