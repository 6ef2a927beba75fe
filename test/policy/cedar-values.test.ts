/** src/pdp/cedar-values.ts: untrusted JSON → Cedar values (kept here, beside the engine it feeds). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../../src/errors.js';
import {
  isEntityTypeName,
  MAX_DEPTH,
  overlayRecord,
  toCedarRecord,
  toCedarValue,
  toEntityRef,
} from '../../src/pdp/cedar-values.js';
import { compilePolicySet, disposePolicySet, evaluate } from '../../src/policy/index.js';

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TetherError);
    assert.equal(e.code, 'invalid_request');
    assert.equal(e.status, 400);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Compare as JSON: outputs are null-prototype records, which deepStrictEqual tells apart from `{}`. */
const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

test('strings, booleans, safe integers, arrays and objects convert', () => {
  const input = { s: 'x', b: true, n: -42, big: Number.MAX_SAFE_INTEGER, list: [1, 'a', [false]], rec: { a: { b: 'c' } } };
  assert.deepEqual(json(toCedarValue(input)), input);
  assert.equal(Object.is(toCedarValue(-0), 0), true, 'no negative zero');
  assert.equal(toCedarValue(12n), 12);
});

test('null, fractions and inexact integers are refused with their JSON path', () => {
  refused(() => toCedarRecord({ a: { b: null } }, 'context'), /^context\.a\.b is null/);
  refused(() => toCedarRecord({ list: [1, 2.5] }, 'resource.properties'), /^resource\.properties\.list\[1\] must be an integer/);
  refused(() => toCedarValue(2 ** 53), /^\$ is an integer too large/);
  refused(() => toCedarValue(-(2 ** 63)), /too large/);
  refused(() => toCedarValue(2n ** 63n), /too large/);
  refused(() => toCedarRecord({ 'odd key': undefined }, 'ctx'), /^ctx\["odd key"\] is not a JSON value/);
  refused(() => toCedarValue(new Date()), /is not a JSON value/);
  refused(() => toCedarRecord([], 'context'), /^context must be an object/);
  refused(() => toCedarRecord('x', 'context'), /^context must be an object/);
});

test('strings that are not well-formed Unicode are refused (cedar-wasm would throw on them)', () => {
  refused(() => toCedarRecord({ s: 'a\ud800' }, 'p'), /^p\.s is not well-formed Unicode/);
  refused(() => toCedarRecord({ ['k\udc00']: 1 }, 'p'), /member name is not well-formed/);
  refused(() => toEntityRef({ type: 'User', id: '\udc00x' }, 'subject'), /subject\.id is not well-formed/);
  assert.equal(toCedarValue('emoji 😀'), 'emoji 😀');
});

test('Cedar escapes are refused unless a well-formed entity reference', () => {
  refused(() => toCedarRecord({ x: { __extn: { fn: 'ip', arg: '10.0.0.1' } } }, 'context'), /^context\.x: members named __entity, __extn or __expr/);
  refused(() => toCedarRecord({ x: { __expr: '1' } }, 'context'), /Cedar escapes/);
  // Cedar would read this as an entity ref and drop `role`: a forged reference with a decoy.
  refused(() => toCedarRecord({ x: { __entity: { type: 'Identity', id: 'root' }, role: 'admin' } }, 'c'), /Cedar escapes/);
  refused(() => toCedarValue({ __entity: { type: 'Identity', id: 'root', extra: 1 } }), /\$\.__entity must have only type and id/);
  refused(() => toCedarValue({ __entity: { type: 'if', id: 'root' } }), /\$\.__entity\.type must be a Cedar type name/);
  refused(() => toCedarValue({ __entity: { type: 'Identity', id: 7 } }), /\$\.__entity\.id must be a string/);
  refused(() => toCedarValue({ __entity: 'Identity::"root"' }), /\$\.__entity must be an object/);
  assert.deepEqual(json(toCedarValue({ __entity: { type: 'NS::Identity', id: 'a' } })), { __entity: { type: 'NS::Identity', id: 'a' } });
});

test('entity type names follow Cedar: Namespace::Type of non-reserved identifiers', () => {
  for (const ok of ['Identity', 'Tether::Identity', '_x', 'A1::B_2', 'user']) assert.equal(isEntityTypeName(ok), true, ok);
  for (const bad of ['', '1x', 'a-b', 'A::', '::A', 'A:::B', 'A::B::', 'in', 'A::true', '__cedar::X', 'A B', 'é', 42]) {
    assert.equal(isEntityTypeName(bad), false, String(bad));
  }
  assert.deepEqual(toEntityRef({ type: 'Order', id: '' }, 'resource'), { type: 'Order', id: '' });
  refused(() => toEntityRef({ type: 'Order' }, 'resource'), /^resource\.id must be a string/);
  refused(() => toEntityRef({ type: 'has', id: 'x' }, 'resource'), /^resource\.type must be a Cedar type name/);
  refused(() => toEntityRef(null, 'resource'), /^resource must be an object/);
});

test('nesting deeper than the limit is refused', () => {
  let deep: unknown = 'leaf';
  for (let i = 0; i < MAX_DEPTH; i += 1) deep = [deep];
  assert.doesNotThrow(() => toCedarValue(deep));
  refused(() => toCedarValue([deep]), new RegExp(`nested deeper than ${MAX_DEPTH}`));
  let rec: unknown = 1;
  for (let i = 0; i < 10_000; i += 1) rec = { a: rec };
  refused(() => toCedarRecord(rec, 'context'), /^context(\.a)+ is nested deeper/);
});

test('__proto__ and constructor keys stay inert attributes; nothing is polluted', () => {
  const input = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "ok": 1}') as unknown;
  const out = toCedarRecord(input, 'context');
  assert.equal(Object.getPrototypeOf(out), null);
  assert.deepEqual(Object.keys(out).sort(), ['__proto__', 'constructor', 'ok']);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(out, '__proto__'), true);
  const merged = overlayRecord(toCedarRecord({ a: 1, b: 2 }), out);
  assert.equal(Object.getPrototypeOf(merged), null);
  assert.deepEqual(Object.keys(merged).sort(), ['__proto__', 'a', 'b', 'constructor', 'ok']);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);

  // And Cedar reads them as ordinary attributes.
  const set = compilePolicySet({ files: { 'p.cedar': 'permit(principal, action, resource) when { context["__proto__"].polluted };' } });
  const r = evaluate(set, {
    principal: { type: 'U', id: 'a' },
    action: { type: 'Action', id: 'x' },
    resource: { type: 'R', id: '1' },
    context: out,
    entities: [],
  });
  assert.equal(r.decision, 'allow');
  disposePolicySet(set);
});

test('overlayRecord: the overlay replaces a stored attribute whole, one level deep', () => {
  const stored = toCedarRecord({ role: 'viewer', tags: { a: '1', b: '2' } });
  const request = toCedarRecord({ tags: { c: '3' } });
  assert.deepEqual(json(overlayRecord(stored, request)), { role: 'viewer', tags: { c: '3' } });
  assert.deepEqual(json(stored), { role: 'viewer', tags: { a: '1', b: '2' } }, 'inputs untouched');
});
