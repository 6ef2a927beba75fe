/**
 * Detection inside a real broker over HTTP (PGlite): a replayed token is refused and its grant (only
 * that grant) revoked. By default the identity is not locked out (a leaked token string is enough to
 * raise the finding); where its kind is opted in to identity-wide responses the critical finding
 * raises the identity's risk to >= 80, which a policy reads as `context.risk` in both phases, until
 * an operator's resolution gives access back. The findings API filters, pages and refuses what it must.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { claimsOf, client, createDpopKey, eventually, ID, optInConfig, ordersBroker, setupOrders } from './fixture.js';

describe('detection and response in a running broker', () => {
  let b: RunningBroker;
  let c: ReturnType<typeof client>;

  before(async () => {
    // ci_job opted in to identity-wide responses (the enumeration hold below); off by default.
    b = await startBroker('pglite', { detectionConfig: optInConfig(['ci_job']) });
    const gha = await setupOrders((m, p, body) => b.admin(m, p, body));
    c = client(b.url, b.url, gha);
  });
  after(async () => {
    await b?.stop();
  });

  const findings = async (q: string) => (await b.admin('GET', `/admin/v1/findings?${q}`)).body.findings as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const introspect = async (token: string): Promise<boolean> => {
    const res = await fetch(`${b.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer test-admin-token-0123456789abcdef` },
      body: `token=${token}`,
    });
    return ((await res.json()) as { active: boolean }).active;
  };

  let replayFinding: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  let other: { token: string; key: Awaited<ReturnType<typeof createDpopKey>> };
  let enumKey: Awaited<ReturnType<typeof createDpopKey>>;

  test('a token replayed with another DPoP key is refused, and that grant alone is revoked', async () => {
    const key = await createDpopKey();
    const a = await c.exchange(key, { purpose: 'task A' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const okey = await createDpopKey();
    const o = await c.exchange(okey, { purpose: 'task B' });
    assert.equal(o.status, 200, JSON.stringify(o.body));
    other = { token: o.token!, key: okey };
    assert.notEqual(claimsOf(a.token!).grant, claimsOf(o.token!).grant, 'two tasks, two grants');

    assert.equal(await c.call(a.token!, key, 'GET', '/orders/1'), 200);
    const thief = await createDpopKey();
    const t0 = performance.now();
    assert.equal(await c.call(a.token!, thief, 'GET', '/orders/1'), 401);
    replayFinding = await eventually(async () => (await findings(`identity=${encodeURIComponent(ID)}&rule=replay`))[0]);
    await eventually(async () => ((await introspect(a.token!)) ? undefined : true));
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `replay → revocation took ${ms} ms`);
    process.stdout.write(`# single node (PGlite): replay → grant revoked in ${ms.toFixed(1)} ms\n`);
    assert.equal(replayFinding.severity, 'critical');
    assert.equal(replayFinding.status, 'open');
    assert.equal(replayFinding.response, 'revoke_grant');
    assert.equal(replayFinding.grant_id, claimsOf(a.token!).grant);
    assert.equal(replayFinding.evidence.reason, 'key_mismatch');
    assert.equal(replayFinding.evidence.presentedJkt, thief.jkt);
    assert.equal(await c.call(a.token!, key, 'GET', '/orders/1'), 401, 'the legitimate holder of the replayed grant is cut off too');
    assert.equal(await introspect(other.token), true, "the identity's other grant is not revoked");

    const audit = await b.admin('GET', `/admin/v1/audit?identity=${encodeURIComponent(ID)}&limit=1000`);
    const types = (audit.body.events as Array<{ type: string; actor: string }>).map((e) => e.type);
    for (const t of ['finding.raised', 'finding.responded']) assert.ok(types.includes(t), `${t} audited`);
    const rev = await b.admin('GET', '/admin/v1/audit?type=revocation.created&limit=1000');
    const byDetector = (rev.body.events as Array<{ actor: string; data: { kind: string; value: string } }>).filter((e) => e.actor === 'detector');
    assert.deepEqual(byDetector.map((e) => [e.data.kind, e.data.value]), [['grant', claimsOf(a.token!).grant]]);
  });

  test('opted in (ci_job): an open critical finding holds risk >= 80: a policy reading context.risk denies both phases', async () => {
    const view = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.ok(view.body.risk >= 80, `risk ${view.body.risk}`);
    assert.equal(view.body.open_findings, 1);
    // Request phase: the other grant's token is valid, but policy now refuses it.
    assert.equal(await c.call(other.token, other.key, 'GET', '/orders/2'), 403);
    // Issue phase: no new token while the risk is high.
    const denied = await c.exchange(await createDpopKey(), { purpose: 'task C' });
    assert.equal(denied.status, 400);
    assert.equal(denied.body.error, 'invalid_scope');
    const dec = await b.admin('GET', `/admin/v1/audit?type=decision&identity=${encodeURIComponent(ID)}&limit=1000`);
    const last = (dec.body.events as Array<{ data: { decision: string; risk?: number; policies: string[] } }>).at(-1)!;
    assert.equal(last.data.decision, 'deny');
    assert.ok((last.data.risk ?? 0) >= 80);
    assert.deepEqual(last.data.policies, ['high-risk-is-refused']);
  });

  test('resolving the finding gives access back; resolving twice is 409; bad bodies are 400', async () => {
    assert.equal((await b.admin('POST', `/admin/v1/findings/${replayFinding.id}/resolve`, {})).status, 400);
    assert.equal((await b.admin('POST', `/admin/v1/findings/${replayFinding.id}/resolve`, { reason: 'rotated', extra: 1 })).status, 400);
    assert.equal((await b.admin('POST', '/admin/v1/findings/nope/resolve', { reason: 'x' })).status, 404);
    const r = await b.admin('POST', `/admin/v1/findings/${replayFinding.id}/resolve`, { reason: 'runner rebuilt, key rotated' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'resolved');
    assert.equal(r.body.resolution.reason, 'runner rebuilt, key rotated');
    assert.ok(r.body.resolved_at);
    assert.equal((await b.admin('POST', `/admin/v1/findings/${replayFinding.id}/resolve`, { reason: 'again' })).status, 409);
    const view = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.ok(view.body.risk < 80, `risk ${view.body.risk} after resolution`);
    assert.equal(view.body.open_findings, 0);
    assert.equal(await c.call(other.token, other.key, 'GET', '/orders/2'), 200, 'request phase allows again');
    const again = await c.exchange(await createDpopKey(), { purpose: 'task D' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
  });

  test('findings API: filters, keyset paging, single finding, 400 on bad queries', async () => {
    // A burst of denies (enumeration) and a use after the task ended (after_task) add two findings.
    const key = (enumKey = await createDpopKey());
    const t = (await c.exchange(key, { purpose: 'task E', scope: 'orders:read' })).token!;
    for (let i = 0; i < 10; i++) assert.equal(await c.call(t, key, 'DELETE', `/orders/${i}`), 403);
    await eventually(async () => (await findings('rule=enumeration'))[0]);
    const revoke = await fetch(`${b.url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${b.url}/oauth/revoke`, { accessToken: t }) }, body: `token=${t}` });
    assert.equal(revoke.status, 200);
    assert.equal(await c.call(t, key, 'GET', '/orders/3'), 401);
    const at = await eventually(async () => (await findings('rule=after_task'))[0]);
    assert.equal(at.grant_id, claimsOf(t).grant);

    const all = await findings(`identity=${encodeURIComponent(ID)}`);
    assert.deepEqual(all.map((f) => f.rule).sort(), ['after_task', 'enumeration', 'replay']);
    assert.deepEqual((await findings('status=open')).map((f) => f.rule).sort(), ['after_task', 'enumeration']);
    assert.deepEqual((await findings('status=resolved')).map((f) => f.rule), ['replay']);
    assert.equal((await findings('identity=nobody')).length, 0);
    const p1 = await b.admin('GET', '/admin/v1/findings?limit=2');
    assert.equal(p1.body.findings.length, 2);
    assert.ok(p1.body.next_after);
    const p2 = await b.admin('GET', `/admin/v1/findings?limit=2&after=${p1.body.next_after}`);
    assert.equal(p2.body.findings.length, 1);
    assert.equal(p2.body.next_after, null);
    assert.deepEqual([...p1.body.findings, ...p2.body.findings].map((f: { id: string }) => f.id), all.map((f) => f.id));
    for (const f of all) for (const k of ['id', 'rule', 'identity', 'severity', 'status', 'evidence', 'response', 'created_at', 'resolved_at']) assert.ok(k in f, k);
    const one = await b.admin('GET', `/admin/v1/findings/${at.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, at.id);
    assert.equal((await b.admin('GET', '/admin/v1/findings/unknown-id')).status, 404);
    assert.equal((await b.admin('GET', '/admin/v1/findings?rule=bogus')).status, 400);
    assert.equal((await b.admin('GET', '/admin/v1/findings?status=closed')).status, 400);
    assert.equal((await b.admin('GET', '/admin/v1/findings?limit=0')).status, 400);
    assert.equal((await b.admin('GET', '/admin/v1/findings?after=unknown')).status, 400);
  });

  test('enumeration holds new grants for approval until resolved with reverse: true', async () => {
    const en = (await findings('rule=enumeration'))[0]!;
    assert.equal(en.response, 'require_approval');
    const pending = await c.exchange(await createDpopKey(), { purpose: 'task F' });
    assert.equal(pending.status, 400);
    assert.equal(pending.body.error, 'authorization_pending');
    // The hold also stops the enumerating instance from carrying on through its live grant.
    const reuse = await c.exchange(enumKey, { purpose: 'task E', scope: 'orders:read' });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'authorization_pending');
    const r = await b.admin('POST', `/admin/v1/findings/${en.id}/resolve`, { reason: 'load test, not an attack', reverse: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.resolution.reversed, true);
    const ok = await c.exchange(await createDpopKey(), { purpose: 'task G' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('the learning endpoint validates its body', async () => {
    const at = Date.now() - 86_400_000;
    const ok = await b.admin('POST', '/admin/v1/detection/learn', { events: [{ kind: 'request', at, identity: 'x/y', allowed: true, action: 'a:b', resource: 'T::1' }] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.learned, 1);
    assert.equal((await b.admin('POST', '/admin/v1/detection/learn', { events: [{ kind: 'nope', at }] })).status, 400);
    assert.equal((await b.admin('POST', '/admin/v1/detection/learn', [])).status, 400);
    const st = await b.admin('GET', '/admin/v1/detection');
    assert.equal(st.body.enabled, true);
    assert.equal(st.body.history.state, 'done');
    assert.equal((await b.admin('GET', '/admin/v1/detection/baselines/x%2Fy')).body.events, 1);
  });
});

describe('resolving a finding lifts what it imposed', () => {
  let b: RunningBroker;
  let c: ReturnType<typeof client>;
  before(async () => {
    b = await startBroker('pglite', { detectionConfig: optInConfig(['ci_job']) });
    c = client(b.url, b.url, await setupOrders((m, p, body) => b.admin(m, p, body)));
  });
  after(async () => {
    await b?.stop();
  });
  const findings = async (q: string) => (await b.admin('GET', `/admin/v1/findings?${q}`)).body.findings as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

  test('resolving a hold as a false positive (without reverse) lifts the hold too', async () => {
    const key = await createDpopKey();
    const t = (await c.exchange(key, { purpose: 'task H', scope: 'orders:read' })).token!;
    for (let i = 0; i < 10; i++) assert.equal(await c.call(t, key, 'DELETE', `/orders/h${i}`), 403);
    const en = await eventually(async () => (await findings('rule=enumeration&status=open'))[0]);
    assert.equal(en.response, 'require_approval');
    assert.equal((await c.exchange(await createDpopKey(), { purpose: 'task I' })).body.error, 'authorization_pending');
    const r = await b.admin('POST', `/admin/v1/findings/${en.id}/resolve`, { reason: 'false positive: a test suite probing its own API' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ok = await c.exchange(await createDpopKey(), { purpose: 'task J' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});

describe('a leaked token string presented with another key (default responses: nothing identity-wide)', () => {
  const h = ordersBroker();

  test('the token dies within a second, the finding stays open, and the identity exchanges a fresh token', async () => {
    const key = await createDpopKey();
    const a = await h.c.exchange(key, { purpose: 'leaky task' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const siblingKey = await createDpopKey();
    const sibling = await h.c.exchange(siblingKey, { purpose: 'sibling task' });
    assert.equal(sibling.status, 200, JSON.stringify(sibling.body));
    assert.equal(await h.c.call(a.token!, key, 'GET', '/orders/1'), 200);
    // Whoever saw the token string (a log line, a proxy) presents it with a key of their own.
    const t0 = performance.now();
    assert.equal(await h.c.call(a.token!, await createDpopKey(), 'GET', '/orders/1', '203.0.113.9'), 401);
    const f = await eventually(async () => ((await h.b.admin('GET', `/admin/v1/findings?identity=${encodeURIComponent(ID)}&rule=replay`)).body.findings as Array<Record<string, any>>)[0]); // eslint-disable-line @typescript-eslint/no-explicit-any
    await eventually(async () => ((await h.c.call(a.token!, key, 'GET', '/orders/1')) === 401 ? true : undefined));
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `leaked token dead after ${ms} ms`);
    assert.equal(f.status, 'open');
    assert.equal(f.severity, 'critical');
    assert.equal(f.response, 'revoke_grant');
    const view = await h.b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.ok(view.body.risk > 0 && view.body.risk < 80, `bounded risk ${view.body.risk}`);
    assert.equal(view.body.status, 'active');
    assert.equal(await h.c.call(sibling.token!, siblingKey, 'GET', '/orders/2'), 200, "the identity's other task goes on");
    const fresh = await h.c.exchange(await createDpopKey(), { purpose: 'leaky task, again' });
    assert.equal(fresh.status, 200, `the identity is not locked out of re-exchange: ${JSON.stringify(fresh.body)}`);
  });
});
