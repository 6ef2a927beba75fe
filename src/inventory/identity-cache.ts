/**
 * Inventory identities as Cedar principals: id → `Identity::"<id>"` with the inventory's attributes.
 * A bounded LRU with load-on-miss keeps decision latency flat whatever the inventory size (a hit is
 * one Map lookup; a miss is one primary-key query), invalidated per id on the `identity` notification
 * and cleared on resync (DESIGN.md "Storage": the request path answers from memory).
 *
 * Cedar has no null: absent inventory fields are left out of `attrs`, so a policy tests them with
 * `has`. Labels become a record (`principal.labels.team == "payments"`).
 */
import type { CedarEntityJson } from '../policy/index.js';
import { toCedarRecord, type CedarRecord } from '../pdp/cedar-values.js';
import type { Queryable } from '../store/index.js';
import type { Identity } from './identity-schema.js';

export interface IdentityEntity {
  readonly id: string;
  readonly status: Identity['status'];
  readonly kind: Identity['kind'];
  readonly owner: string | null;
  readonly environment: string | null;
  /** `Identity::"<id>"`, no parents (entities.json may add them: pdp/build-request.ts). */
  readonly entity: CedarEntityJson;
}

export interface IdentityCache {
  /** The cached entity, `null` for a known-unknown id, `undefined` when not cached (call load). */
  peek(id: string): IdentityEntity | null | undefined;
  get(id: string): Promise<IdentityEntity | null>;
  invalidate(id: string): void;
  clear(): void;
  size(): number;
}

interface Row {
  id: string;
  kind: Identity['kind'];
  owner: string | null;
  purpose: string | null;
  environment: string | null;
  review_by: Date | string | null;
  status: Identity['status'];
  labels: Record<string, string> | string | null;
  attributes: Record<string, unknown> | string | null;
  discovered_by: string | null;
}

export const IDENTITY_CACHE_MAX = 50000;
/**
 * Ids known not to be in the inventory have their own, smaller LRU: they are the caller's choice
 * (any AuthZEN subject), so a stream of made-up subjects must neither grow memory toward the full
 * 50,000 (up to 1 KiB each) nor push real identities out. A miss beyond it costs one point read.
 */
export const UNKNOWN_IDENTITY_CACHE_MAX = 5000;

export function createIdentityCache(deps: { db: Queryable; max?: number; unknownMax?: number }): IdentityCache {
  const max = deps.max ?? IDENTITY_CACHE_MAX;
  const unknownMax = deps.unknownMax ?? UNKNOWN_IDENTITY_CACHE_MAX;
  const lru = new Map<string, IdentityEntity>();
  const unknown = new Set<string>();
  // Loads in flight. A change marks its id's load stale (and clear() bumps the generation) so a load
  // that started before the change does not cache what it read; nothing is kept per id once its load
  // ends, so ids that were only ever invalidated (every admin write names one) leave no trace.
  const loading = new Map<string, { p: Promise<IdentityEntity | null>; stale: boolean }>();
  let generation = 0;

  const put = (id: string, v: IdentityEntity | null) => {
    lru.delete(id);
    unknown.delete(id);
    if (v === null) {
      unknown.add(id);
      if (unknown.size > unknownMax) unknown.delete(unknown.values().next().value as string);
      return;
    }
    lru.set(id, v);
    if (lru.size > max) lru.delete(lru.keys().next().value as string);
  };

  const load = async (id: string, mine: { stale: boolean }): Promise<IdentityEntity | null> => {
    const startGen = generation;
    const r = await deps.db.query<Row>(
      'SELECT id, kind, owner, purpose, environment, review_by, status, labels, attributes, discovered_by FROM identities WHERE id = $1',
      [id],
    );
    const row = r.rows[0];
    const v = row ? toEntity(row) : null;
    if (generation === startGen && !mine.stale) put(id, v);
    return v;
  };

  return {
    peek(id) {
      const v = lru.get(id);
      if (v === undefined) {
        if (!unknown.has(id)) return undefined;
        unknown.delete(id);
        unknown.add(id);
        return null;
      }
      // Refresh recency: a Map keeps insertion order, so re-inserting moves it to the young end.
      lru.delete(id);
      lru.set(id, v);
      return v;
    },
    get(id) {
      const hit = this.peek(id);
      if (hit !== undefined) return Promise.resolve(hit);
      const inflight = loading.get(id);
      if (inflight) return inflight.p;
      const entry = { p: Promise.resolve<IdentityEntity | null>(null), stale: false };
      entry.p = load(id, entry).finally(() => {
        if (loading.get(id) === entry) loading.delete(id);
      });
      loading.set(id, entry);
      return entry.p;
    },
    invalidate(id) {
      lru.delete(id);
      unknown.delete(id);
      const inflight = loading.get(id);
      if (inflight) inflight.stale = true;
      loading.delete(id);
    },
    clear() {
      lru.clear();
      unknown.clear();
      loading.clear();
      generation += 1;
    },
    size: () => lru.size + unknown.size,
  };
}

const parseJson = <T>(v: T | string | null): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function toEntity(r: Row): IdentityEntity {
  // Free-form `attributes` first, so the inventory's own fields always win over them.
  const extra = parseJson(r.attributes) ?? {};
  const attrs: CedarRecord = Object.create(null) as CedarRecord;
  try {
    Object.assign(attrs, toCedarRecord(extra, `identity ${r.id} attributes`));
  } catch {
    /* an attribute Cedar cannot hold is left out rather than failing every decision of this identity */
  }
  attrs['kind'] = r.kind;
  attrs['status'] = r.status;
  if (r.owner !== null) attrs['owner'] = r.owner;
  if (r.purpose !== null) attrs['purpose'] = r.purpose;
  if (r.environment !== null) attrs['environment'] = r.environment;
  if (r.review_by !== null) attrs['review_by'] = new Date(r.review_by).toISOString();
  if (r.discovered_by !== null) attrs['discovered_by'] = r.discovered_by;
  const labels = Object.create(null) as CedarRecord;
  for (const [k, v] of Object.entries(parseJson(r.labels) ?? {})) if (typeof v === 'string') labels[k] = v;
  attrs['labels'] = labels;
  return {
    id: r.id,
    status: r.status,
    kind: r.kind,
    owner: r.owner,
    environment: r.environment,
    entity: { uid: { type: 'Identity', id: r.id }, attrs, parents: [] },
  };
}
