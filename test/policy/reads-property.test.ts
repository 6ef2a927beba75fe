/**
 * Property: for generated policy sets and requests, the engine (which hands Cedar only what the
 * policies can read, src/policy/reads.ts) answers as one raw `isAuthorized` call on the whole input:
 * decision, determining policies and error texts (with the engine's one stricter rule applied to the
 * raw answer: an erroring forbid denies, evaluate.ts). The generator mixes the forms that read without
 * a plain attribute name (`has` paths, tags, `in`, `is`, the context as a value, entity-valued
 * attributes and context members, action entities brought by the caller) with principals and
 * resources that are absent, bare, the same entity, or reached through parents.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { compilePolicySet, disposePolicySet, evaluate, type CedarEntityJson, type DecisionRequest } from '../../src/policy/index.js';
import { formatCedarError } from '../../src/policy/cedar-error.js';

const CONDS = [
  'principal has a', 'principal has a.b', 'resource has a.b', 'principal.hasTag("a")', 'principal.getTag("a") == 1', 'principal.hasTag(context.k)',
  'context has a', 'context has a.b', 'context.a == 1', 'context == {"a": 1}', '[context].contains({"a":1})', 'principal in resource', 'resource in principal',
  'principal is U', 'principal == resource', 'principal.a == resource', 'resource.o == principal', 'resource.o has a', 'resource.o.a == 1',
  'principal.a.b == 1', 'context.k like "a*"', '(if context has a then context else {}) == {}', 'principal in G::"g"', 'resource.o in G::"g"',
  '{"a": principal}.a has b', 'principal.a.contains(1)', 'action.a == 1', 'principal["a"] == 1', 'context.o.a == 1', 'context.o has a', 'true',
];
const ACTIONS = ['action', 'action == Action::"x"', 'action in Action::"grp"', 'action == Action::"y"'];

test('pruned decisions equal raw Cedar on the whole input, over generated policies and requests', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;
  const val = (): unknown => pick([1, 'a', true, { b: 1 }, { a: 1 }, [1], {}]);
  const P = { type: 'U', id: 'u' };
  const attrs = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const k of ['a', 'b', 'x', 'o']) if (rnd(2)) o[k] = k === 'o' ? pick([{ __entity: P }, { __entity: { type: 'R', id: 'r' } }, 1]) : val();
    return o;
  };
  let cases = 0;
  for (let i = 0; i < 150; i++) {
    const pols: string[] = [];
    for (let j = 0; j < 1 + rnd(3); j++) {
      pols.push(`@id("p${j}") ${pick(['permit', 'permit', 'forbid'])}(principal, ${pick(ACTIONS)}, resource) when { ${pick(CONDS)} ${pick(['&&', '||'])} ${pick(CONDS)} };`);
    }
    const text = pols.join('\n');
    const set = compilePolicySet({ files: { 'p.cedar': text } });
    for (let r = 0; r < 20; r++) {
      const samePR = rnd(6) === 0;
      const R = samePR ? P : { type: 'R', id: 'r' };
      const entities: CedarEntityJson[] = [];
      if (rnd(3)) entities.push({ uid: P, attrs: attrs(), parents: rnd(3) ? [] : [{ type: 'G', id: 'g' }], ...(rnd(3) ? {} : { tags: { a: 1 } }) } as CedarEntityJson);
      if (!samePR && rnd(3)) entities.push({ uid: R, attrs: attrs(), parents: rnd(3) ? [] : [P] } as CedarEntityJson);
      if (rnd(2)) entities.push({ uid: { type: 'G', id: 'g' }, attrs: attrs(), parents: [] } as CedarEntityJson);
      // A second copy of an entity differing in an attribute no policy reads: Cedar refuses the input.
      if (entities.length > 0 && rnd(10) === 0) {
        const e = pick(entities);
        entities.push({ ...e, attrs: { ...e.attrs, unread: 'another' } } as CedarEntityJson);
      }
      if (rnd(3) === 0) entities.push({ uid: { type: 'Action', id: 'x' }, attrs: attrs(), parents: rnd(2) ? [{ type: 'Action', id: 'grp' }] : [] } as CedarEntityJson);
      const context: Record<string, unknown> = {};
      for (const k of ['a', 'k', 'o', 'z']) if (rnd(2)) context[k] = k === 'k' ? pick(['a', 'ab', 'b']) : k === 'o' ? pick([{ __entity: P }, { a: 1 }]) : val();
      const request: DecisionRequest = { principal: P, action: { type: 'Action', id: pick(['x', 'y']) }, resource: R, context, entities } as DecisionRequest;
      const label = `${text}\n${JSON.stringify(request)}`;
      const ours = evaluate(set, request);
      const raw = cedar.isAuthorized({ ...request, context: context as cedar.Context, entities: entities as cedar.Entities, policies: { staticPolicies: text } });
      cases++;
      if (raw.type === 'failure') {
        assert.equal(ours.decision, 'deny', label);
        continue;
      }
      const id = (policyId: string): string => `p${policyId.slice('policy'.length)}`;
      const errs = raw.response.diagnostics.errors;
      assert.deepEqual([...ours.errors].sort(), errs.map((e) => `${id(e.policyId)}: ${formatCedarError(e.error)}`).sort(), label);
      const erroredForbid = errs.some((e) => pols[Number(e.policyId.slice('policy'.length))]!.includes('forbid'));
      if (raw.response.decision === 'allow' && erroredForbid) {
        assert.equal(ours.decision, 'deny', label);
      } else {
        assert.equal(ours.decision, raw.response.decision, label);
        assert.deepEqual([...ours.policies].sort(), raw.response.diagnostics.reason.map(id).sort(), label);
      }
    }
    disposePolicySet(set);
  }
  assert.equal(cases, 3000);
});
