import type { Queryable } from '../store/index.js';

/**
 * One exporter per job across a cluster: a lease row in audit_cursors, taken when free or expired,
 * renewed by its holder, and a cursor advanced only by compare-and-set on (owner, seq). An instance
 * that lost its lease (paused past the TTL) cannot move the cursor, so the new holder resumes from
 * the last delivered seq: delivery stays at least once, never skips. Times are the database's
 * clock_timestamp(), so instances with skewed clocks agree on expiry.
 */
export interface JobLease {
  /** Takes or renews the lease; the cursor when held, null when another instance holds it. */
  acquire(): Promise<number | null>;
  /** Moves the cursor from `from` to `to` and renews; false when the lease was lost meanwhile. */
  advance(from: number, to: number): Promise<boolean>;
  /** The stored cursor, whoever holds the lease. */
  cursor(): Promise<number>;
  release(): Promise<void>;
}

export function createJobLease(db: Queryable, name: string, owner: string, ttlSeconds: number): JobLease {
  return {
    async acquire() {
      const r = await db.query<{ seq: number }>(
        `INSERT INTO audit_cursors (name, seq, owner, lease_until, updated_at)
           VALUES ($1, 0, $2, clock_timestamp() + make_interval(secs => $3), clock_timestamp())
         ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
           WHERE audit_cursors.owner = EXCLUDED.owner OR audit_cursors.owner IS NULL OR audit_cursors.lease_until < clock_timestamp()
         RETURNING seq`,
        [name, owner, ttlSeconds],
      );
      const row = r.rows[0];
      return row ? Number(row.seq) : null;
    },
    async advance(from, to) {
      const r = await db.query(
        `UPDATE audit_cursors SET seq = $4, updated_at = clock_timestamp(), lease_until = clock_timestamp() + make_interval(secs => $5)
          WHERE name = $1 AND owner = $2 AND seq = $3`,
        [name, owner, from, to, ttlSeconds],
      );
      return r.rowCount === 1;
    },
    async cursor() {
      const r = await db.query<{ seq: number }>('SELECT seq FROM audit_cursors WHERE name = $1', [name]);
      return r.rows[0] ? Number(r.rows[0].seq) : 0;
    },
    async release() {
      await db.query('UPDATE audit_cursors SET owner = NULL, lease_until = NULL WHERE name = $1 AND owner = $2', [name, owner]);
    },
  };
}
