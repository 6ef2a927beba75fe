/**
 * The authorization kernel decides issuance and request time the same way: a `principal in Group::…`
 * policy whose parents come from entities.json gives the same answer at the token endpoint and at
 * ext-authz; issuance decisions are audited as `decision` events (phase `issue`, the deciding stage,
 * obligations), so policy dry-run reports a candidate that changes one. A reused grant is re-checked
 * like a fresh one: an `@approval` added since, or a detection hold, sends the exchange to approval.
 * Real broker over HTTP, PGlite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute } from '../helpers/gateway-fixture.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { createWorkloadIssuer, ORDERS_AUD } from '../helpers/workload-issuer.js';
import { evaluate } from './http.js';
import { optInConfig } from '../detect/fixture.js';

const GW = 'http://envoy.test';
const IDENTITIES = [
  { id: 'ci/acme/api', kind: 'ci_job', owner: 'team-orders', environment: 'prod' },
  { id: 'ci/acme/web', kind: 'ci_job', owner: 'team-web', environment: 'prod' },
];
const ENTITIES = [
  { uid: { type: 'Identity', id: 'ci/acme/api' }, attrs: {}, parents: [{ type: 'Group', id: 'deployers' }] },
  { uid: { type: 'Group', id: 'deployers' }, attrs: {}, parents: [] },
];
const GROUP_POLICIES = {
  'group.cedar': `
@id("deployers-read")
permit (principal in Group::"deployers", action == Action::"orders:read", resource);

@id("forged-members-do-nothing")
permit (principal, action == Action::"orders:list", resource)
when { context.break_glass == true || context.issuer == "forged" };

@id("break-glass-admin")
@break_glass("allowed")
permit (principal == Identity::"ci/acme/api", action == Action::"orders:admin", resource)
when { context.break_glass };
`,
};
/** The orders route, plus an admin action only break-glass reaches. */
const ROUTE = { ...ordersRoute(GW), rules: [...ordersRoute(GW).rules, { method: 'POST', path: '/orders/:id/admin', action: 'orders:admin', resource: { type: 'Order', id: ':id' } }] };

type Events = Array<{ seq: number; type: string; data: Record<string, any> }>; // eslint-disable-line @typescript-eslint/no-explicit-any

for (const kind of STORE_KINDS) {
  describe(`authorization kernel: issuance and request time decide alike (${kind})`, () => {
    let b: RunningBroker;
    let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;

    before(async () => {
      b = await startBroker(kind, { detectionConfig: optInConfig(['ci_job']) });
      gha = await createWorkloadIssuer();
      const r = await b.admin('POST', '/admin/v1/apply', { identities: IDENTITIES, issuers: [gha.config()], entities: ENTITIES, policies: GROUP_POLICIES, routes: [ROUTE] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });
    after(async () => {
      await b.stop();
    });

    const exchange = async (repo: string, scope: string, key: Awaited<ReturnType<typeof createDpopKey>>, details?: unknown[]) =>
      exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token({ repository: repo }), scope, audience: ORDERS_AUD, ...(details ? { authorizationDetails: details } : {}) });
    const call = async (token: string, key: Awaited<ReturnType<typeof createDpopKey>>, path: string) =>
      (await fetch(`${b.url}/ext-authz/orders${path}`, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', `${GW}${path}`, { accessToken: token }) } })).status;
    const decisions = async (identity: string): Promise<Events> =>
      (await b.admin('GET', `/admin/v1/audit?type=decision&identity=${encodeURIComponent(identity)}&limit=1000`)).body.events;

    test('a principal in Group::"deployers" (parents from entities.json) is allowed at issuance and at request time', async () => {
      const key = await createDpopKey();
      const t = await exchange('acme/api', 'orders:read', key);
      assert.equal(t.status, 200, JSON.stringify(t.body));
      assert.equal(await call(t.body.access_token!, key, '/orders/7'), 200);

      // Not in the group: denied in both phases, by the same policy set.
      const other = await exchange('acme/web', 'orders:read', key);
      assert.equal(other.status, 400);
      assert.equal(other.body.error, 'invalid_scope');
      const viaPdp = await evaluate(b, { subject: { type: 'Identity', id: 'ci/acme/web' }, action: { name: 'orders:read' }, resource: { type: 'Order', id: '7' } });
      assert.equal(viaPdp.body.decision, false);

      // The issuance decision is one audited `decision` event: phase, stage, determining policy, obligations.
      const issue = (await decisions('ci/acme/api')).filter((e) => e.data.phase === 'issue');
      assert.equal(issue.length, 1);
      assert.equal(issue[0]!.data.entry, 'token');
      assert.equal(issue[0]!.data.stage, 'policy');
      assert.equal(issue[0]!.data.decision, 'allow');
      assert.deepEqual(issue[0]!.data.policies, ['deployers-read']);
      assert.deepEqual(issue[0]!.data.resource, { type: 'Audience', id: ORDERS_AUD });
      assert.deepEqual(issue[0]!.data.obligations, { approval: false, break_glass: false, bearer: false });
      assert.equal(issue[0]!.data.own.issuer, 'github');
      // Written with the issuance's own record, in the same group commit (one commit wait per exchange).
      const issued = (await b.admin('GET', `/admin/v1/audit?type=token.issued&identity=${encodeURIComponent('ci/acme/api')}&limit=10`)).body.events as Events & Array<{ ts: string }>;
      const rec = issue[0] as Events[number] & { ts: string };
      assert.equal(issued.length, 1);
      assert.equal(issued[0]!.seq, rec.seq + 1);
      assert.equal(issued[0]!.ts, rec.ts);
      const request = (await decisions('ci/acme/api')).filter((e) => e.data.phase === 'request');
      assert.equal(request.at(-1)!.data.decision, 'allow');
      assert.deepEqual(request.at(-1)!.data.policies, ['deployers-read']);
    });

    test("Tether's context members cannot be forged through AuthZEN: break_glass and issuer are always Tether's", async () => {
      const r = await evaluate(b, {
        subject: { type: 'Identity', id: 'ci/acme/api' },
        action: { name: 'orders:list' },
        resource: { type: 'OrderList', id: 'all' },
        context: { break_glass: true, issuer: 'forged', phase: 'issue', risk: -5 },
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.decision, false);
    });

    test('a dry-run reports a candidate that changes an issuance decision', async () => {
      const candidate = { 'group.cedar': GROUP_POLICIES['group.cedar'].replace('principal in Group::"deployers"', 'principal in Group::"admins"') };
      const r = await b.admin('POST', '/admin/v1/policies/dry-run', { files: candidate, limit: 100 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const issue = r.body.changed.filter((c: { phase: string }) => c.phase === 'issue');
      assert.equal(issue.length, 1, JSON.stringify(r.body.changed));
      assert.equal(issue[0].before, 'allow');
      assert.equal(issue[0].after, 'deny');
      assert.equal(issue[0].action, 'orders:read');
      assert.deepEqual(issue[0].resource, { type: 'Audience', id: ORDERS_AUD });
      assert.ok(r.body.changed.some((c: { phase: string; before: string }) => c.phase === 'request' && c.before === 'allow'));
    });

    test('a break-glass grant reaches request-time policy: context.break_glass is true at ext-authz, from the verified token', async () => {
      const key = await createDpopKey();
      const glass = [{ type: 'tether_task', break_glass: true, justification: 'INC-9: orders stuck, on-call fix' }];
      const t = await exchange('acme/api', 'orders:admin', key, glass);
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const token = t.body.access_token!;
      assert.equal(decodeJwt(token).break_glass, true);
      const post = async (tok: string, path: string) =>
        (await fetch(`${b.url}/ext-authz/orders${path}`, { method: 'POST', headers: { authorization: `DPoP ${tok}`, dpop: await key.proof('POST', `${GW}${path}`, { accessToken: tok }) } })).status;
      assert.equal(await post(token, '/orders/7/admin'), 200);
      const last = (await decisions('ci/acme/api')).filter((e) => e.data.phase === 'request').at(-1)!;
      assert.equal(last.data.action, 'orders:admin');
      assert.equal(last.data.decision, 'allow');
      assert.equal(last.data.own.break_glass, true);
      assert.deepEqual(last.data.policies, ['break-glass-admin']);

      // Break-glass stands in for approval only where the deciding permit allows break-glass: a
      // request-time permit under @approval without @break_glass refuses the break-glass token.
      const split = {
        'group.cedar': GROUP_POLICIES['group.cedar'].replace('when { context.break_glass };', 'when { context.break_glass && context.phase == "issue" };'),
        'request.cedar': '@id("admin-at-request-needs-approval")\n@approval("required")\npermit (principal == Identity::"ci/acme/api", action == Action::"orders:admin", resource) when { context.phase == "request" };',
      };
      assert.equal((await b.admin('POST', '/admin/v1/apply', { identities: IDENTITIES, issuers: [gha.config()], entities: ENTITIES, policies: split, routes: [ROUTE] })).status, 200);
      assert.equal(await post(token, '/orders/7/admin'), 403);
      assert.match(String((await decisions('ci/acme/api')).filter((e) => e.data.phase === 'request').at(-1)!.data.reason), /approval is required/);
      assert.equal((await b.admin('POST', '/admin/v1/apply', { identities: IDENTITIES, issuers: [gha.config()], entities: ENTITIES, policies: GROUP_POLICIES, routes: [ROUTE] })).status, 200);

      // An ordinary token never says break-glass: the same policy does not apply at request time.
      const plain = await exchange('acme/api', 'orders:read', key);
      assert.equal(plain.status, 200, JSON.stringify(plain.body));
      assert.equal(decodeJwt(plain.body.access_token!).break_glass, undefined);
      assert.equal(await call(plain.body.access_token!, key, '/orders/8'), 200);
      const readDecision = (await decisions('ci/acme/api')).filter((e) => e.data.phase === 'request').at(-1)!;
      assert.equal(readDecision.data.own.break_glass, false);
    });

    test('reusing a live grant re-checks obligations: @approval added since sends the exchange to approval', async () => {
      const key = await createDpopKey();
      const task = [{ type: 'tether_task', purpose: 'nightly export' }];
      const first = await exchange('acme/api', 'orders:read', key, task);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const grant = decodeJwt(first.body.access_token!).grant;
      // Same task again: the live grant is reused.
      const again = await exchange('acme/api', 'orders:read', key, task);
      assert.equal(again.status, 200);
      assert.equal(decodeJwt(again.body.access_token!).grant, grant);

      const withApproval = { 'group.cedar': GROUP_POLICIES['group.cedar'].replace('@id("deployers-read")', '@id("deployers-read")\n@approval("required")') };
      assert.equal((await b.admin('POST', '/admin/v1/apply', { identities: IDENTITIES, issuers: [gha.config()], entities: ENTITIES, policies: withApproval, routes: [ROUTE] })).status, 200);
      // The token issued before @approval was added no longer carries the action at request time.
      const early = first.body.access_token!;
      assert.equal(await call(early, key, '/orders/7'), 403);
      const refusal = (await decisions('ci/acme/api')).filter((e) => e.data.phase === 'request').at(-1)!;
      assert.equal(refusal.data.decision, 'deny');
      assert.match(String(refusal.data.reason ?? refusal.data.reasons?.reason ?? JSON.stringify(refusal.data)), /approval is required/);
      const held = await exchange('acme/api', 'orders:read', key, task);
      assert.equal(held.status, 400, JSON.stringify(held.body));
      assert.equal(held.body.error, 'authorization_pending');
      assert.notEqual(held.body.grant_id, grant);
      const last = (await decisions('ci/acme/api')).filter((e) => e.data.phase === 'issue').at(-1)!;
      assert.equal(last.data.obligations.approval, true);

      // Once a human approves the new grant, the same exchange is issued against it.
      const ok = await b.admin('POST', `/admin/v1/grants/${held.body.grant_id}/approve`, { reason: 'export reviewed' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const after = await exchange('acme/api', 'orders:read', key, task);
      assert.equal(after.status, 200, JSON.stringify(after.body));
      assert.equal(decodeJwt(after.body.access_token!).grant, held.body.grant_id);
      // The approved grant's token says so (a verified claim) and is allowed at request time.
      assert.equal(decodeJwt(after.body.access_token!).approval, 'human');
      assert.equal(await call(after.body.access_token!, key, '/orders/7'), 200);
      assert.equal((await b.admin('POST', '/admin/v1/apply', { identities: IDENTITIES, issuers: [gha.config()], entities: ENTITIES, policies: GROUP_POLICIES, routes: [ROUTE] })).status, 200);
    });

    test("reusing a live grant re-checks detection's approval hold", async () => {
      const key = await createDpopKey();
      const task = [{ type: 'tether_task', purpose: 'hourly sync' }];
      const first = await exchange('acme/api', 'orders:read', key, task);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const token = first.body.access_token!;
      // A burst of refused requests raises `enumeration`, whose response holds new grants for approval.
      for (let i = 0; i < 10; i++) {
        const path = `/orders/${i}`;
        const r = await fetch(`${b.url}/ext-authz/orders${path}`, { method: 'DELETE', headers: { authorization: `DPoP ${token}`, dpop: await key.proof('DELETE', `${GW}${path}`, { accessToken: token }) } });
        assert.equal(r.status, 403);
      }
      let held = false;
      for (let i = 0; i < 100 && !held; i++) {
        const f = await b.admin('GET', `/admin/v1/findings?rule=enumeration&identity=${encodeURIComponent('ci/acme/api')}`);
        held = f.body.findings.some((x: { response: string }) => x.response === 'require_approval');
        if (!held) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(held, 'enumeration finding with require_approval');
      // The same task's live grant is not reused past the hold: the exchange waits for a human.
      const again = await exchange('acme/api', 'orders:read', key, task);
      assert.equal(again.status, 400, JSON.stringify(again.body));
      assert.equal(again.body.error, 'authorization_pending');
      assert.notEqual(again.body.grant_id, decodeJwt(token).grant);
      const last = (await decisions('ci/acme/api')).filter((e) => e.data.phase === 'issue').at(-1)!;
      assert.deepEqual(last.data.obligations, { approval: true, break_glass: false, bearer: false, held: true });
      // Break-glass waives a policy's @approval, never detection's hold: it waits for a human too.
      const glass = await exchange('acme/api', 'orders:admin', await createDpopKey(), [{ type: 'tether_task', break_glass: true, justification: 'INC-10: said it was urgent' }]);
      assert.equal(glass.status, 400, JSON.stringify(glass.body));
      assert.equal(glass.body.error, 'authorization_pending');
    });
  });
}
