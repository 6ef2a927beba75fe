/**
 * Every decision case of both AuthZEN conformance files through the engine and the mapping, checked
 * against the expected decision and against one unpartitioned `isAuthorized` call on the same input:
 * partitioning must never change a decision.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { parseEvaluation, parseEvaluations, type AuthzenEvaluation, type AuthzenItem } from '../../src/pdp/authzen-request.js';
import { compilePolicySet, evaluate, type CompiledPolicySet, type DecisionRequest } from '../../src/policy/index.js';
import { loadConformance, toDecisionRequest, type ConformanceFile } from './fixtures.js';

function rawCedar(policies: string, req: DecisionRequest): 'allow' | 'deny' {
  const answer = cedar.isAuthorized({
    principal: req.principal,
    action: req.action,
    resource: req.resource,
    context: req.context as cedar.Context,
    entities: req.entities as cedar.Entities,
    policies: { staticPolicies: policies },
  });
  assert.equal(answer.type, 'success', JSON.stringify(answer));
  assert.ok(answer.type === 'success');
  assert.deepEqual(answer.response.diagnostics.errors, []);
  return answer.response.decision;
}

function decide(data: ConformanceFile, set: CompiledPolicySet, req: AuthzenEvaluation, label: string): boolean {
  const request = toDecisionRequest(req, data.entities);
  const ours = evaluate(set, request);
  assert.deepEqual(ours.errors, [], `${label}: no evaluation errors`);
  assert.equal(ours.decision, rawCedar(data.policies, request), `${label}: partitioned = unpartitioned`);
  if (ours.decision === 'allow') assert.ok(ours.policies.length > 0, `${label}: an allow names its policies`);
  return ours.decision === 'allow';
}

/** The batch answer as the server will give it: per item, with the semantic's short-circuit. */
function decideBatch(data: ConformanceFile, set: CompiledPolicySet, body: unknown, label: string): boolean | boolean[] {
  const batch = parseEvaluations(body);
  if (batch.single !== undefined) return decide(data, set, batch.single, label);
  const out: boolean[] = [];
  for (const [i, item] of batch.items.entries()) {
    const d = item.ok ? decide(data, set, item.request, `${label}[${i}]`) : false;
    out.push(d);
    if (batch.semantic === 'deny_on_first_deny' && !d) break;
    if (batch.semantic === 'permit_on_first_permit' && d) break;
  }
  return out;
}

for (const name of ['authzen', 'authzen-certification'] as const) {
  test(`${name}: every decision case gives its expected decision, partitioned or not`, () => {
    const data = loadConformance(name);
    const set = compilePolicySet({
      files: { [`${name}.cedar`]: data.policies },
      ...(data.schema === undefined ? {} : { schema: data.schema }),
    });
    let decisions = 0;
    data.cases.forEach((c, n) => {
      if (c.expected === undefined || c.request === null) return;
      const label = c.id ?? `${name}#${n}`;
      const want = typeof c.expected === 'boolean' ? c.expected : c.expected.map((e) => e.decision);
      // `repeat`: the same request must give the same answer every time.
      for (let r = 0; r < (c.repeat ?? 1); r += 1) {
        const got: boolean | boolean[] =
          c.endpoint === 'evaluation'
            ? decide(data, set, parseEvaluation(c.request), label)
            : decideBatch(data, set, c.request, label);
        assert.deepEqual(got, want, label);
        decisions += Array.isArray(want) ? want.length : 1;
      }
      for (const i of c.item_errors ?? []) {
        const item: AuthzenItem | undefined = parseEvaluations(c.request).items[i];
        assert.equal(item?.ok, false, `${label}: item ${i} is refused before Cedar`);
      }
    });
    // As the READMEs count them: 46 in the interop file, 43 (with repeats) in the certification file.
    assert.equal(decisions, name === 'authzen' ? 46 : 43);
  });
}

test('authzen-certification: the schema validates the policy, with the "impossible" warning', () => {
  const data = loadConformance('authzen-certification');
  assert.ok(data.schema !== undefined);
  const set = compilePolicySet({ files: { 'fixture.cedar': data.policies }, schema: data.schema });
  assert.equal(set.warnings.length, 1);
  assert.match(set.warnings[0] ?? '', /soft-delete-record/);
});
