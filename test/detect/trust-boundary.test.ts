/**
 * Only verified facts steer detection (DESIGN.md trust model), against a real broker over HTTP
 * (PGlite): AuthZEN callers name whatever subject they like, so their denied evaluations never raise
 * that identity's risk, suspend it or hold its grants; a JWT whose signature does not verify is
 * anonymous at ext-authz, whatever `sub` it carries; and made-up ids never grow detection state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { client, createDpopKey, ID, setupOrders } from './fixture.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('detection is steered by verified facts only', () => {
  let b: RunningBroker;
  let c: ReturnType<typeof client>;

  before(async () => {
    b = await startBroker('pglite');
    const gha = await setupOrders((m, p, body) => b.admin(m, p, body));
    c = client(b.url, b.url, gha);
  });
  after(async () => {
    await b?.stop();
  });

  const evaluate = async (subjectId: string, action: string) => {
    const res = await fetch(`${b.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { type: 'Identity', id: subjectId }, action: { name: action }, resource: { type: 'Order', id: `o-${Math.random()}` } }),
    });
    return { status: res.status, body: (await res.json()) as { decision?: boolean } };
  };

  const untouched = async () => {
    await b.broker.detection.idle();
    const findings = (await b.admin('GET', `/admin/v1/findings?identity=${encodeURIComponent(ID)}`)).body.findings as unknown[];
    assert.deepEqual(findings, [], 'no finding names the identity');
    const view = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.equal(view.body.status, 'active');
    assert.equal(view.body.risk, 0);
    const key = await createDpopKey();
    const x = await c.exchange(key, { purpose: `check ${Math.random()}` });
    assert.equal(x.status, 200, `the identity still obtains tokens without approval: ${JSON.stringify(x.body)}`);
    assert.equal(await c.call(x.token!, key, 'GET', '/orders/1'), 200);
  };

  test('three denied AuthZEN evaluations of the escalation chain naming an identity do nothing to it', async () => {
    for (const a of ['secrets:read', 'iam:write', 'egress:post']) {
      const r = await evaluate(ID, a);
      assert.equal(r.status, 200);
      assert.equal(r.body.decision, false);
    }
    await untouched();
  });

  test('ten denied AuthZEN evaluations naming an identity neither hold its grants nor raise its risk', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await evaluate(ID, 'orders:delete-all')).body.decision, false);
    await untouched();
  });

  test('three garbage-signature JWTs carrying its sub through ext-authz do nothing to it', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 3; i++) {
      const forged = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: 'x' })}.${b64({ sub: ID, jti: `forged-${i}`, grant: 'g', iat: now, exp: now + 300, cnf: { jkt: 'x' } })}.${Buffer.from('garbage-signature').toString('base64url')}`;
      const key = await createDpopKey();
      assert.equal(await c.call(forged, key, 'GET', '/orders/1'), 401);
      assert.equal(await c.call(forged, await createDpopKey(), 'DELETE', '/orders/1'), 401);
    }
    await untouched();
    const st = (await b.admin('GET', '/admin/v1/detection')).body as { anonymous: number };
    assert.ok(st.anonymous >= 6 + 13, `counted as anonymous only (${st.anonymous})`);
  });

  test('made-up ids (AuthZEN subjects, forged subs) create no detection state', async () => {
    const before = (await b.admin('GET', '/admin/v1/detection')).body.tracked as number;
    for (let i = 0; i < 300; i += 30) await Promise.all(Array.from({ length: 30 }, (_, j) => evaluate(`made/up/${i + j}`, 'orders:read')));
    await b.broker.detection.idle();
    assert.equal((await b.admin('GET', '/admin/v1/detection')).body.tracked, before);
  });
});
