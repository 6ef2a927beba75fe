import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../../src/errors.js';
import {
  annotations,
  compilePolicySet,
  disposePolicySet,
  policyIds,
  sourceHash,
} from '../../src/policy/index.js';

const SCHEMA = `
entity Identity { kind: String };
entity Order;
action "orders:read", "orders:write" appliesTo { principal: Identity, resource: Order };
`;

function refusal(fn: () => unknown): TetherError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TetherError, `expected a TetherError, got ${String(e)}`);
    assert.equal(e.code, 'invalid_request');
    assert.equal(e.status, 400);
    return e;
  }
  assert.fail('expected compilePolicySet to throw');
}

test('a parse error names the file, line and Cedar message', () => {
  const e = refusal(() =>
    compilePolicySet({
      files: {
        'a-good.cedar': 'permit(principal, action, resource);',
        'b-broken.cedar': '// header\npermit(principal, action, resource);\npermit(principal, action == , resource);\n',
      },
    }),
  );
  assert.match(e.message, /^b-broken\.cedar:3:\d+: /);
  assert.match(e.message, /unexpected token|expected/i);
});

test('an unterminated policy reports the file', () => {
  const e = refusal(() => compilePolicySet({ files: { 'x.cedar': 'permit(principal, action, resource' } }));
  assert.match(e.message, /^x\.cedar:1:\d+: unexpected end of input/);
});

test('policy ids: @id when present, else <file>:<index>', () => {
  const set = compilePolicySet({
    files: {
      'main.cedar': `
        @id("read-orders") permit(principal, action == Action::"orders:read", resource);
        permit(principal, action == Action::"orders:write", resource);
        forbid(principal, action, resource) when { context.risk > 90 };`,
    },
  });
  assert.deepEqual(policyIds(set), ['read-orders', 'main.cedar:1', 'main.cedar:2']);
  disposePolicySet(set);
});

test('duplicate ids are refused, naming both files', () => {
  const e = refusal(() =>
    compilePolicySet({
      files: {
        'one.cedar': '@id("p") permit(principal, action, resource);',
        'two.cedar': '@id("p") forbid(principal, action, resource);',
      },
    }),
  );
  assert.match(e.message, /two\.cedar: duplicate policy id "p" \(also in one\.cedar\)/);
});

test('an empty @id and policy templates are refused', () => {
  assert.match(refusal(() => compilePolicySet({ files: { 'e.cedar': '@id("") permit(principal, action, resource);' } })).message, /e\.cedar: .*empty @id/);
  assert.match(
    refusal(() => compilePolicySet({ files: { 't.cedar': 'permit(principal == ?principal, action, resource);' } })).message,
    /t\.cedar: policy templates are not supported/,
  );
});

test('with a schema, a policy that does not validate refuses the whole set', () => {
  const e = refusal(() =>
    compilePolicySet({
      files: {
        'ok.cedar': 'permit(principal, action == Action::"orders:read", resource) when { principal.kind == "ci_job" };',
        'bad.cedar': '\n\n@id("typo") permit(principal, action == Action::"orders:read", resource) when { principal.knd == "x" };',
      },
      schema: SCHEMA,
    }),
  );
  assert.match(e.message, /does not validate against the schema/);
  assert.match(e.message, /bad\.cedar:3:\d+: .*knd/);
  assert.match(e.message, /\[policy "typo"\]/);
  assert.doesNotMatch(e.message, /ok\.cedar/);
});

test('with a schema, an unknown action refuses the set; a valid set compiles', () => {
  refusal(() =>
    compilePolicySet({ files: { 'a.cedar': 'permit(principal, action == Action::"orders:delete", resource);' }, schema: SCHEMA }),
  );
  const set = compilePolicySet({
    files: { 'a.cedar': 'permit(principal is Identity, action == Action::"orders:read", resource is Order);' },
    schema: SCHEMA,
  });
  assert.deepEqual(set.warnings, []);
  disposePolicySet(set);
});

test('a schema that does not parse is refused as the schema', () => {
  const e = refusal(() =>
    compilePolicySet({ files: { 'a.cedar': 'permit(principal, action, resource);' }, schema: 'entity Identity {' }),
  );
  assert.match(e.message, /^schema:1:\d+: /);
});

test('annotations are kept per policy; obligations are checked at compile time', () => {
  const set = compilePolicySet({
    files: {
      'p.cedar': `@id("deploy") @approval("required") @ttl("PT10M") @break_glass("allowed") @owner("team-a")
        permit(principal, action == Action::"deploy", resource);`,
    },
  });
  assert.deepEqual({ ...annotations(set, 'deploy') }, {
    id: 'deploy',
    approval: 'required',
    ttl: 'PT10M',
    break_glass: 'allowed',
    owner: 'team-a',
  });
  assert.equal(annotations(set, 'nope'), undefined);
  disposePolicySet(set);

  for (const [ann, pattern] of [
    ['@ttl("10m")', /@ttl must be a positive ISO-8601 duration/],
    ['@ttl("P1M")', /@ttl must be/], // months have no fixed length
    ['@ttl("PT0S")', /@ttl must be/],
    ['@ttl("PT")', /@ttl must be/],
    ['@approval("yes")', /@approval must be "required"/],
    ['@break_glass("true")', /@break_glass must be "allowed"/],
  ] as const) {
    const e = refusal(() => compilePolicySet({ files: { 'o.cedar': `${ann} permit(principal, action, resource);` } }));
    assert.match(e.message, /^o\.cedar: policy "o\.cedar:0": /);
    assert.match(e.message, pattern);
  }
});

test('only action entities may be compiled with a set', () => {
  const e = refusal(() =>
    compilePolicySet({
      files: {},
      entities: [{ uid: { type: 'Identity', id: 'a' }, attrs: {}, parents: [] }],
    }),
  );
  assert.match(e.message, /only action entities/);
  assert.match(refusal(() => compilePolicySet({ files: {}, entities: [{} as never] })).message, /entities\[0\]/);
  assert.match(refusal(() => compilePolicySet({ files: { 'f.cedar': 42 as never } })).message, /f\.cedar: .*string/);
});

test('source hash: same sources in any key order give the same hash; versions stay distinct', () => {
  const a = compilePolicySet({
    files: { 'a.cedar': 'permit(principal, action, resource);', 'b.cedar': 'forbid(principal, action, resource) when { context.risk > 50 };' },
  });
  const b = compilePolicySet({
    files: { 'b.cedar': 'forbid(principal, action, resource) when { context.risk > 50 };', 'a.cedar': 'permit(principal, action, resource);' },
  });
  const c = compilePolicySet({ files: { 'a.cedar': 'permit(principal, action, resource);' } });
  const d = compilePolicySet({ files: { 'a.cedar': 'permit(principal, action, resource);' }, schema: SCHEMA });
  assert.match(sourceHash(a), /^[0-9a-f]{64}$/);
  assert.equal(sourceHash(a), sourceHash(b));
  assert.notEqual(sourceHash(a), sourceHash(c));
  assert.notEqual(sourceHash(c), sourceHash(d), 'the schema is part of an apply');
  assert.notEqual(a.version, b.version);
  assert.ok(Object.isFrozen(a));
  for (const s of [a, b, c, d]) disposePolicySet(s);
});
