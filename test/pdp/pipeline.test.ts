/**
 * The decision pipeline's rules, over real HTTP (AuthZEN) and directly (the ext-authz entry), on
 * PGlite and PostgreSQL: stored inventory attributes beat request properties, inactive identities are
 * denied, Tether's context members cannot be forged, token scopes are an upper bound, a Cedar error
 * is a deny with the error, values Cedar cannot take are 400s, every decision is in the audit chain
 * and none is given when it cannot be recorded (503), and TETHER_PDP_TOKEN is enforced.
 */
import assert from 'node:assert/strict';
import { createDecisionPipeline } from '../../src/pdp/index.js';
import { after, before, describe, test } from 'node:test';
import { listAuditEvents, verifyChain } from '../../src/audit/index.js';
import type { DecisionEvent } from '../../src/pdp/index.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { applyOk, ask, evaluate, pdpAuth, PDP_TOKEN, send } from './http.js';

const POLICIES = {
  'orders.cedar': `
@id("prod-read") permit(principal is Identity, action == Action::"orders:read", resource is Order) when { principal.environment == "prod" };
@id("team-write") permit(principal is Identity, action == Action::"orders:write", resource is Order) when { principal.labels.team == "payments" && context.risk < 50 };
`,
  'misc.cedar': `
@id("boom") permit(principal, action == Action::"boom", resource) when { resource.missing == 1 };
@id("ops") permit(principal in Group::"ops", action == Action::"deploy", resource);
@id("ctx") permit(principal, action == Action::"ctx", resource) when { context.phase == "request" && context.action has dry && context.action.dry == true };
@id("view-public") permit(principal, action == Action::"view", resource is Order) when { resource has classification && resource.classification == "public" };
`,
};
const ENTITIES = [
  { uid: { type: 'Group', id: 'ops' }, attrs: {}, parents: [{ type: 'Group', id: 'all' }] },
  { uid: { type: 'Group', id: 'all' }, attrs: {}, parents: [] },
  { uid: { type: 'Person', id: 'ann' }, attrs: { team: 'ops' }, parents: [{ type: 'Group', id: 'ops' }] },
  { uid: { type: 'Identity', id: 'ci/deploy' }, attrs: { environment: 'dev' }, parents: [{ type: 'Group', id: 'ops' }] },
  { uid: { type: 'Order', id: '7' }, attrs: { classification: 'secret' }, parents: [] },
];
const IDENTITIES = [
  { id: 'ci/deploy', kind: 'ci_job', owner: 'team-a', environment: 'prod', labels: { team: 'payments' } },
  { id: 'ci/dev', kind: 'ci_job', owner: 'team-a', environment: 'dev' },
  { id: 'ci/frozen', kind: 'ci_job', owner: 'team-a', environment: 'prod', status: 'suspended' },
];
const deploy = { type: 'Identity', id: 'ci/deploy' };
const order = { type: 'Order', id: '42' };

for (const kind of STORE_KINDS) {
  describe(`decision pipeline (${kind})`, () => {
    let b: RunningBroker;
    before(async () => {
      b = await startBroker(kind, { pdpToken: PDP_TOKEN });
      await applyOk(b, { identities: IDENTITIES, policies: POLICIES, entities: ENTITIES });
    });
    after(async () => b.stop());

    test('an inventory identity: its stored attributes beat request properties', async () => {
      const up = await evaluate(b, ask({ ...deploy, properties: { environment: 'dev', labels: { team: 'x' } } }, 'orders:read', order));
      assert.equal(up.status, 200);
      assert.equal(up.body.decision, true, 'stored environment "prod" kept');
      assert.deepEqual(up.body.context.reason_admin.policies, ['prod-read'], 'the determining policy is named');
      const raise = await evaluate(b, ask({ type: 'Identity', id: 'ci/dev', properties: { environment: 'prod' } }, 'orders:read', order));
      assert.equal(raise.body.decision, false, 'a PEP cannot raise its own privileges');
      // entities.json gives ci/deploy its parents (Group::"ops" ⊂ Group::"all"); its attrs lose to the inventory's.
      assert.equal((await evaluate(b, ask(deploy, 'deploy', order))).body.decision, true);
    });

    test('a non-inventory entity: stored attributes over request properties, which may only add; ancestors passed', async () => {
      const ann = { type: 'Person', id: 'ann' };
      assert.equal((await evaluate(b, ask(ann, 'deploy', order))).body.decision, true);
      assert.equal((await evaluate(b, ask({ type: 'Person', id: 'bob' }, 'deploy', order))).body.decision, false);
      // entities.json says Order::"7" is secret: a PEP cannot relabel it public.
      const relabel = await evaluate(b, ask(ann, 'view', { type: 'Order', id: '7', properties: { classification: 'public' } }));
      assert.equal(relabel.body.decision, false, 'the stored classification wins');
      // An attribute the store does not declare is the PEP's to give.
      assert.equal((await evaluate(b, ask(ann, 'view', { type: 'Order', id: '8', properties: { classification: 'public' } }))).body.decision, true);
      // Nor can a PEP move a stored principal out of its declared attributes.
      assert.equal((await evaluate(b, ask({ ...ann, properties: { team: 'x' } }, 'deploy', order))).body.decision, true, 'parents and attrs stay the stored ones');
    });

    test('suspended, unknown identities are denied before Cedar, with the reason', async () => {
      const s = await evaluate(b, ask({ type: 'Identity', id: 'ci/frozen' }, 'orders:read', order));
      assert.equal(s.body.decision, false);
      assert.match(s.body.context.reason_admin.reason, /suspended/);
      const u = await evaluate(b, ask({ type: 'Identity', id: 'ci/nobody' }, 'orders:read', order));
      assert.equal(u.body.decision, false);
      assert.match(u.body.context.reason_admin.reason, /not in the inventory/);
    });

    test("Tether's context members win; action.properties reach policies as context.action", async () => {
      const r = await evaluate(b, ask(deploy, 'ctx', order, { context: { phase: 'issue', action: { dry: false } } }));
      assert.equal(r.body.decision, false, 'caller context.action does not replace action.properties');
      const ok = await evaluate(b, { subject: deploy, action: { name: 'ctx', properties: { dry: true } }, resource: order, context: { phase: 'issue' } });
      assert.equal(ok.body.decision, true, 'phase stays "request"');
    });

    test('risk from the risk view reaches context.risk (clamped), over the caller\'s', async () => {
      // The broker's own caches and audit, with a risk view that answers 80 (or out of range).
      const kernelAt = (risk: number) =>
        createDecisionPipeline({
          policies: b.broker.pdp.policies,
          entities: b.broker.pdp.entities,
          identities: b.broker.pdp.identities,
          audit: b.broker.audit,
          logger: { error: () => {} },
          clock: () => new Date(),
          risk: { riskOf: () => risk, requireApproval: () => false },
        });
      const input = { entry: 'authzen' as const, principal: deploy, action: { name: 'orders:write' }, resource: order, context: { risk: 0 } };
      assert.equal((await kernelAt(80).decide(input)).decision, false);
      assert.equal((await kernelAt(250).decide(input)).decision, false, 'clamped to 100, not ignored');
      assert.equal((await kernelAt(Number.NaN).decide(input)).decision, false, 'NaN counts as the worst');
      assert.equal((await evaluate(b, ask(deploy, 'orders:write', order))).body.decision, true);
    });

    test('token scopes are an upper bound (ext-authz entry, called directly)', async () => {
      const seen: DecisionEvent[] = [];
      const off = b.broker.pdp.pipeline.onDecision((e) => void seen.push(e));
      const base = { entry: 'ext-authz' as const, principal: deploy, action: { name: 'orders:read' }, resource: order, request: { method: 'GET', path: '/orders/42', source_ip: '10.0.0.1' } };
      const token = { jti: 'j1', grant: 'g1', jkt: 'k1', scopes: ['orders:write'], task: { id: 't1', purpose: 'deploy' } };
      const out = await b.broker.pdp.pipeline.decide({ ...base, token });
      assert.equal(out.decision, false);
      assert.match(out.reasons.reason ?? '', /outside the token's scopes/);
      const ok = await b.broker.pdp.pipeline.decide({ ...base, token: { ...token, scopes: ['orders:read'] } });
      assert.equal(ok.decision, true);
      const ev = (await listAuditEvents(b.broker.store, { type: 'decision', after: ok.auditSeq - 1, limit: 1 }))[0]!;
      assert.equal(ev.actor, 'ext-authz');
      assert.equal(ev.identity, 'ci/deploy');
      assert.equal(ev.data['jti'], 'j1');
      assert.equal(ev.data['method'], 'GET');
      assert.deepEqual((ev.data['own'] as { task: unknown }).task, { id: 't1', purpose: 'deploy' });
      await new Promise((r) => setImmediate(r));
      off();
      // Observers are told after the answer (pdp/observers.ts): an earlier test's decision may still be
      // on its way to them when this one subscribes, so only this test's two are counted.
      const mine = seen.filter((e) => e.output.auditSeq === out.auditSeq || e.output.auditSeq === ok.auditSeq);
      assert.equal(mine.length, 2, 'observers see committed decisions');
      assert.equal(mine[1]!.output.auditSeq, ok.auditSeq);
    });

    test('a Cedar evaluation error is a deny carrying the error, never a 500', async () => {
      const r = await evaluate(b, ask(deploy, 'boom', order));
      assert.equal(r.status, 200);
      assert.equal(r.body.decision, false);
      assert.ok(r.body.context.reason_admin.errors.length > 0);
      assert.match(r.body.context.reason_admin.errors[0], /boom/);
    });

    test('values Cedar cannot take are 400s naming the member', async () => {
      const bad: Array<[unknown, RegExp]> = [
        [ask({ type: 'Person', id: 'ann', properties: { x: null } }, 'deploy', order), /null/],
        [ask({ type: 'Person', id: 'ann', properties: { x: 1.5 } }, 'deploy', order), /fraction/],
        [ask({ type: 'Bad Type', id: 'ann' }, 'deploy', order), /type name/],
        [ask({ type: 'Person', id: 'ann' }, 'deploy', order, { context: { e: { __entity: { type: 'Identity', id: 'root' }, x: 1 } } }), /escape/],
      ];
      for (const [body, re] of bad) {
        const r = await evaluate(b, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.body.error_description, re);
      }
      // An integer past 2^53 sent as JSON text loses digits in any JSON parser: refused, not rounded.
      const huge = await send(b.url, '/access/v1/evaluation', {
        headers: { 'content-type': 'application/json', ...pdpAuth(b) },
        body: '{"subject":{"type":"Person","id":"ann","properties":{"n":18446744073709551617}},"action":{"name":"deploy"},"resource":{"type":"Order","id":"1"}}',
      });
      assert.equal(huge.status, 400);
      assert.match(huge.body.error_description, /too large/);
    });

    test('every decision is in the audit chain', async () => {
      const before = (await listAuditEvents(b.broker.store, { type: 'decision', limit: 10000 })).length;
      const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => evaluate(b, ask(deploy, 'orders:read', { type: 'Order', id: String(i) }))));
      const seqs = answers.map((a) => Number(a.body.context.id));
      const events = await listAuditEvents(b.broker.store, { type: 'decision', limit: 10000 });
      assert.equal(events.length, before + 5);
      for (const s of seqs) {
        const e = events.find((x) => x.seq === s);
        assert.ok(e, `decision ${s} recorded`);
        assert.equal(e.data['decision'], 'allow');
        assert.deepEqual(e.data['policies'], answers[0]!.body.context.reason_admin.policies);
      }
      assert.equal((await verifyChain(b.broker.store)).ok, true);
    });

    test('fail closed: when the audit cannot be written, the answer is 503, never a decision', async () => {
      const store = b.broker.store;
      await store.exec(`CREATE FUNCTION tether_pdp_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit disk full'; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER tether_pdp_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION tether_pdp_fail();`);
      try {
        const r = await evaluate(b, ask(deploy, 'orders:read', order));
        assert.equal(r.status, 503);
        assert.equal(r.body.decision, undefined);
        const batch = await send(b.url, '/access/v1/evaluations', {
          headers: { 'content-type': 'application/json', ...pdpAuth(b) },
          body: JSON.stringify({ subject: deploy, action: { name: 'orders:read' }, evaluations: [{ resource: order }, { resource: order }] }),
        });
        assert.equal(batch.status, 503);
        assert.equal(batch.body.evaluations, undefined);
      } finally {
        await store.exec('DROP TRIGGER tether_pdp_fail ON audit_events; DROP FUNCTION tether_pdp_fail();');
      }
      assert.equal((await evaluate(b, ask(deploy, 'orders:read', order))).status, 200);
    });

    test('batch limit, content type, metrics', async () => {
      const many = { subject: deploy, action: { name: 'orders:read' }, evaluations: Array.from({ length: 1001 }, () => ({ resource: order })) };
      const r = await send(b.url, '/access/v1/evaluations', { headers: { 'content-type': 'application/json', ...pdpAuth(b) }, body: JSON.stringify(many) });
      assert.equal(r.status, 400);
      assert.match(r.body.error_description, /at most 1000/);
      const t = await send(b.url, '/access/v1/evaluation', { headers: { 'content-type': 'text/plain', ...pdpAuth(b) }, body: JSON.stringify(ask(deploy, 'orders:read', order)) });
      assert.equal(t.status, 400);
      const m = await send(b.url, '/metrics', { method: 'GET' });
      assert.match(m.body, /tether_decisions_total\{entry="authzen",decision="allow"\} [1-9]/);
    });

    test("AuthZEN errors carry their class's code: whole requests in the body, failed batch items in the item context", async () => {
      const json = { 'content-type': 'application/json', ...pdpAuth(b) };
      const media = await send(b.url, '/access/v1/evaluation', { headers: { 'content-type': 'text/plain', ...pdpAuth(b) }, body: JSON.stringify(ask(deploy, 'orders:read', order)) });
      assert.deepEqual([media.status, media.body.error], [400, 'unsupported_media_type']);
      const badJson = await send(b.url, '/access/v1/evaluation', { headers: json, body: '{"subject":' });
      assert.deepEqual([badJson.status, badJson.body.error], [400, 'invalid_request']);
      const missing = await send(b.url, '/access/v1/evaluation', { headers: json, body: JSON.stringify({ action: { name: 'orders:read' }, resource: order }) });
      assert.deepEqual([missing.status, missing.body.error], [400, 'invalid_request']);
      const big = await send(b.url, '/access/v1/evaluation', { headers: json, body: JSON.stringify({ ...ask(deploy, 'orders:read', order), context: { pad: 'x'.repeat(1024 * 1024) } }) });
      assert.deepEqual([big.status, big.body.error], [413, 'payload_too_large']);

      // A batch item Cedar cannot take fails alone: decision false, the class's status and code.
      const r = await send(b.url, '/access/v1/evaluations', { headers: json, body: JSON.stringify({ subject: deploy, action: { name: 'orders:read' }, evaluations: [{ resource: order }, { resource: { type: 'Order' } }] }) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.evaluations[0].decision, true);
      assert.equal(r.body.evaluations[1].decision, false);
      assert.equal(r.body.evaluations[1].context.code, '400');
      assert.equal(r.body.evaluations[1].context.error, 'invalid_request');
      assert.equal(typeof r.body.evaluations[1].context.reason, 'string');
    });
  });

  describe(`TETHER_PDP_TOKEN (${kind})`, () => {
    let b: RunningBroker;
    const pdpToken = 'pdp-token-0123456789abcdef';
    before(async () => {
      b = await startBroker(kind, { pdpToken });
      await applyOk(b, { identities: IDENTITIES, policies: POLICIES });
    });
    after(async () => b.stop());

    test('evaluations require the bearer token; metadata stays public', async () => {
      const body = ask(deploy, 'orders:read', order);
      const none = await evaluate(b, body, { authorization: '' });
      assert.equal(none.status, 401);
      assert.equal(none.body.error, 'unauthorized');
      assert.equal(typeof none.body.error_description, 'string');
      assert.match(none.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal((await evaluate(b, body, { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
      const batch = await send(b.url, '/access/v1/evaluations', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(batch.status, 401);
      const ok = await evaluate(b, body, { authorization: `Bearer ${pdpToken}` });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.decision, true);
      assert.equal((await send(b.url, '/.well-known/authzen-configuration', { method: 'GET' })).status, 200);
    });
  });
}
