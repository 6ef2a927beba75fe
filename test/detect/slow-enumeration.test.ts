/**
 * Slow enumeration against a real broker over HTTP (PGlite; the broker's clock is the test's, so a
 * three-and-a-half-minute probe runs in seconds): a learned CI identity's token probes orders the
 * policy refuses at 8.6 denied requests a minute, under the one-minute threshold. Within the ten-minute
 * window the verified policy denies, all by that one token and most of the identity's traffic, are
 * enumeration (slow_deny_burst) and that token is contained (dead within a second of the burst); the
 * identity is not locked out, and resolving the finding as a false positive lifts its risk.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { CLIENT_ADDRESS_HEADER, ordersRoute } from '../helpers/gateway-fixture.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, ORDERS_AUD } from '../helpers/workload-issuer.js';
import { claimsOf, createDpopKey, eventually, GATEWAY, ID, type DpopKey } from './fixture.js';

const POLICIES = {
  'orders.cedar': `
permit (principal == Identity::"ci/acme/api", action == Action::"orders:read", resource) when { context.phase == "issue" };
permit (principal == Identity::"ci/acme/api", action == Action::"orders:read", resource) when { [Order::"1", Order::"2", Order::"3"].contains(resource) };
`,
};
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('slow enumeration on a real broker: found and the probing token contained', () => {
  let now = Date.now();
  const clock = () => new Date(now);
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;

  before(async () => {
    b = await startBroker('pglite', {}, { clock });
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: POLICIES, routes: [ordersRoute(GATEWAY, 'envoy', { clientAddress: true })] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // Eight days of the job reading its three orders a few times an hour from its network.
    const events: unknown[] = [];
    for (let h = 8 * 24; h > 0; h--) {
      const jti = `hist-${h}`;
      for (let k = 0; k < 3; k++) {
        events.push({ kind: 'request', at: now - h * HOUR + k * 1000, identity: ID, identityKind: 'ci_job', allowed: true, action: 'orders:read', resource: `Order::${1 + k}`, jti, grantId: `g-${jti}`, sourceIp: '10.1.2.3', taskActions: ['orders:read'] });
      }
    }
    const learned = await b.admin('POST', '/admin/v1/detection/learn', { events });
    assert.equal(learned.status, 200, JSON.stringify(learned.body));
  });
  after(async () => {
    await b?.stop();
  });

  const iat = () => Math.floor(now / 1000);
  const exchange = async (key: DpopKey): Promise<{ status: number; token?: string }> => {
    const res = await fetch(`${b.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${b.url}/oauth/token`, { iat: iat() }) },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await gha.token({}, { iat: iat() }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'orders:read',
        audience: ORDERS_AUD,
      }).toString(),
    });
    const body = (await res.json()) as { access_token?: string };
    return { status: res.status, ...(body.access_token ? { token: body.access_token } : {}) };
  };
  const call = async (token: string, key: DpopKey, path: string): Promise<number> => {
    const res = await fetch(`${b.url}/ext-authz/orders${path}`, {
      headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', GATEWAY + path, { accessToken: token, iat: iat() }), [CLIENT_ADDRESS_HEADER]: '10.1.2.3' },
    });
    await res.arrayBuffer();
    return res.status;
  };
  const active = async (token: string): Promise<boolean> => {
    const res = await fetch(`${b.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${ADMIN_TOKEN}` }, body: new URLSearchParams({ token }).toString() });
    return ((await res.json()) as { active?: boolean }).active === true;
  };
  const findings = async () => (await b.admin('GET', `/admin/v1/findings?identity=${encodeURIComponent(ID)}&limit=100`)).body.findings as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

  test('8.6 denied probes a minute by one token: slow_deny_burst, that token dead within a second, no lock-out; resolving lifts the risk', async () => {
    const key = await createDpopKey();
    const ex = await exchange(key);
    assert.equal(ex.status, 200);
    const token = ex.token!;
    assert.equal(await call(token, key, '/orders/1'), 200, 'its usual work');
    let probes = 0;
    let tBurst = 0;
    // One probe every 7 s of the broker's clock (8.6 a minute), over up to ten minutes.
    for (let i = 0; i < 85; i++) {
      now += 7000;
      const status = await call(token, key, `/orders/probe-${i}`);
      if (status === 401) break; // contained
      assert.equal(status, 403, 'refused by policy until contained');
      probes += 1;
      if (probes === 30) tBurst = performance.now();
      if (probes >= 30 && (await findings()).some((f) => f.rule === 'enumeration' && f.evidence.reason === 'slow_deny_burst')) break;
    }
    const f = await eventually(async () => (await findings()).find((x) => x.rule === 'enumeration' && x.evidence.reason === 'slow_deny_burst'));
    assert.ok(probes >= 30 && probes < 40, `the slow window fills at the 30th deny (${probes} probes)`);
    // The same probes are also 30 new resources in ten minutes: that half is an alert (baseline).
    for (const x of (await findings()).filter((y) => y.id !== f.id)) assert.deepEqual([x.rule, x.evidence.reason, x.response], ['enumeration', 'slow_distinct_resources', 'alert']);
    assert.equal(f.response, 'revoke_grant', 'one token made every deny: that credential is contained');
    assert.equal(f.evidence.credential.jti, claimsOf(token).jti);
    for (;;) {
      if (!(await active(token))) break;
      assert.ok(performance.now() - tBurst < 1000, 'dead within a second of the burst');
      await new Promise((r) => setTimeout(r, 5));
    }
    const dead = performance.now() - tBurst;
    process.stdout.write(`# slow enumeration: ${probes} probes over ${((probes * 7) / 60).toFixed(1)} min (broker clock), token dead ${dead.toFixed(0)} ms after the 30th\n`);
    assert.equal(await call(token, key, '/orders/1'), 401, 'the probing token is dead');

    // Not an identity-wide response: the job exchanges again and works.
    const fresh = await createDpopKey();
    const again = await exchange(fresh);
    assert.equal(again.status, 200);
    assert.equal(await call(again.token!, fresh, '/orders/2'), 200);
    const who = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.ok(who.body.risk > 0 && who.body.risk < 80, `bounded risk ${who.body.risk}`);

    // Resolve as a false positive: what the finding imposed (its risk) is lifted; the revocation stays.
    const res = await b.admin('POST', `/admin/v1/findings/${f.id}/resolve`, { reason: 'load test', reverse: true });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.resolution.reversal.revocation, 'kept: revoked tokens stay revoked; the workload exchanges for new ones');
    const after = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.ok(after.body.risk < who.body.risk, `the containment's risk is lifted: ${who.body.risk} → ${after.body.risk}`);
    for (const x of (await findings()).filter((y) => y.status === 'open')) assert.equal((await b.admin('POST', `/admin/v1/findings/${x.id}/resolve`, { reason: 'load test', reverse: true })).status, 200);
    assert.equal((await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`)).body.risk, 0, 'nothing left once both are resolved');
    assert.equal(await call(again.token!, fresh, '/orders/3'), 200, 'the job works on');
  });
});
