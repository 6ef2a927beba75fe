import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../../src/errors.js';
import { MAX_EVALUATIONS, parseEvaluation, parseEvaluations } from '../../src/pdp/authzen-request.js';
import { loadConformance } from '../policy/fixtures.js';

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TetherError, String(e));
    assert.equal(e.code, 'invalid_request');
    assert.equal(e.status, 400);
    assert.match(e.message, pattern);
    return true;
  });
}

const alice = { type: 'user', id: 'alice' };
const read = { name: 'read' };
const record1 = { type: 'record', id: 'record-1' };

test('certification: every 400 case with a JSON body is refused, naming what is wrong', () => {
  const { cases } = loadConformance('authzen-certification');
  // Cases whose 400 comes from the transport (content type, unparsable or empty body) are the
  // server's; the rest must fail here.
  const expectations: Record<string, RegExp> = {
    'c-2-4-1/1': /^subject is required$/,
    'c-2-4-1/2': /^action is required$/,
    'c-2-4-1/3': /^resource is required$/,
    'c-2-4-2/1': /^subject\.type is required$/,
    'c-2-4-2/2': /^subject\.id is required$/,
    'c-2-4-2/3': /^action\.name is required$/,
    'c-2-4-2/4': /^resource\.type is required$/,
    'c-2-4-2/5': /^resource\.id is required$/,
    'c-2-4-6/1': /^subject must be an object$/,
    'c-2-4-6/2': /^action\.name must be a string$/,
    'derived/x-request-id-on-error': /^subject is required$/,
  };
  const transport = new Set(['c-2-4-3', 'c-2-4-4', 'c-2-4-5', 'derived/batch-malformed-json']);
  let checked = 0;
  for (const c of cases.filter((x) => x.expect_status === 400)) {
    const id = c.id ?? '';
    if (c.request === null || transport.has(id)) {
      assert.ok(transport.has(id), `${id}: a non-JSON or content-type case`);
      continue;
    }
    const pattern = expectations[id];
    assert.ok(pattern !== undefined, `${id}: an expectation is written for every JSON 400 case`);
    const parse = c.endpoint === 'evaluation' ? parseEvaluation : parseEvaluations;
    refused(() => parse(c.request), pattern);
    checked += 1;
  }
  assert.equal(checked, Object.keys(expectations).length);
});

test('certification: every 200 case parses; unknown members and extra properties are kept out of the way', () => {
  const { cases } = loadConformance('authzen-certification');
  for (const c of cases.filter((x) => x.expect_status === 200)) {
    if (c.endpoint === 'evaluation') assert.doesNotThrow(() => parseEvaluation(c.request), c.id);
    else assert.doesNotThrow(() => parseEvaluations(c.request), c.id);
  }
  const extra = cases.find((c) => c.id === 'c-2-2-8');
  assert.deepEqual(parseEvaluation(extra?.request), {
    subject: { type: 'user', id: 'alice', properties: { department: 'Sales', role: 'manager' } },
    action: { name: 'read', properties: { method: 'GET' } },
    resource: { type: 'record', id: 'record-1', properties: { status: 'active', owner: 'bob' } },
  });
  const unknown = cases.find((c) => c.id === 'c-2-2-9');
  assert.deepEqual(parseEvaluation(unknown?.request), { subject: alice, action: read, resource: record1 });
});

test('single evaluation: wrong JSON types are refused', () => {
  refused(() => parseEvaluation(null), /^request body must be an object$/);
  refused(() => parseEvaluation([]), /^request body must be an object$/);
  refused(() => parseEvaluation('x'), /^request body must be an object$/);
  refused(() => parseEvaluation({ subject: alice, action: read, resource: [] }), /^resource must be an object$/);
  refused(() => parseEvaluation({ subject: { type: 1, id: 'a' }, action: read, resource: record1 }), /^subject\.type must be a string$/);
  refused(() => parseEvaluation({ subject: { type: 'user', id: '' }, action: read, resource: record1 }), /^subject\.id must not be empty$/);
  refused(() => parseEvaluation({ subject: { ...alice, properties: 'x' }, action: read, resource: record1 }), /^subject\.properties must be an object$/);
  refused(() => parseEvaluation({ subject: alice, action: { name: 'read', properties: null }, resource: record1 }), /^action\.properties must be an object$/);
  refused(() => parseEvaluation({ subject: alice, action: read, resource: record1, context: 'now' }), /^context must be an object$/);
  assert.deepEqual(parseEvaluation({ subject: alice, action: read, resource: record1, context: { ip: '10.0.0.1' } }), {
    subject: alice,
    action: read,
    resource: record1,
    context: { ip: '10.0.0.1' },
  });
});

test('batch: items take each member whole from the item, else from the defaults', () => {
  const defaults = {
    subject: alice,
    action: read,
    resource: { type: 'record', id: 'record-1', properties: { status: 'active' } },
    context: { time: 't0' },
  };
  const batch = parseEvaluations({
    ...defaults,
    evaluations: [
      {},
      { resource: { type: 'record', id: 'record-2' } },
      { subject: { type: 'user', id: 'bob', properties: { role: 'admin' } }, context: { time: 't1' } },
    ],
  });
  assert.equal(batch.semantic, 'execute_all');
  assert.equal(batch.single, undefined);
  assert.deepEqual(batch.defaults, defaults);
  assert.deepEqual(batch.items, [
    { ok: true, request: defaults },
    // The item's resource replaces the default whole: its `properties` are not inherited.
    { ok: true, request: { ...defaults, resource: { type: 'record', id: 'record-2' } } },
    { ok: true, request: { ...defaults, subject: { type: 'user', id: 'bob', properties: { role: 'admin' } }, context: { time: 't1' } } },
  ]);
});

test('batch: an item incomplete or malformed after defaults is an item error, not a 400', () => {
  const batch = parseEvaluations({
    subject: alice,
    action: read,
    options: { evaluations_semantic: 'execute_all' },
    evaluations: [{ resource: record1 }, {}, { resource: { type: 'record' } }, 'x', { resource: record1, context: [] }],
  });
  assert.deepEqual(batch.items, [
    { ok: true, request: { subject: alice, action: read, resource: record1 } },
    { ok: false, error: 'evaluations[1].resource is required' },
    { ok: false, error: 'evaluations[2].resource.id is required' },
    { ok: false, error: 'evaluations[3] must be an object' },
    { ok: false, error: 'evaluations[4].context must be an object' },
  ]);
});

test('batch: missing or empty evaluations answer like the single endpoint', () => {
  const body = { subject: alice, action: read, resource: record1 };
  for (const b of [body, { ...body, evaluations: [] }]) {
    const batch = parseEvaluations(b);
    assert.deepEqual(batch.single, body);
    assert.deepEqual(batch.items, []);
  }
  refused(() => parseEvaluations({ subject: alice, action: read, evaluations: [] }), /^resource is required$/);
});

test('batch: semantics, and what makes the whole request a 400', () => {
  for (const s of ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const) {
    assert.equal(parseEvaluations({ options: { evaluations_semantic: s }, evaluations: [{}] }).semantic, s);
  }
  assert.equal(parseEvaluations({ options: {}, evaluations: [{}] }).semantic, 'execute_all');
  refused(() => parseEvaluations({ options: { evaluations_semantic: 'first' }, evaluations: [{}] }), /^options\.evaluations_semantic must be one of/);
  refused(() => parseEvaluations({ options: 'fast', evaluations: [{}] }), /^options must be an object$/);
  refused(() => parseEvaluations({ evaluations: {} }), /^evaluations must be an array$/);
  refused(() => parseEvaluations({ subject: 'alice', evaluations: [{}] }), /^subject must be an object$/);
  refused(() => parseEvaluations({ subject: { type: 'user' }, evaluations: [{}] }), /^subject\.id is required$/);
  refused(() => parseEvaluations({ context: 1, evaluations: [{}] }), /^context must be an object$/);
  refused(() => parseEvaluations(42), /^request body must be an object$/);
  const many = Array.from({ length: MAX_EVALUATIONS + 1 }, () => ({}));
  refused(() => parseEvaluations({ subject: alice, action: read, resource: record1, evaluations: many }), /at most 1000/);
  assert.equal(parseEvaluations({ subject: alice, action: read, resource: record1, evaluations: many.slice(1) }).items.length, MAX_EVALUATIONS);
});
