/**
 * What a set of policies can read of a request's data, so a decision hands Cedar only that (DESIGN.md
 * "Performance budget": Cedar converts every entity attribute and context value on every call, and
 * the context Tether builds and the inventory's attributes are most of a decision's cost).
 *
 * Cedar reads an entity attribute or a context member only by a name written in the policy text:
 * `e.name`, `e has name` (or `e has a.b`), `e["name"]`; there is no computed attribute access, and
 * entity equality compares uids, never attributes. Tags (`getTag`, `hasTag`) are a separate map and are
 * never dropped. So a value under a name that appears nowhere in a policy's JSON form cannot change
 * what the policy evaluates to. `names` is a superset: every string value of the policy's JSON form
 * (attribute names, literals, entity types and ids, annotations) and the keys of record literals, so a
 * name cannot be missed however an operator places it among its operands; the JSON form's own keys
 * (`effect`, `kind`, `left`, `attr`, …) are its grammar, not names.
 * The context as a whole (`context == {...}`, `[context]`) is a read of every member: `wholeContext`.
 */
import type { CedarEntityJson, EntityRef } from './types.js';

export interface PolicyReads {
  readonly names: ReadonlySet<string>;
  readonly wholeContext: boolean;
}

const isContextVar = (v: unknown): boolean =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>)['Var'] === 'context';

/** The reads of one policy, from its JSON form (cedar-wasm `policyToJson`). */
export function policyReads(est: unknown): PolicyReads {
  const names = new Set<string>();
  let wholeContext = false;
  const visit = (node: unknown): void => {
    if (typeof node === 'string') {
      names.add(node);
      return;
    }
    if (Array.isArray(node)) {
      for (const x of node) visit(x);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (isContextVar(node)) {
      // Reached only where the context is used as a value, not as the object of `.`/`has`.
      wholeContext = true;
      return;
    }
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      // Keys are the JSON form's grammar (`effect`, `kind`, `left`, `attr`, …), never a name read,
      // except a record literal's keys, which are kept too (a superset costs nothing).
      if (k === 'Record' && v !== null && typeof v === 'object') for (const key of Object.keys(v)) names.add(key);
      if ((k === '.' || k === 'has') && v !== null && typeof v === 'object' && isContextVar((v as Record<string, unknown>)['left'])) {
        // `context.name` / `context has name`: a read of that member only (the name is collected below).
        for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) if (k2 !== 'left') visit(v2);
        continue;
      }
      visit(v);
    }
  };
  visit(est);
  return { names, wholeContext };
}

/** The reads of several policies together. */
export function unionReads(all: readonly PolicyReads[]): PolicyReads {
  const names = new Set<string>();
  for (const r of all) for (const n of r.names) names.add(n);
  return { names, wholeContext: all.some((r) => r.wholeContext) };
}

/** A literal or a record Tether built on `Object.create(null)` (pdp/cedar-values.ts), not a class instance. */
function plainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** No lone UTF-16 surrogate (ES2024 `isWellFormed`, in Node 20; the ES2022 lib does not declare it). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Whether Cedar accepts `v` as a JSON value with no escapes: a boolean, a safe integer (Cedar `Long`),
 * a well-formed string, or a set or record of those. Only such values are ever dropped: anything else
 * (null, a fraction, a lone surrogate, an `__entity`/`__extn` escape) stays, so Cedar refuses or reads
 * it exactly as it would have.
 */
// Cedar's JSON reader refuses (throws) a value nested past its recursion limit (128 levels over the
// whole input), and a deep enough value would overflow this walk's stack: nothing nested past this
// depth is taken as plain, so such a value stays and Cedar refuses it as it would have.
const PLAIN_DEPTH = 32;

function plain(v: unknown, depth = 0): boolean {
  if (depth > PLAIN_DEPTH) return false;
  switch (typeof v) {
    case 'boolean':
      return true;
    case 'number':
      return Number.isSafeInteger(v);
    case 'string':
      return wellFormed(v);
    case 'object': {
      if (v === null) return false;
      if (Array.isArray(v)) {
        // Not `every`: it skips the holes of a sparse array, which Cedar reads as `null` and refuses.
        if (Object.getPrototypeOf(v) !== Array.prototype) return false;
        for (let i = 0; i < v.length; i++) if (!Object.prototype.hasOwnProperty.call(v, i) || !plain(v[i], depth + 1)) return false;
        return true;
      }
      if (!plainObject(v)) return false;
      for (const [k, x] of Object.entries(v)) if (k.startsWith('__') || !wellFormed(k) || !plain(x, depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** `record` without the plain members no name in `names` reads; the same object when nothing goes. */
function keepRead(record: Readonly<Record<string, unknown>>, names: ReadonlySet<string>): Readonly<Record<string, unknown>> {
  const keys = Object.keys(record);
  // A key spelled like an escape (`__entity`, `__extn`) or not well formed stays too: Cedar reads the
  // record differently or refuses it, as before.
  const kept = keys.filter((k) => names.has(k) || k.startsWith('__') || !wellFormed(k) || !plain(record[k]));
  if (kept.length === keys.length) return record;
  // Built as cedar-values.ts builds records: on a null prototype, so `__proto__` is an ordinary key.
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of kept) out[k] = record[k];
  return out;
}

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => v !== null && typeof v === 'object' && !Array.isArray(v) && plainObject(v);

const ENTITY_MEMBERS = new Set(['uid', 'attrs', 'parents', 'tags']);
const emptyRecord = (v: unknown): boolean => isRecord(v) && Object.keys(v).length === 0;

function distinctPlainUids(entities: readonly CedarEntityJson[]): boolean {
  const seen = new Set<string>();
  for (const e of entities) {
    if (e === null || typeof e !== 'object') return false;
    const uid = e.uid as unknown;
    if (!isRecord(uid)) return false;
    const keys = Object.keys(uid);
    if (keys.length !== 2 || typeof uid['type'] !== 'string' || typeof uid['id'] !== 'string') return false;
    const key = JSON.stringify([uid['type'], uid['id']]);
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

/**
 * The request's context and entities with what `reads` cannot reach left out, or null when nothing
 * can be. Uids, parents and tags stay: only attribute and context values go, and then the principal or
 * resource entity itself when nothing is left of it (no attributes, parents or tags): Cedar answers
 * for an entity it was not given exactly as for one without attributes (`has` and `hasTag` are false,
 * `in` follows no parent, `.x` and `getTag` are errors). An entity named twice stays, for Cedar to refuse.
 */
export function leanInput(
  reads: PolicyReads,
  request: { readonly principal: EntityRef; readonly resource: EntityRef; readonly context: Readonly<Record<string, unknown>> },
  entities: readonly CedarEntityJson[],
): { context: Readonly<Record<string, unknown>>; entities: readonly CedarEntityJson[] } | null {
  // Cedar accepts identical copies of an entity and refuses copies that differ ("duplicate entity
  // entry"): pruning could make differing copies identical and turn that refusal into an answer. Any
  // entity named twice, or by a uid not in the plain `{type, id}` form (an `__entity` escape names
  // the same entity under another spelling), leaves the whole input as it is.
  if (!distinctPlainUids(entities)) return null;
  const { context } = request;
  const ctx = !reads.wholeContext && isRecord(context) ? keepRead(context, reads.names) : context;
  let ents: Array<CedarEntityJson | null> | undefined;
  const same = (a: EntityRef, b: EntityRef) => a.type === b.type && a.id === b.id;
  const named = (uid: EntityRef) => entities.filter((x) => x !== null && typeof x === 'object' && x.uid !== null && typeof x.uid === 'object' && same(x.uid, uid)).length;
  entities.forEach((e, i) => {
    if (e === null || typeof e !== 'object' || !isRecord(e.attrs)) return;
    const attrs = keepRead(e.attrs, reads.names);
    const uid = e.uid as EntityRef | null;
    const bare =
      Object.keys(attrs).length === 0 &&
      Array.isArray(e.parents) &&
      e.parents.length === 0 &&
      (e.tags === undefined || emptyRecord(e.tags)) &&
      Object.keys(e).every((k) => ENTITY_MEMBERS.has(k)) &&
      uid !== null &&
      typeof uid === 'object' &&
      (same(uid, request.principal) || same(uid, request.resource)) &&
      named(uid) === 1;
    if (attrs === e.attrs && !bare) return;
    ents ??= [...entities];
    ents[i] = bare ? null : { ...e, attrs: attrs as CedarEntityJson['attrs'] };
  });
  if (ctx === context && ents === undefined) return null;
  return { context: ctx, entities: ents === undefined ? entities : ents.filter((e): e is CedarEntityJson => e !== null) };
}
