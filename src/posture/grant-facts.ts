/**
 * Standing access from the grants table: an active grant with no end, or one whose life (planned or
 * so far) is longer than the bound. Grants are inventory-sized (one per task), so reading the few
 * standing ones is cheap; the audit log is never needed for this.
 */
import type { Queryable } from '../store/index.js';

export interface StandingGrant {
  readonly id: string;
  readonly identity: string;
  readonly audience: string;
  readonly actions: readonly string[];
  readonly not_after: string | null;
  readonly active_since: string;
}

export async function loadStandingGrants(db: Queryable, now: Date, boundSeconds: number): Promise<StandingGrant[]> {
  const r = await db.query<{ id: string; identity: string; audience: string; actions: unknown; not_after: Date | null; since: Date }>(
    `SELECT id, identity, audience, actions, not_after, coalesce(activated_at, created_at) AS since FROM grants
      WHERE state = 'active'
        AND (not_after IS NULL
             OR not_after - coalesce(activated_at, created_at) > make_interval(secs => $2)
             OR $1::timestamptz - coalesce(activated_at, created_at) > make_interval(secs => $2))
      ORDER BY identity, id`,
    [now.toISOString(), boundSeconds],
  );
  return r.rows.map((g) => ({
    id: g.id,
    identity: g.identity,
    audience: g.audience,
    actions: Array.isArray(g.actions) ? g.actions.filter((a): a is string => typeof a === 'string') : [],
    not_after: g.not_after ? new Date(g.not_after).toISOString() : null,
    active_since: new Date(g.since).toISOString(),
  }));
}

/** Ids of grants without an end, in any state: tokens issued from them were standing access. */
export async function loadEndlessGrantIds(db: Queryable): Promise<Set<string>> {
  const r = await db.query<{ id: string }>('SELECT id FROM grants WHERE not_after IS NULL');
  return new Set(r.rows.map((g) => g.id));
}
