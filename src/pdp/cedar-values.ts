/**
 * Untrusted JSON (AuthZEN properties and context, inventory attributes) → Cedar JSON values.
 *
 * Cedar reads some JSON objects as escapes rather than records: `{"__entity": …}` is an entity
 * reference and `{"__extn": …}` an extension value, and it ignores members it does not expect next to
 * them. A caller who could send `{"__entity": {"type": "Identity", "id": "root"}}` would forge an entity
 * reference, so escapes are refused unless they are a well-formed entity ref with a legal type name.
 * Everything else Cedar cannot hold exactly is refused too, with the JSON path, as a 400:
 * null, fractions, integers JavaScript cannot hold exactly, strings that are not well-formed Unicode
 * (cedar-wasm would throw on them, or two ids could collapse into one), and deep nesting.
 *
 * Records are built on `Object.create(null)`: a `__proto__` or `constructor` key is an ordinary,
 * inert attribute and no output object inherits anything.
 */
import { invalidRequest } from '../errors.js';
import type { EntityRef } from '../policy/index.js';

export type CedarValue = string | number | boolean | CedarValue[] | CedarEntityEscape | CedarRecord;
export interface CedarRecord {
  [key: string]: CedarValue;
}
export interface CedarEntityEscape {
  __entity: EntityRef;
}

/** Containers nested deeper than this are refused (a 400, not a stack overflow in Cedar or here). */
export const MAX_DEPTH = 32;

/**
 * Most values (leaves, array items and record members) one decision's outside input may carry to
 * Cedar. cedar-wasm converts every value on every call, about 20 µs per record member (DESIGN.md
 * "Performance budget"): one MCP tool call with 150,000 argument members held the event loop 3 s.
 * At this bound the worst input costs under 100 ms; real contexts and tool arguments hold far fewer.
 */
export const MAX_VALUES = 4096;

/** What is left of one decision's value allowance, shared by every conversion of its input. */
export interface ValueBudget {
  left: number;
}

export const valueBudget = (max = MAX_VALUES): ValueBudget => ({ left: max });

/** Whether `input` holds more than `max` values (counted as the converter counts them); stops early. */
export function exceedsValues(input: unknown, max = MAX_VALUES): boolean {
  let left = max;
  const stack: unknown[] = [input];
  while (stack.length > 0) {
    const v = stack.pop();
    if (--left < 0) return true;
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      if (v.length > left) return true;
      for (const x of v) stack.push(x);
    } else {
      for (const k in v) if (Object.hasOwn(v, k)) stack.push((v as Record<string, unknown>)[k]);
      if (stack.length > left + 1) return true;
    }
  }
  return false;
}

const spend = (budget: ValueBudget | undefined, path: string): void => {
  if (budget !== undefined && --budget.left < 0) throw invalidRequest(`${path}: the input holds more than ${MAX_VALUES} values in all (members, items and leaves)`);
};

const IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
// Cedar refuses these as identifiers anywhere in a type name; `__cedar` is its own namespace.
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);
const ESCAPES = new Set(['__entity', '__extn', '__expr']);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// String.prototype.isWellFormed is ES2024, past our TypeScript lib.
function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** A Cedar entity type name: `Type` or `Namespace::Type`, identifiers that are not reserved words. */
export function isEntityTypeName(name: unknown): name is string {
  if (typeof name !== 'string' || name === '') return false;
  return name.split('::').every((part) => IDENT.test(part) && !RESERVED.has(part));
}

/** Check a `{type, id}` pair from outside: a legal type name, an id that is any well-formed string. */
export function toEntityRef(input: unknown, path: string): EntityRef {
  if (!isPlainObject(input)) throw invalidRequest(`${path} must be an object with type and id`);
  const type = input['type'];
  const id = input['id'];
  if (!isEntityTypeName(type)) {
    throw invalidRequest(`${path}.type must be a Cedar type name (Namespace::Type, identifiers [_a-zA-Z][_a-zA-Z0-9]*)`);
  }
  if (typeof id !== 'string') throw invalidRequest(`${path}.id must be a string`);
  if (!isWellFormed(id)) throw invalidRequest(`${path}.id is not well-formed Unicode`);
  return { type, id };
}

/** Convert any JSON value; throws invalid_request naming the path of the first bad member. */
export function toCedarValue(input: unknown, path = '$', budget?: ValueBudget): CedarValue {
  return convert(input, path, 0, budget);
}

/** Convert a JSON object (entity attributes, context) to a Cedar record. */
export function toCedarRecord(input: unknown, path = '$', budget?: ValueBudget): CedarRecord {
  if (!isPlainObject(input)) throw invalidRequest(`${path} must be an object`);
  return convertRecord(input, path, 0, budget);
}

/**
 * `overlay` laid over `base`, one level deep: a key in `overlay` replaces the attribute of that name
 * whole. Both must come from this module; the result is a fresh null-prototype record.
 */
export function overlayRecord(base: CedarRecord, overlay: CedarRecord): CedarRecord {
  const out = Object.create(null) as CedarRecord;
  for (const [k, v] of Object.entries(base)) out[k] = v;
  for (const [k, v] of Object.entries(overlay)) out[k] = v;
  return out;
}

function convert(input: unknown, path: string, depth: number, budget: ValueBudget | undefined): CedarValue {
  spend(budget, path);
  switch (typeof input) {
    case 'string':
      if (!isWellFormed(input)) throw invalidRequest(`${path} is not well-formed Unicode`);
      return input;
    case 'boolean':
      return input;
    case 'number':
      // Cedar's Long is a signed 64-bit integer; a JSON number past 2^53 has already lost digits.
      if (!Number.isInteger(input)) throw invalidRequest(`${path} must be an integer: Cedar has no fractions`);
      if (!Number.isSafeInteger(input)) throw invalidRequest(`${path} is an integer too large to be exact`);
      return input === 0 ? 0 : input; // no -0
    case 'bigint':
      if (input < BigInt(Number.MIN_SAFE_INTEGER) || input > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw invalidRequest(`${path} is an integer too large to be exact`);
      }
      return Number(input);
    case 'object':
      break;
    default:
      throw invalidRequest(`${path} is not a JSON value`);
  }
  if (input === null) throw invalidRequest(`${path} is null: Cedar has no null; leave the member out`);
  if (depth >= MAX_DEPTH) throw invalidRequest(`${path} is nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(input)) return input.map((v, i) => convert(v, `${path}[${i}]`, depth + 1, budget));
  if (!isPlainObject(input)) throw invalidRequest(`${path} is not a JSON value`);
  const keys = Object.keys(input);
  if (keys.some((k) => ESCAPES.has(k))) {
    if (keys.length === 1 && keys[0] === '__entity') return entityEscape(input['__entity'], `${path}.__entity`);
    throw invalidRequest(
      `${path}: members named __entity, __extn or __expr are Cedar escapes; only {"__entity": {"type", "id"}} alone is accepted`,
    );
  }
  return convertRecord(input, path, depth, budget);
}

function convertRecord(input: Record<string, unknown>, path: string, depth: number, budget: ValueBudget | undefined): CedarRecord {
  if (depth >= MAX_DEPTH) throw invalidRequest(`${path} is nested deeper than ${MAX_DEPTH} levels`);
  const out = Object.create(null) as CedarRecord;
  for (const key of Object.keys(input)) {
    const at = memberPath(path, key);
    if (!isWellFormed(key)) throw invalidRequest(`${at}: member name is not well-formed Unicode`);
    out[key] = convert(input[key], at, depth + 1, budget);
  }
  return out;
}

function entityEscape(input: unknown, path: string): CedarEntityEscape {
  if (isPlainObject(input) && Object.keys(input).some((k) => k !== 'type' && k !== 'id')) {
    throw invalidRequest(`${path} must have only type and id`);
  }
  return { __entity: toEntityRef(input, path) };
}

function memberPath(path: string, key: string): string {
  return IDENT.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** A JSON object: plain or null-prototype, not an array, Date, Map or class instance. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
