import type { Queryable } from '../store/index.js';

/** Where the stored chain starts once older events were archived and pruned: the last pruned event. */
export async function readArchiveAnchor(db: Queryable): Promise<{ seq: number; hash: string } | null> {
  const r = await db.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_anchor WHERE id = 1');
  const row = r.rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : null;
}
