/**
 * Untrusted Cedar JSON entities (`DIR/entities.json`, Cedar's entity format) → checked, normalised
 * entities. Attribute values go through pdp/cedar-values.ts, so a stored entity can never carry a
 * forged `__entity`/`__extn` escape, a null or an inexact number that Cedar would refuse later, at
 * decision time, where it would turn every decision touching it into an error.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/index.js';
import { invalidRequest } from '../errors.js';
import { toCedarRecord, toEntityRef } from '../pdp/cedar-values.js';
import type { CedarEntityJson } from '../policy/index.js';
import { refKey } from '../policy/action-hierarchy.js';

/** Most entities one apply may declare (the bundle schema allows as many; a decision sees few). */
export const MAX_ENTITIES = 100000;

export function parseEntities(input: readonly unknown[]): CedarEntityJson[] {
  if (input.length > MAX_ENTITIES) throw invalidRequest(`entities: at most ${MAX_ENTITIES} entities`);
  const seen = new Set<string>();
  return input.map((raw, i) => {
    const at = `entities[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalidRequest(`${at} must be an object {uid, attrs, parents}`);
    const e = raw as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => k !== 'uid' && k !== 'attrs' && k !== 'parents' && k !== 'tags');
    if (unknown.length) throw invalidRequest(`${at}: unknown member(s) ${unknown.join(', ')}`);
    if (e['tags'] !== undefined) throw invalidRequest(`${at}.tags: entity tags are not supported`);
    const uid = toEntityRef(e['uid'], `${at}.uid`);
    const k = refKey(uid);
    if (seen.has(k)) throw invalidRequest(`${at}: ${k} is declared twice`);
    seen.add(k);
    const attrs = toCedarRecord(e['attrs'] ?? {}, `${at}.attrs`);
    const parentsRaw = e['parents'] ?? [];
    if (!Array.isArray(parentsRaw)) throw invalidRequest(`${at}.parents must be an array of {type, id}`);
    const parents = parentsRaw.map((p, j) => toEntityRef(p, `${at}.parents[${j}]`));
    return { uid, attrs, parents };
  });
}

/** Content hash of a normalised entity list: equal hashes mean an identical apply (no event). */
export function entitiesHash(entities: readonly CedarEntityJson[]): string {
  return createHash('sha256').update(canonicalJson(entities)).digest('hex');
}
