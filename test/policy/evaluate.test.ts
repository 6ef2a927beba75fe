import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import {
  compilePolicySet,
  disposePolicySet,
  evaluate,
  type CedarEntityJson,
  type DecisionRequest,
} from '../../src/policy/index.js';

const deployer: CedarEntityJson = {
  uid: { type: 'Identity', id: 'ci/acme-api-deploy' },
  attrs: { kind: 'ci_job', environment: 'prod' },
  parents: [],
};

function req(action: string, extra: Partial<DecisionRequest> = {}): DecisionRequest {
  return {
    principal: deployer.uid,
    action: { type: 'Action', id: action },
    resource: { type: 'Order', id: '42' },
    context: { phase: 'request', risk: 10 },
    entities: [deployer],
    ...extra,
  };
}

const POLICIES = {
  'orders.cedar': `
    @id("read") permit(principal, action == Action::"orders:read", resource);
    @id("write") @approval("required") @ttl("PT10M")
    permit(principal, action in [Action::"orders:write", Action::"orders:delete"], resource)
      when { principal.kind == "ci_job" };
    @id("write-short") @ttl("PT2M") @break_glass("allowed")
    permit(principal, action == Action::"orders:write", resource) when { context.risk < 50 };`,
  'guard.cedar': `@id("risky") forbid(principal, action, resource) when { context.risk > 90 };`,
};

test('default deny: an action no policy names is denied with no policies', () => {
  const set = compilePolicySet({ files: POLICIES });
  const r = evaluate(set, req('orders:export'));
  assert.deepEqual(r, {
    decision: 'deny',
    policies: [],
    errors: [],
    obligations: { approval: false, breakGlass: false, bearer: false },
  });
  const empty = compilePolicySet({ files: {} });
  assert.equal(evaluate(empty, req('orders:read')).decision, 'deny');
  disposePolicySet(set);
  disposePolicySet(empty);
});

test('allow names the determining policies and carries their obligations (shortest TTL)', () => {
  const set = compilePolicySet({ files: POLICIES });
  const read = evaluate(set, req('orders:read'));
  assert.equal(read.decision, 'allow');
  assert.deepEqual(read.policies, ['read']);
  assert.deepEqual(read.obligations, { approval: false, breakGlass: false, bearer: false });

  const write = evaluate(set, req('orders:write'));
  assert.equal(write.decision, 'allow');
  assert.deepEqual([...write.policies].sort(), ['write', 'write-short']);
  assert.deepEqual(write.obligations, { approval: true, ttlSeconds: 120, breakGlass: true, bearer: false });

  const del = evaluate(set, req('orders:delete'));
  assert.deepEqual(del.policies, ['write']);
  assert.deepEqual(del.obligations, { approval: true, ttlSeconds: 600, breakGlass: false, bearer: false });
  disposePolicySet(set);
});

test('an unconstrained forbid reaches every action partition', () => {
  const set = compilePolicySet({ files: POLICIES });
  for (const action of ['orders:read', 'orders:write', 'orders:delete']) {
    const r = evaluate(set, req(action, { context: { phase: 'request', risk: 95 } }));
    assert.equal(r.decision, 'deny', action);
    assert.deepEqual(r.policies, ['risky'], action);
  }
  disposePolicySet(set);
});

test('partitioned decisions equal one unpartitioned isAuthorized call', () => {
  const set = compilePolicySet({ files: POLICIES });
  const text = Object.values(POLICIES).join('\n');
  for (const action of ['orders:read', 'orders:write', 'orders:delete', 'orders:export']) {
    for (const risk of [10, 60, 95]) {
      for (const kind of ['ci_job', 'workload']) {
        const ent = { ...deployer, attrs: { ...deployer.attrs, kind } };
        const r = req(action, { context: { risk }, entities: [ent] });
        const raw = cedar.isAuthorized({ ...r, context: r.context as cedar.Context, entities: [ent] as unknown as cedar.Entities, policies: { staticPolicies: text } });
        assert.ok(raw.type === 'success');
        assert.equal(evaluate(set, r).decision, raw.response.decision, `${action} risk=${risk} kind=${kind}`);
      }
    }
  }
  disposePolicySet(set);
});

test('a policy that errors is skipped; an erroring forbid denies (fail closed)', () => {
  const set = compilePolicySet({
    files: {
      'p.cedar': `
        @id("ok") permit(principal, action, resource);
        @id("needs-tier") permit(principal, action, resource) when { principal.tier == "gold" };`,
    },
  });
  const r = evaluate(set, req('orders:read'));
  assert.equal(r.decision, 'allow');
  assert.deepEqual(r.policies, ['ok']);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0] ?? '', /^needs-tier: .*tier/);
  disposePolicySet(set);

  const guarded = compilePolicySet({
    files: {
      'p.cedar': `
        @id("ok") permit(principal, action, resource);
        @id("suspended") forbid(principal, action, resource) when { principal.suspended };`,
    },
  });
  const g = evaluate(guarded, req('orders:read'));
  assert.equal(g.decision, 'deny', 'Cedar alone would allow here');
  assert.deepEqual(g.policies, ['suspended']);
  assert.match(g.errors[0] ?? '', /^suspended: .*suspended/);
  disposePolicySet(guarded);
});

test('input Cedar refuses is a deny with its message, never a throw', () => {
  const set = compilePolicySet({ files: POLICIES });
  const nullCtx = evaluate(set, req('orders:read', { context: { x: null } }));
  assert.equal(nullCtx.decision, 'deny');
  assert.match(nullCtx.errors.join(), /null/);
  // cedar-wasm throws on strings its JSON bridge cannot carry; the engine turns that into a deny.
  const lone = evaluate(set, req('orders:read', { resource: { type: 'Order', id: 'x\ud800' } }));
  assert.equal(lone.decision, 'deny');
  assert.match(lone.errors.join(), /cedar refused the request/);
  const badEntity = evaluate(set, req('orders:read', { entities: [{ uid: deployer.uid } as CedarEntityJson] }));
  assert.equal(badEntity.decision, 'deny');
  assert.match(badEntity.errors.join(), /attrs/);
  disposePolicySet(set);
});

test('action groups from compiled entities and from the schema reach their member actions', () => {
  const files = {
    'groups.cedar': `
      @id("read-only") permit(principal, action in Action::"readOnly", resource);
      @id("all-orders") @ttl("PT5M") permit(principal, action in [Action::"orders"], resource) when { context.risk < 20 };`,
  };
  const viaEntities = compilePolicySet({
    files,
    entities: [
      { uid: { type: 'Action', id: 'orders:read' }, attrs: {}, parents: [{ type: 'Action', id: 'readOnly' }, { type: 'Action', id: 'orders' }] },
      { uid: { type: 'Action', id: 'readOnly' }, attrs: {}, parents: [] },
      { uid: { type: 'Action', id: 'orders:write' }, attrs: {}, parents: [{ type: 'Action', id: 'orders' }] },
    ],
  });
  const viaSchema = compilePolicySet({
    files,
    schema: `
      entity Identity { kind: String, environment: String };
      entity Order;
      action readOnly, orders;
      action "orders:read" in [readOnly, orders] appliesTo { principal: Identity, resource: Order, context: { risk: Long, phase?: String } };
      action "orders:write" in [orders] appliesTo { principal: Identity, resource: Order, context: { risk: Long, phase?: String } };
      action "orders:delete" appliesTo { principal: Identity, resource: Order, context: { risk: Long, phase?: String } };`,
  });
  for (const set of [viaEntities, viaSchema]) {
    assert.deepEqual([...evaluate(set, req('orders:read')).policies].sort(), ['all-orders', 'read-only']);
    assert.deepEqual(evaluate(set, req('orders:write')).policies, ['all-orders']);
    assert.deepEqual(evaluate(set, req('orders:write')).obligations.ttlSeconds, 300);
    assert.equal(evaluate(set, req('orders:write', { context: { risk: 50 } })).decision, 'deny');
    assert.equal(evaluate(set, req('orders:delete')).decision, 'deny');
    // The group itself is an action too: `in` includes equality.
    assert.deepEqual(evaluate(set, req('readOnly')).policies, ['read-only']);
    disposePolicySet(set);
  }
});

test('a caller that brings its own action entities is evaluated against every policy', () => {
  const set = compilePolicySet({
    files: { 'g.cedar': '@id("grp") permit(principal, action in Action::"readOnly", resource);' },
  });
  assert.equal(evaluate(set, req('orders:read')).decision, 'deny', 'no known group membership');
  const own: CedarEntityJson = { uid: { type: 'Action', id: 'orders:read' }, attrs: {}, parents: [{ type: 'Action', id: 'readOnly' }] };
  const r = evaluate(set, req('orders:read', { entities: [deployer, own] }));
  assert.equal(r.decision, 'allow');
  assert.deepEqual(r.policies, ['grp']);
  disposePolicySet(set);
});

test('two versions coexist; a disposed one denies with an error and the other keeps serving', () => {
  const v1 = compilePolicySet({ files: { 'p.cedar': '@id("v1") permit(principal, action == Action::"orders:read", resource);' } });
  const v2 = compilePolicySet({ files: { 'p.cedar': '@id("v2") permit(principal, action == Action::"orders:read", resource);' } });
  assert.deepEqual(evaluate(v1, req('orders:read')).policies, ['v1']);
  assert.deepEqual(evaluate(v2, req('orders:read')).policies, ['v2']);
  disposePolicySet(v1);
  disposePolicySet(v1); // idempotent
  const gone = evaluate(v1, req('orders:read'));
  assert.equal(gone.decision, 'deny');
  assert.match(gone.errors[0] ?? '', /disposed/);
  assert.deepEqual(evaluate(v2, req('orders:read')).policies, ['v2']);
  disposePolicySet(v2);
});

test('a hand-made object is not a compiled set', () => {
  assert.throws(() => evaluate({ version: 'x', sourceHash: 'y', warnings: [] }, req('orders:read')), /not a compiled policy set/);
});
