/**
 * Delegation and downscoping (RFC 8693 §1.1, §4.1; README "Delegation") on a two-instance cluster on
 * PostgreSQL: orchestrator → researcher → tool runner. Scopes shrink, `act` nests (never from
 * request input), the depth limit refuses a fourth level, a re-exchange without an actor cannot drop
 * `act`, `act_for` is a policy decision, request-time policies see `context.token.actors`, and
 * revoking the orchestrator's grant on one instance kills the other two tokens on the other within 1 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { createTestDb, type TestDb } from '../helpers/stores.js';
import { createWorkloadIssuer, ORDERS_AUD } from '../helpers/workload-issuer.js';
import { ordersRoute } from '../helpers/gateway-fixture.js';

const ISSUER = 'http://tether.delegation.test';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const id = (name: string) => `ci/acme/${name}`;

const POLICIES = {
  'agents.cedar': `
@id("orchestrator-gets-orders")
permit (principal == Identity::"${id('orchestrator')}", action in [Action::"orders:read", Action::"orders:list", Action::"orders:delete"], resource == Audience::"${ORDERS_AUD}")
when { context.phase == "issue" };

@id("researcher-acts-for-orchestrator")
permit (principal == Identity::"${id('researcher')}", action == Action::"act_for", resource == Identity::"${id('orchestrator')}");

@id("runner-acts-for-orchestrator")
permit (principal == Identity::"${id('runner')}", action == Action::"act_for", resource == Identity::"${id('orchestrator')}");

@id("fourth-acts-for-anyone")
permit (principal == Identity::"${id('fourth')}", action == Action::"act_for", resource);

@id("orchestrator-at-request")
permit (principal == Identity::"${id('orchestrator')}", action in [Action::"orders:read", Action::"orders:list", Action::"orders:delete"], resource)
when { context.phase == "request" };

@id("sub-agents-never-delete")
forbid (principal, action == Action::"orders:delete", resource)
when { context.phase == "request" && context.token.actors.contains("${id('researcher')}") };
`,
};

describe('delegation: orchestrator → researcher → tool runner across two instances', () => {
  let db: TestDb;
  let a: RunningBroker;
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  const keys: Record<string, Awaited<ReturnType<typeof createDpopKey>>> = {};
  const tokens: Record<string, string> = {};

  before(async () => {
    db = await createTestDb('pg');
    a = await startBroker('pg', { issuerUrl: ISSUER }, { db });
    b = await startBroker('pg', { issuerUrl: ISSUER }, { db });
    gha = await createWorkloadIssuer();
    const identities = ['orchestrator', 'researcher', 'runner', 'fourth'].map((n) => ({ id: id(n), kind: 'ai_agent', owner: 'team-agents', purpose: `${n} agent` }));
    const r = await a.admin('POST', '/admin/v1/apply', { identities, issuers: [gha.config()], policies: POLICIES, routes: [ordersRoute(ORDERS_AUD, 'envoy')] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const n of ['orchestrator', 'researcher', 'runner', 'fourth', 'other']) keys[n] = await createDpopKey();
    const t = await exchangeForToken({ endpointBase: a.url, htuBase: ISSUER, key: keys['orchestrator']!, subjectToken: await gha.token({ repository: 'acme/orchestrator' }), scope: 'orders:read orders:list orders:delete', audience: ORDERS_AUD });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    tokens['orchestrator'] = t.body.access_token!;
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  /** An exchange with a Tether token as subject; the holder of `subject` signs its consent proof. */
  const delegate = async (o: { node?: RunningBroker; subject: string; subjectKey?: string; actor?: string; key: string; scope?: string; extra?: Record<string, string> }) => {
    const form: Record<string, string> = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: tokens[o.subject]!, subject_token_type: ACCESS, ...(o.scope ? { scope: o.scope } : {}), ...(o.extra ?? {}) };
    if (o.actor) {
      form.actor_token = await gha.token({ repository: `acme/${o.actor}` });
      form.actor_token_type = JWT;
      form.subject_token_dpop = await keys[o.subjectKey ?? o.subject]!.proof('POST', `${ISSUER}/oauth/token`, { accessToken: tokens[o.subject]! });
    }
    const res = await fetch(`${(o.node ?? a).url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await keys[o.key]!.proof('POST', `${ISSUER}/oauth/token`) }, body: new URLSearchParams(form).toString() });
    return { status: res.status, body: (await res.json()) as { access_token?: string; scope?: string; error?: string; error_description?: string } };
  };
  const check = async (node: RunningBroker, token: string, key: string, method: string, path: string) => {
    const res = await fetch(`${node.url}/ext-authz/orders${path}`, { method, headers: { authorization: `DPoP ${token}`, dpop: await keys[key]!.proof(method, `${ORDERS_AUD}${path}`, { accessToken: token }) } });
    return res.status;
  };
  const introspect = async (node: RunningBroker, token: string) => {
    const r = await node.admin('POST', '/oauth/introspect', new URLSearchParams({ token }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    return r.body as { active: boolean; act?: unknown; scope?: string };
  };

  test('three levels: scopes shrink, act nests, exp never grows; policies see the actor chain', async () => {
    const r = await delegate({ subject: 'orchestrator', actor: 'researcher', key: 'researcher', scope: 'orders:read orders:delete' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    tokens['researcher'] = r.body.access_token!;
    const t = await delegate({ subject: 'researcher', actor: 'runner', key: 'runner', scope: 'orders:read' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    tokens['runner'] = t.body.access_token!;

    const [o, rs, rn] = ['orchestrator', 'researcher', 'runner'].map((n) => decodeJwt(tokens[n]!));
    assert.equal(rs!.sub, id('orchestrator'));
    assert.deepEqual(rs!.act, { sub: id('researcher') });
    assert.deepEqual(rn!.act, { sub: id('runner'), act: { sub: id('researcher') } });
    assert.equal(rs!.scope, 'orders:read orders:delete');
    assert.equal(rn!.scope, 'orders:read');
    assert.ok((rs!.exp as number) <= (o!.exp as number) && (rn!.exp as number) <= (rs!.exp as number));
    assert.deepEqual((rs!.cnf as { jkt: string }).jkt, keys['researcher']!.jkt, 'bound to the actor\'s own key');
    assert.deepEqual((await introspect(b, tokens['runner']!)).act, { sub: id('runner'), act: { sub: id('researcher') } }, 'introspection shows act');

    // Request time: the orchestrator may delete; a token acting through the researcher may not.
    assert.equal(await check(b, tokens['orchestrator']!, 'orchestrator', 'DELETE', '/orders/1'), 200);
    assert.equal(await check(b, tokens['researcher']!, 'researcher', 'GET', '/orders/1'), 200);
    assert.equal(await check(b, tokens['researcher']!, 'researcher', 'DELETE', '/orders/1'), 403);
    assert.equal(await check(b, tokens['runner']!, 'runner', 'DELETE', '/orders/1'), 403, 'outside its scopes too');
  });

  test('more than the subject holds, an actor policy does not allow, a missing consent proof, and a fourth level are refused', async () => {
    const wider = await delegate({ subject: 'runner', actor: 'fourth', key: 'fourth', scope: 'orders:read orders:list' });
    assert.equal(wider.status, 400);
    assert.equal(wider.body.error, 'invalid_scope');
    const fourth = await delegate({ subject: 'runner', actor: 'fourth', key: 'fourth', scope: 'orders:read' });
    assert.equal(fourth.status, 400, JSON.stringify(fourth.body));
    assert.match(fourth.body.error_description!, /depth limit reached \(3 levels\)/);
    // Policy names who may act for whom: a workload no permit names is refused.
    const stranger = await delegate({ subject: 'orchestrator', actor: 'other', key: 'other', scope: 'orders:read' });
    assert.equal(stranger.status, 400);
    const noConsent = await fetch(`${a.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await keys['runner']!.proof('POST', `${ISSUER}/oauth/token`) },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: tokens['orchestrator']!, subject_token_type: ACCESS, actor_token: await gha.token({ repository: 'acme/runner' }), actor_token_type: JWT, scope: 'orders:read' }).toString(),
    });
    assert.equal(noConsent.status, 400);
    assert.equal(((await noConsent.json()) as { error: string }).error, 'invalid_dpop_proof', 'a stolen copy of a bound token cannot be delegated');
    const decisions = (await a.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events.filter((e: { data: { action: string } }) => e.data.action === 'act_for');
    assert.ok(decisions.some((e: { data: { decision: string; principal: { id: string } } }) => e.data.decision === 'deny' && e.data.principal.id === 'ci/acme/other'), 'act_for is a recorded kernel decision');
  });

  test('a re-exchange without an actor downscopes and cannot drop act; request input cannot set it', async () => {
    const down = await delegate({ subject: 'runner', key: 'runner', scope: 'orders:read', extra: { act: JSON.stringify({ sub: 'nobody' }) } });
    assert.equal(down.status, 200, JSON.stringify(down.body));
    assert.deepEqual(decodeJwt(down.body.access_token!).act, { sub: id('runner'), act: { sub: id('researcher') } });
    const otherKey = await delegate({ subject: 'runner', key: 'other', scope: 'orders:read' });
    assert.equal(otherKey.status, 400, 'downscoping a bound token needs its key');
    tokens['runner-down'] = down.body.access_token!;
  });

  test('revoking one token (by jti) ends what was exchanged from it, and nothing else', async () => {
    const again = await delegate({ subject: 'runner-down', subjectKey: 'runner', key: 'runner', scope: 'orders:read' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const derived = again.body.access_token!;
    assert.equal((await introspect(b, derived)).active, true);
    const r = await a.admin('POST', '/admin/v1/revocations', { kind: 'jti', value: decodeJwt(tokens['runner-down']!).jti, reason: 'copied from a log' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.grants_revoked, 1, 'the grant derived from that token');
    const t0 = Date.now();
    while ((await introspect(b, derived)).active && Date.now() - t0 < 1000) await new Promise((res) => setTimeout(res, 20));
    assert.equal((await introspect(b, derived)).active, false, 'a token exchanged from the revoked one dies with it');
    assert.equal((await introspect(b, tokens['runner']!)).active, true, 'its source is not touched');
  });

  test('revoking the orchestrator\'s grant on one instance kills every descendant on the other within 1 s', async () => {
    for (const n of ['researcher', 'runner']) assert.equal((await introspect(b, tokens[n]!)).active, true, n);
    const grant = decodeJwt(tokens['orchestrator']!).grant as string;
    const t0 = Date.now();
    const r = await a.admin('POST', '/admin/v1/revocations', { kind: 'grant', value: grant, reason: 'orchestrator task aborted' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.grants_revoked, 4, 'the grant and its three descendants (researcher, runner, the runner\'s downscoped token)');
    let dead = false;
    while (!dead && Date.now() - t0 < 1000) {
      const states = await Promise.all(['orchestrator', 'researcher', 'runner', 'runner-down'].map(async (n) => (await introspect(b, tokens[n]!)).active));
      dead = states.every((x) => !x);
      if (!dead) await new Promise((res) => setTimeout(res, 20));
    }
    const ms = Date.now() - t0;
    assert.ok(dead, `descendants still active on the other instance after ${ms} ms`);
    assert.equal(await check(b, tokens['runner']!, 'runner', 'GET', '/orders/1'), 401);
    process.stdout.write(`# every descendant token dead on the other instance ${ms} ms after the revocation\n`);
  });
});

