import type { AuditInput } from '../audit/index.js';
import { notifyChange, type Queryable, type RevocationKind } from '../store/index.js';
import { stopIssuerIn } from './issuer-stop.js';
import type { RevocationEntry } from './revocation-set.js';

export interface RevokeRequest {
  kind: RevocationKind;
  value: string;
  reason: string;
  actor: string;
}

export interface RevokeOptions {
  /**
   * False when the caller's own audit event records this revocation (a status change that ends an
   * identity's access carries `revocation_id` and `grants_revoked` in its event): one act, one event.
   */
  ownEvent?: boolean;
}

/**
 * Records a revocation inside the caller's transaction: the row (truth), the grants it ends, the
 * audit event, and a notification carrying the entry so every instance applies it without a query.
 * An issuer revocation also stops the issuer until an operator restores it (issuer-stop.ts).
 */
export async function revokeIn(
  q: Queryable,
  emit: (e: AuditInput) => void,
  r: RevokeRequest,
  now: Date,
  opts: RevokeOptions = {},
): Promise<{ id: number; grantsRevoked: number; entries: RevocationEntry[] }> {
  const ins = await q.query<{ id: number }>(
    'INSERT INTO revocations (kind, value, reason, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [r.kind, r.value, r.reason, now, r.actor],
  );
  const id = Number(ins.rows[0]!.id);
  const column = r.kind === 'grant' ? 'id' : r.kind === 'identity' ? 'identity' : r.kind === 'issuer' ? 'issuer' : null;
  let grantsRevoked = 0;
  // What this instance applies to its own revocation set once the transaction commits.
  const entries: RevocationEntry[] = [{ kind: r.kind, value: r.value, at: now.getTime() }];
  if (r.kind === 'jti') {
    // A token exchanged from this one (delegation or downscoping) dies with it, and so does what was
    // exchanged from that (tokens/delegation.ts names the source jti in the child grant's instance).
    const derived = await q.query<{ id: string }>(
      `UPDATE grants SET state = 'revoked', ended_at = $2, end_reason = $3
        WHERE parent_id IS NOT NULL AND split_part(task->>'instance', ':', 1) = 'delegation' AND split_part(task->>'instance', ':', 3) = $1
          AND state IN ('active', 'pending') RETURNING id`,
      [r.value, now, `source token revoked: ${r.reason}`],
    );
    const ids = derived.rows.map((x) => x.id);
    const below = ids.length ? await revokeDescendantsIn(q, ids, r, now) : [];
    grantsRevoked += ids.length + below.length;
    entries.push(...(await revokeGrantIdsIn(q, [...ids, ...below], r, now)));
  }
  if (column) {
    const g = await q.query(
      `UPDATE grants SET state = 'revoked', ended_at = $2, end_reason = $3 WHERE ${column} = $1 AND state IN ('active', 'pending') RETURNING id`,
      [r.value, now, r.reason],
    );
    grantsRevoked = g.rowCount;
    const ended = (g.rows as Array<{ id: string }>).map((x) => x.id);
    // Tokens do not name their federation issuer, so an issuer revocation reaches them through
    // their grants: one grant revocation per grant it ended.
    if (r.kind === 'issuer') entries.push(...(await revokeGrantIdsIn(q, ended, r, now)));
    // Delegation (RFC 8693 §1.1): a grant exchanged from another ends with it, at every depth. Their
    // tokens name their own grant, so each descendant gets its own grant revocation.
    const descendants = await revokeDescendantsIn(q, r.kind === 'grant' ? [r.value, ...ended] : ended, r, now);
    grantsRevoked += descendants.length;
    entries.push(...(await revokeGrantIdsIn(q, descendants, r, now)));
  }
  if (r.kind === 'issuer') await stopIssuerIn(q, { name: r.value, revocation_id: id, at: now.toISOString(), reason: r.reason, by: r.actor });
  if (opts.ownEvent !== false) {
    emit({
      type: 'revocation.created',
      actor: r.actor,
      identity: r.kind === 'identity' ? r.value : undefined,
      data: { revocation_id: id, kind: r.kind, value: r.value, reason: r.reason, grants_revoked: grantsRevoked },
    });
  }
  await notifyChange(q, { kind: 'revocation', id, rkind: r.kind, value: r.value, at: now.getTime() });
  return { id, grantsRevoked, entries };
}

/** One grant revocation per grant id (row, notice to every instance, entry for this one). */
async function revokeGrantIdsIn(q: Queryable, ids: readonly string[], r: RevokeRequest, now: Date): Promise<RevocationEntry[]> {
  const out: RevocationEntry[] = [];
  for (const id of ids) {
    const gi = await q.query<{ id: number }>(
      'INSERT INTO revocations (kind, value, reason, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      ['grant', id, r.reason, now, r.actor],
    );
    await notifyChange(q, { kind: 'revocation', id: Number(gi.rows[0]!.id), rkind: 'grant', value: id, at: now.getTime() });
    out.push({ kind: 'grant', value: id, at: now.getTime() });
  }
  return out;
}

/** Every grant exchanged, at any depth, from the given ones is revoked; returns their ids. */
async function revokeDescendantsIn(q: Queryable, roots: readonly string[], r: RevokeRequest, now: Date): Promise<string[]> {
  const d = await q.query<{ id: string }>(
    `WITH RECURSIVE d(id) AS (
       SELECT id FROM grants WHERE parent_id = ANY($1::text[])
       UNION SELECT g.id FROM grants g JOIN d ON g.parent_id = d.id
     )
     UPDATE grants SET state = 'revoked', ended_at = $2, end_reason = $3 WHERE id IN (SELECT id FROM d) AND state IN ('active', 'pending') RETURNING id`,
    [roots, now, `parent grant ended: ${r.reason}`],
  );
  return d.rows.map((x) => x.id);
}
