/**
 * `bundle.entities` (DIR/entities.json): the non-inventory Cedar entities (groups, resources, their
 * parents), replaced whole on every apply that carries them. One `config_docs` row keyed `entities`
 * holds them with their hash; the same content again changes nothing and emits nothing, so applying a
 * directory twice is a no-op (DESIGN.md "Running").
 */
import type { ApplySection } from '../declarative/apply.js';
import { notifyChange, type Queryable } from '../store/index.js';
import { entitiesHash, parseEntities } from './entity-json.js';
import type { Clock } from '../clock.js';

export const ENTITIES_DOC = 'entities';

export interface EntitiesSectionDeps {
  clock: Clock;
  /** Told the hash this transaction stores, so this instance reads its own write (entity-cache.ts). */
  expect?(hash: string): void;
}

export function entitiesSection(deps: EntitiesSectionDeps): ApplySection {
  return async (q, emit, bundle, opts) => {
    if (bundle.entities === undefined) return [];
    const entities = parseEntities(bundle.entities);
    const hash = entitiesHash(entities);
    const cur = await currentHash(q);
    if (cur === hash) return [];
    await q.query(
      `INSERT INTO config_docs (key, body, hash, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, hash = EXCLUDED.hash, updated_at = EXCLUDED.updated_at`,
      [ENTITIES_DOC, JSON.stringify(entities), hash, deps.clock()],
    );
    // The full list can be 100k entities: the event carries its hash and size, the row holds the rest.
    emit({ type: 'entities.replaced', actor: opts.actor, data: { hash, count: entities.length, previous_hash: cur } });
    await notifyChange(q, { kind: 'entities' });
    deps.expect?.(hash);
    return [`entities replaced (${entities.length})`];
  };
}

async function currentHash(q: Queryable): Promise<string | null> {
  const r = await q.query<{ hash: string }>('SELECT hash FROM config_docs WHERE key = $1', [ENTITIES_DOC]);
  return r.rows[0]?.hash ?? null;
}
