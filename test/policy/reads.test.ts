/**
 * Cedar is handed only what a decision's policies can read (src/policy/reads.ts). These check that
 * doing so never changes an answer: every case below is decided by the engine and by one raw
 * `isAuthorized` call with the whole, unpruned input, and both must agree, including on errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { compilePolicySet, disposePolicySet, evaluate, type CedarEntityJson, type DecisionRequest } from '../../src/policy/index.js';
import { formatCedarError } from '../../src/policy/cedar-error.js';
import { leanInput, policyReads } from '../../src/policy/reads.js';

const est = (text: string): unknown => {
  const j = cedar.policyToJson(text);
  assert.equal(j.type, 'success');
  return j.type === 'success' ? j.json : null;
};

test('a policy reads the names it writes; the context as a value is a read of all of it', () => {
  const r = policyReads(est('permit(principal, action, resource) when { context.risk > 1 && principal has a.b && resource["c d"] == context.e };'));
  for (const n of ['risk', 'a', 'b', 'c d', 'e']) assert.ok(r.names.has(n), n);
  assert.equal(r.names.has('phase'), false);
  // The JSON form's own keys (`"kind": "when"`, `"effect"`, `"left"`) are grammar, not names read.
  for (const n of ['kind', 'effect', 'left', 'conditions']) assert.equal(r.names.has(n), false, n);
  assert.ok(policyReads(est('permit(principal, action, resource) when { principal.kind == "ci_job" };')).names.has('kind'));
  assert.ok(policyReads(est('permit(principal, action, resource) when { principal.rec == {"owner": 1} };')).names.has('owner'), 'record literal keys count');
  assert.equal(r.wholeContext, false);
  assert.equal(policyReads(est('permit(principal, action, resource) when { context == {} };')).wholeContext, true);
  assert.equal(policyReads(est('permit(principal, action, resource) when { [context].contains(context) };')).wholeContext, true);
  assert.equal(policyReads(est('permit(principal, action, resource) when { context has risk };')).wholeContext, false);
});

test('only plain values nobody reads are left out; escapes, nulls, fractions and lone surrogates stay', () => {
  const reads = { names: new Set(['risk']), wholeContext: false };
  const keep = { a: null, b: 1.5, c: 'x\ud800', d: { __entity: { type: 'T', id: 'i' } }, e: { __extn: { fn: 'ip', arg: '1.2.3.4' } }, f: [1, null] };
  const uids = { principal: { type: 'U', id: 'u' }, resource: { type: 'R', id: 'r' } };
  const out = leanInput(reads, { ...uids, context: { risk: 1, phase: 'issue', ...keep } }, [{ uid: { type: 'U', id: 'u' }, attrs: { kind: 'k', risk: 2 }, parents: [{ type: 'G', id: 'g' }], tags: { t: 'v' } }]);
  assert.ok(out);
  assert.deepEqual({ ...out.context }, { risk: 1, ...keep });
  assert.deepEqual(out.entities.map((e) => ({ ...e, attrs: { ...e.attrs } })), [{ uid: { type: 'U', id: 'u' }, attrs: { risk: 2 }, parents: [{ type: 'G', id: 'g' }], tags: { t: 'v' } }]);
  // Records as the decision pipeline builds them (pdp/cedar-values.ts: on a null prototype) are left out alike.
  const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { risk: 1, phase: 'issue', __proto__x: 1 });
  const lean = leanInput(reads, { ...uids, context: nullProto }, []);
  assert.deepEqual(lean && { ...lean.context }, { risk: 1, __proto__x: 1 });
  assert.equal(lean && Object.getPrototypeOf(lean.context), null);
  assert.equal(leanInput({ names: new Set(['risk', 'kind']), wholeContext: false }, { ...uids, context: { risk: 1 } }, [{ uid: { type: 'U', id: 'u' }, attrs: { kind: 'k' }, parents: [] }]), null);
  const whole = leanInput({ names: new Set(), wholeContext: true }, { ...uids, context: { risk: 1 } }, []);
  assert.equal(whole, null, 'a policy reading the whole context gets all of it');

  // Nothing left of the principal or resource: Cedar is not given it (as for an entity without attributes).
  const bare = leanInput(reads, { ...uids, context: { risk: 1 } }, [
    { uid: { type: 'U', id: 'u' }, attrs: { kind: 'k' }, parents: [] },
    { uid: { type: 'R', id: 'r' }, attrs: {}, parents: [] },
    { uid: { type: 'G', id: 'g' }, attrs: {}, parents: [] },
  ]);
  assert.deepEqual(bare?.entities, [{ uid: { type: 'G', id: 'g' }, attrs: {}, parents: [] }], 'only principal and resource are left out, other entities stay');
  // ...but not with parents, tags, other members, or when named twice (Cedar refuses duplicates).
  for (const e of [
    [{ uid: { type: 'R', id: 'r' }, attrs: {}, parents: [{ type: 'G', id: 'g' }] }],
    [{ uid: { type: 'R', id: 'r' }, attrs: {}, parents: [], tags: { t: 'v' } }],
    [{ uid: { type: 'R', id: 'r' }, attrs: {}, parents: [], other: 1 }],
    [{ uid: { type: 'R', id: 'r' }, attrs: {}, parents: [] }, { uid: { type: 'R', id: 'r' }, attrs: {}, parents: [] }],
  ] as unknown as CedarEntityJson[][]) {
    assert.equal(leanInput(reads, { ...uids, context: { risk: 1 } }, e), null, JSON.stringify(e));
  }
});

const u = (id: string, attrs: Record<string, unknown>, parents: CedarEntityJson['parents'] = [], tags?: Record<string, unknown>): CedarEntityJson =>
  ({ uid: { type: 'Identity', id }, attrs, parents, ...(tags ? { tags } : {}) }) as CedarEntityJson;

const FILES = {
  'p.cedar': `
    @id("by-kind") permit(principal, action == Action::"read", resource) when { principal.kind == "ci_job" && context.phase == "request" };
    @id("nested-has") permit(principal, action == Action::"list", resource) when { principal has meta.team && principal.meta.team == "orders" };
    @id("tagged") permit(principal, action == Action::"tag", resource) when { principal.hasTag("tier") && principal.getTag("tier") == "gold" };
    @id("whole-context") permit(principal, action == Action::"ctx", resource) when { context == {"phase": "request", "risk": 1} };
    @id("group") permit(principal in Group::"admins", action == Action::"admin", resource);
    @id("missing") permit(principal, action == Action::"oops", resource) when { principal.nope == 1 };
    @id("guard") forbid(principal, action, resource) when { principal has suspended && principal.suspended };`,
};

/** A deep copy whose records (not arrays) are on a null prototype, as pdp/cedar-values.ts builds them. */
function toNullProto<T>(v: T): T {
  if (Array.isArray(v)) return v.map(toNullProto) as T;
  if (v === null || typeof v !== 'object') return v;
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, x] of Object.entries(v)) out[k] = toNullProto(x);
  return out as T;
}

const IDS = ['by-kind', 'nested-has', 'tagged', 'whole-context', 'group', 'missing', 'guard'];

test('pruned decisions equal unpruned ones: decision, determining policies and errors', () => {
  const set = compilePolicySet({ files: FILES });
  const policies = Object.values(FILES).join('\n');
  const group: CedarEntityJson = { uid: { type: 'Group', id: 'admins' }, attrs: { size: 3, label: 'Admins' }, parents: [] };
  const principals = [
    u('a', { kind: 'ci_job', owner: 'x', labels: { a: 'b' }, environment: 'prod', meta: { team: 'orders', cost: 1 } }, [{ type: 'Group', id: 'admins' }], { tier: 'gold' }),
    u('b', { kind: 'human', owner: 'y', suspended: true, meta: { cost: 2 } }, [], { tier: 'silver' }),
    u('c', { kind: 'ci_job', suspended: false }),
    u('d', { unread: 'x', other: 2 }),
    u('e', {}, [{ type: 'Group', id: 'admins' }]),
  ];
  const contexts = [{ phase: 'request', risk: 1 }, { phase: 'request', risk: 1, extra: 'x', more: { deep: [1, 2] } }, { phase: 'issue', risk: 1 }];
  let cases = 0;
  for (const p of principals) {
    for (const context of contexts) {
      for (const action of ['read', 'list', 'tag', 'ctx', 'admin', 'oops', 'none']) {
        const order: CedarEntityJson = { uid: { type: 'Order', id: '1' }, attrs: { total: 5 }, parents: [] };
        const request: DecisionRequest = { principal: p.uid, action: { type: 'Action', id: action }, resource: order.uid, context, entities: [p, group, order] };
        const ours = evaluate(set, request);
        const raw = cedar.isAuthorized({ principal: request.principal, action: request.action, resource: request.resource, context: context as cedar.Context, entities: request.entities as cedar.Entities, policies: { staticPolicies: policies } });
        assert.ok(raw.type === 'success', JSON.stringify(raw));
        const label = `${p.uid.id} ${action} ${JSON.stringify(context)}`;
        // The same request with its records on null prototypes, as the decision pipeline builds them.
        const viaPdp = evaluate(set, toNullProto(request));
        assert.deepEqual(viaPdp, ours, label);

        const rawErrors = raw.response.diagnostics.errors;
        if (rawErrors.length === 0) {
          assert.equal(ours.decision, raw.response.decision, label);
          // Raw Cedar names policies by position (policy0, …); ours are the @id annotations.
          assert.deepEqual([...ours.policies].sort(), raw.response.diagnostics.reason.map((r) => IDS[Number(r.slice('policy'.length))]).sort(), label);
        }
        // Error texts list the attributes an entity has: they must read as Cedar gives them for the whole input.
        const rawTexts = rawErrors.map((e) => `${IDS[Number(e.policyId.slice('policy'.length))]}: ${formatCedarError(e.error)}`);
        assert.deepEqual([...ours.errors].sort(), rawTexts.sort(), label);
        cases++;
      }
    }
  }
  assert.equal(cases, 105);
  disposePolicySet(set);
});

test('an unread member Cedar would refuse still makes the decision a deny with Cedar\'s message', () => {
  const set = compilePolicySet({ files: { 'p.cedar': 'permit(principal, action, resource) when { context.risk < 5 };' } });
  const base = { principal: { type: 'Identity', id: 'a' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Order', id: '1' }, entities: [] };
  assert.equal(evaluate(set, { ...base, context: { risk: 1, unread: 'fine' } }).decision, 'allow');
  const nulls = evaluate(set, { ...base, context: { risk: 1, unread: null } });
  assert.equal(nulls.decision, 'deny');
  assert.match(nulls.errors.join(), /null/);
  const fraction = evaluate(set, { ...base, context: { risk: 1, unread: 1.5 } });
  assert.equal(fraction.decision, 'deny');
  disposePolicySet(set);
});

test('an entity named twice is refused as Cedar refuses it, even when the copies differ only in unread attributes', () => {
  // Cedar accepts two identical copies of an entity and refuses two that differ ("duplicate entity
  // entry"): pruning the unread attribute that tells them apart must not turn a refusal into an allow.
  const text = 'permit(principal, action, resource) when { context.risk < 5 };';
  const set = compilePolicySet({ files: { 'p.cedar': text } });
  const group = (label: string): CedarEntityJson => ({ uid: { type: 'Group', id: 'g' }, attrs: { label }, parents: [] });
  const principal = (label: string): CedarEntityJson => ({ uid: { type: 'Identity', id: 'a' }, attrs: { label }, parents: [] });
  for (const entities of [[group('one'), group('two')], [principal('one'), principal('two')], [group('one'), { ...group('x'), attrs: {} }]]) {
    const request: DecisionRequest = { principal: { type: 'Identity', id: 'a' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Order', id: '1' }, context: { risk: 1 }, entities };
    const raw = cedar.isAuthorized({ principal: request.principal, action: request.action, resource: request.resource, context: { risk: 1 }, entities: entities as cedar.Entities, policies: { staticPolicies: text } });
    assert.equal(raw.type, 'failure', 'Cedar refuses the whole input');
    const ours = evaluate(set, request);
    assert.equal(ours.decision, 'deny', JSON.stringify(entities));
    assert.match(ours.errors.join(), /duplicate entity entry/);
  }
  disposePolicySet(set);
});

test('an unread value nested past Cedar\'s recursion limit is refused as on the whole input, and never overflows the stack', () => {
  const text = 'permit(principal, action, resource) when { context.risk < 5 };';
  const set = compilePolicySet({ files: { 'p.cedar': text } });
  const base = { principal: { type: 'Identity', id: 'a' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Order', id: '1' } };
  for (const depth of [33, 200, 20_000]) {
    const arrays = JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;
    const records = JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) as unknown;
    for (const deep of [arrays, records]) {
      const entities = [{ uid: base.principal, attrs: { deep }, parents: [] }] as CedarEntityJson[];
      for (const request of [{ ...base, context: { risk: 1, deep }, entities: [] }, { ...base, context: { risk: 1 }, entities }]) {
        let raw: string;
        try {
          const r = cedar.isAuthorized({ ...request, context: request.context as cedar.Context, entities: request.entities as cedar.Entities, policies: { staticPolicies: text } });
          raw = r.type === 'success' ? r.response.decision : 'refused';
        } catch {
          raw = 'refused';
        }
        const ours = evaluate(set, request);
        const label = `depth ${depth}`;
        if (raw === 'refused') {
          assert.equal(ours.decision, 'deny', label);
          assert.match(ours.errors.join(), /cedar refused|recursion/, label);
        } else {
          assert.equal(ours.decision, raw, label);
          assert.deepEqual(ours.errors, [], label);
        }
      }
    }
  }
  disposePolicySet(set);
});

test('an unread sparse array, which Cedar reads with nulls and refuses, is refused as on the whole input', () => {
  const text = 'permit(principal, action, resource) when { context.risk < 5 };';
  const set = compilePolicySet({ files: { 'p.cedar': text } });
  // eslint-disable-next-line no-sparse-arrays
  const sparse = [1, , 2];
  const request: DecisionRequest = { principal: { type: 'Identity', id: 'a' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Order', id: '1' }, context: { risk: 1, sparse }, entities: [] };
  const raw = cedar.isAuthorized({ ...request, context: request.context as cedar.Context, entities: [], policies: { staticPolicies: text } });
  assert.equal(raw.type, 'failure');
  const ours = evaluate(set, request);
  assert.equal(ours.decision, 'deny');
  assert.match(ours.errors.join(), /null/);
  disposePolicySet(set);
});

test('a value whose reading throws never makes the decision throw: Cedar is asked with the whole input', () => {
  const text = 'permit(principal, action, resource) when { context.risk < 5 };';
  const set = compilePolicySet({ files: { 'p.cedar': text } });
  const trap = Object.defineProperty({}, 'x', {
    enumerable: true,
    get() {
      throw new Error('read');
    },
  });
  const request: DecisionRequest = { principal: { type: 'Identity', id: 'a' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Order', id: '1' }, context: { risk: 1, trap }, entities: [] };
  let raw: string;
  try {
    const r = cedar.isAuthorized({ ...request, context: request.context as cedar.Context, entities: [], policies: { staticPolicies: text } });
    raw = r.type === 'success' ? r.response.decision : 'refused';
  } catch {
    raw = 'refused';
  }
  const ours = evaluate(set, request);
  assert.equal(ours.decision, raw === 'refused' ? 'deny' : raw);
  if (raw === 'refused') assert.ok(ours.errors.length > 0);
  disposePolicySet(set);
});
