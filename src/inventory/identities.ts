import { TetherError } from '../errors.js';
import type { AuditInput, AuditWriter } from '../audit/index.js';
import { revokeIn, type RevocationEntry } from '../revocation/index.js';
import { notifyChange, type Queryable } from '../store/index.js';
import type { Identity, IdentityCreate, IdentityPatch } from './identity-schema.js';
import type { Clock } from '../clock.js';

interface Row {
  id: string;
  kind: Identity['kind'];
  owner: string | null;
  purpose: string | null;
  environment: string | null;
  review_by: Date | null;
  status: Identity['status'];
  labels: Record<string, string>;
  discovered_by: string | null;
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
}

const COLS = 'id, kind, owner, purpose, environment, review_by, status, labels, discovered_by, created_at, updated_at, last_used_at';
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function toIdentity(r: Row): Identity {
  return {
    id: r.id,
    kind: r.kind,
    owner: r.owner,
    purpose: r.purpose,
    environment: r.environment,
    review_by: iso(r.review_by),
    status: r.status,
    labels: r.labels ?? {},
    discovered_by: r.discovered_by,
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
    last_used_at: iso(r.last_used_at),
  };
}

/** The fields an operator controls; compared to decide whether an apply changes anything. */
const MUTABLE = ['kind', 'owner', 'purpose', 'environment', 'review_by', 'status', 'labels'] as const;

function normalised(value: unknown, key: string): unknown {
  if (value === undefined || value === null) return null;
  if (key === 'review_by') return new Date(value as string).toISOString();
  if (key === 'labels') return JSON.stringify(Object.fromEntries(Object.entries(value as object).sort()));
  return value;
}

export interface IdentityFilter {
  owner?: string | undefined;
  kind?: string | undefined;
  status?: string | undefined;
  limit: number;
  after?: string | undefined;
}

type Emit = (e: AuditInput) => void;

export type InventoryDeps = { db: Queryable; audit: Pick<AuditWriter, 'transact'>; clock: Clock };

/** Statuses that end an identity's access: entering one ends its grants and revokes its tokens. */
const ENDS_ACCESS = new Set<Identity['status']>(['suspended', 'retired']);

export function createInventory({ db, audit, clock }: InventoryDeps) {
  const revokedHooks: Array<(entries: RevocationEntry[]) => void> = [];
  const applyLocally = (entries: RevocationEntry[] | undefined) => {
    if (entries) for (const h of revokedHooks) h(entries);
  };

  /**
   * Ends an identity's access in the caller's transaction, with the status change that causes it:
   * its grants end and a revocation kills every token issued so far (introspection, ext-authz and
   * every instance's revocation set refuse them). The status change's own event records it.
   */
  async function endAccessIn(q: Queryable, emit: Emit, id: string, reason: string, actor: string) {
    const r = await revokeIn(q, emit, { kind: 'identity', value: id, reason, actor }, clock(), { ownEvent: false });
    return { audit: { revocation_id: r.id, grants_revoked: r.grantsRevoked }, entries: r.entries };
  }

  async function get(id: string, q: Queryable = db): Promise<Identity | null> {
    const r = await q.query<Row>(`SELECT ${COLS} FROM identities WHERE id = $1`, [id]);
    return r.rows[0] ? toIdentity(r.rows[0]) : null;
  }

  async function mustGet(id: string, q: Queryable = db): Promise<Identity> {
    const found = await get(id, q);
    if (!found) throw new TetherError('not_found', `identity ${JSON.stringify(id)} does not exist`);
    return found;
  }

  async function createIn(q: Queryable, emit: Emit, input: IdentityCreate, actor: string): Promise<Identity> {
    const now = clock();
    const r = await q.query<Row>(
      `INSERT INTO identities (id, kind, owner, purpose, environment, review_by, status, labels, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING RETURNING ${COLS}`,
      [input.id, input.kind, input.owner, input.purpose ?? null, input.environment ?? null, input.review_by ?? null, input.status ?? 'active', JSON.stringify(input.labels ?? {}), now],
    );
    if (!r.rows[0]) throw new TetherError('conflict', `identity ${JSON.stringify(input.id)} already exists`);
    const created = toIdentity(r.rows[0]);
    emit({ type: 'identity.created', actor, identity: created.id, data: { identity: created } });
    await notifyChange(q, { kind: 'identity', id: created.id });
    return created;
  }

  /** Applies only the fields that differ; no difference means no write and no audit event. */
  async function patchIn(
    q: Queryable,
    emit: Emit,
    id: string,
    patch: IdentityPatch,
    actor: string,
  ): Promise<{ identity: Identity; changed: string[]; revoked?: RevocationEntry[] }> {
    const r = await q.query<Row>(`SELECT ${COLS} FROM identities WHERE id = $1 FOR UPDATE`, [id]);
    if (!r.rows[0]) throw new TetherError('not_found', `identity ${JSON.stringify(id)} does not exist`);
    const cur = toIdentity(r.rows[0]);
    const changed = MUTABLE.filter((k) => k in patch && normalised(patch[k], k) !== normalised(cur[k], k));
    if (changed.length === 0) return { identity: cur, changed };
    if (cur.status === 'retired') throw new TetherError('conflict', `identity ${JSON.stringify(id)} is retired`);
    const next: Record<string, unknown> = { ...cur };
    for (const k of changed) next[k] = patch[k] ?? null;
    // Setting an owner on a discovered identity is what admits it.
    if (cur.status === 'unowned' && next.owner && !('status' in patch)) next.status = 'active';
    const u = await q.query<Row>(
      `UPDATE identities SET kind = $2, owner = $3, purpose = $4, environment = $5, review_by = $6, status = $7,
         labels = $8, updated_at = $9 WHERE id = $1 RETURNING ${COLS}`,
      [id, next.kind, next.owner, next.purpose, next.environment, next.review_by, next.status, JSON.stringify(next.labels ?? {}), clock()],
    );
    const identity = toIdentity(u.rows[0]!);
    const before = Object.fromEntries(changed.map((k) => [k, cur[k]]));
    const after = Object.fromEntries(changed.map((k) => [k, identity[k]]));
    const why = patch.reason ? `: ${patch.reason}` : '';
    const ended = ENDS_ACCESS.has(identity.status) && !ENDS_ACCESS.has(cur.status) ? await endAccessIn(q, emit, id, `identity ${identity.status} by ${actor}${why}`, actor) : null;
    emit({ type: 'identity.updated', actor, identity: id, data: { changed, before, after, ...(patch.reason ? { reason: patch.reason } : {}), ...ended?.audit } });
    await notifyChange(q, { kind: 'identity', id });
    return { identity, changed, ...(ended ? { revoked: ended.entries } : {}) };
  }

  return {
    get,
    mustGet,
    createIn,
    patchIn,

    async list(f: IdentityFilter): Promise<Identity[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      if (f.owner) where.push(`owner = $${params.push(f.owner)}`);
      if (f.kind) where.push(`kind = $${params.push(f.kind)}`);
      if (f.status) where.push(`status = $${params.push(f.status)}`);
      if (f.after) where.push(`id > $${params.push(f.after)}`);
      params.push(f.limit);
      const r = await db.query<Row>(
        `SELECT ${COLS} FROM identities ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT $${params.length}`,
        params,
      );
      return r.rows.map(toIdentity);
    },

    create: (input: IdentityCreate, actor: string) => audit.transact((q, emit) => createIn(q, emit, input, actor)),
    async patch(id: string, patch: IdentityPatch, actor: string) {
      const out = await audit.transact((q, emit) => patchIn(q, emit, id, patch, actor));
      applyLocally(out.revoked);
      return out;
    },

    /** Retiring is final: the identity can no longer obtain or use credentials, and loses those it has. */
    async retire(id: string, actor: string, reason: string | undefined): Promise<Identity> {
      const out = await audit.transact(async (q, emit) => {
        const cur = await mustGet(id, q);
        if (cur.status === 'retired') return { identity: cur };
        const u = await q.query<Row>(`UPDATE identities SET status = 'retired', updated_at = $2 WHERE id = $1 RETURNING ${COLS}`, [id, clock()]);
        const ended = await endAccessIn(q, emit, id, reason ? `identity retired: ${reason}` : 'identity retired', actor);
        emit({ type: 'identity.retired', actor, identity: id, data: { reason: reason ?? null, previous_status: cur.status, ...ended.audit } });
        await notifyChange(q, { kind: 'identity', id });
        return { identity: toIdentity(u.rows[0]!), revoked: ended.entries };
      });
      applyLocally(out.revoked);
      return out.identity;
    },

    /** Revocations this inventory made, once committed: this instance applies them at once. */
    onRevoked(hook: (entries: RevocationEntry[]) => void): void {
      revokedHooks.push(hook);
    },

    /**
     * Sets status (suspend/reactivate) for responses and reviews; the caller audits in the same tx
     * and, when suspending, revokes the identity there too (every caller does: detection's
     * `suspend`, a review's `revoke`, an identity revocation).
     */
    async setStatusIn(q: Queryable, id: string, status: Identity['status']): Promise<void> {
      await q.query('UPDATE identities SET status = $2, updated_at = $3 WHERE id = $1', [id, status, clock()]);
      await notifyChange(q, { kind: 'identity', id });
    },

    /** First sight of a workload through a trusted issuer: recorded, unowned, reported. */
    discover: (id: string, issuer: string, kind: Identity['kind'], found: { labels?: Record<string, string>; source?: 'issuer' | 'connector' } = {}) =>
      audit.transact(async (q, emit) => {
        const now = clock();
        const r = await q.query<Row>(
          `INSERT INTO identities (id, kind, owner, status, labels, discovered_by, created_at, updated_at)
           VALUES ($1, $2, NULL, 'unowned', $5, $3, $4, $4) ON CONFLICT (id) DO NOTHING RETURNING ${COLS}`,
          [id, kind, found.source === 'connector' ? `connector:${issuer}` : issuer, now, JSON.stringify(found.labels ?? {})],
        );
        if (!r.rows[0]) return mustGet(id, q);
        // A legacy connector's discovery names its connector, not a federation issuer (README "Legacy bridge").
        const source = found.source ?? 'issuer';
        emit({ type: 'identity.discovered', actor: `${source}:${issuer}`, identity: id, data: source === 'issuer' ? { issuer } : { connector: issuer, labels: found.labels ?? {} } });
        await notifyChange(q, { kind: 'identity', id });
        return toIdentity(r.rows[0]);
      }),
  };
}

export type Inventory = ReturnType<typeof createInventory>;
