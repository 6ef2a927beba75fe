/**
 * Every instance's copy of the stored entities (entities.json): uid → entity, and the ancestor closure
 * a decision must pass to Cedar so `principal in Group::"x"` can hold (Cedar only knows the entities it
 * is handed). Loaded at start and on resync, refreshed on the `entities` notification; the request path
 * reads memory only, except right after this instance applied a change (read-your-writes, see expect).
 */
import { singleFlight } from '../cluster/single-flight.js';
import type { Logger } from 'pino';
import type { CedarEntityJson, EntityRef } from '../policy/index.js';
import { refKey } from '../policy/action-hierarchy.js';
import type { Queryable } from '../store/index.js';
import { ENTITIES_DOC } from './entities-section.js';

export interface EntityCache {
  get(ref: EntityRef): CedarEntityJson | undefined;
  /** Stored ancestors of `refs` (transitively), each once, excluding keys in `skip`; cycles are cut. */
  ancestors(refs: readonly EntityRef[], skip?: ReadonlySet<string>): CedarEntityJson[];
  hash(): string | null;
  refresh(): Promise<void>;
  /** This instance has just written `hash`: refresh before the next decision until it is seen (or 2 s). */
  expect(hash: string): void;
  /** Awaited by decisions: a query only while an own write is pending. */
  ensureFresh(): Promise<void>;
}

const EXPECT_MS = 2000;

export function createEntityCache(deps: { db: Queryable; logger: Pick<Logger, 'error'> }): EntityCache {
  let byKey = new Map<string, CedarEntityJson>();
  let loadedHash: string | null = null;
  let pending: { hash: string; until: number } | null = null;

  const load = async (): Promise<void> => {
    const cur = await deps.db.query<{ hash: string }>('SELECT hash FROM config_docs WHERE key = $1', [ENTITIES_DOC]);
    const hash = cur.rows[0]?.hash ?? null;
    if (hash !== loadedHash) {
      const r = await deps.db.query<{ body: unknown; hash: string }>('SELECT body, hash FROM config_docs WHERE key = $1', [ENTITIES_DOC]);
      const row = r.rows[0];
      const body = typeof row?.body === 'string' ? (JSON.parse(row.body) as unknown) : row?.body;
      const list = Array.isArray(body) ? (body as CedarEntityJson[]) : [];
      byKey = new Map(list.map((e) => [refKey(e.uid), e]));
      loadedHash = row?.hash ?? null;
    }
    if (pending && (pending.hash === loadedHash || Date.now() > pending.until)) pending = null;
  };

  const refresh = singleFlight(load);

  return {
    get: (ref) => byKey.get(refKey(ref)),
    ancestors(refs, skip) {
      const out: CedarEntityJson[] = [];
      const seen = new Set<string>(skip);
      const queue = [...refs];
      while (queue.length > 0) {
        const ref = queue.pop() as EntityRef;
        const k = refKey(ref);
        if (seen.has(k)) continue;
        seen.add(k);
        const e = byKey.get(k);
        if (e === undefined) continue; // a parent nothing declares: Cedar treats it as an unknown entity
        out.push(e);
        queue.push(...e.parents);
      }
      return out;
    },
    hash: () => loadedHash,
    refresh: () =>
      refresh().catch((err: Error) => {
        deps.logger.error({ err: { message: err.message } }, 'entity cache refresh failed');
        throw err;
      }),
    expect(hash) {
      pending = { hash, until: Date.now() + EXPECT_MS };
    },
    async ensureFresh() {
      if (pending !== null) await refresh();
    },
  };
}
