import type { Queryable } from '../store/index.js';
import { link, type AuditInput, type AuditRecord } from './chain.js';

/**
 * Appends a batch to the chain inside the caller's transaction. Locking the head row orders
 * writers across every instance on one database, so there is exactly one chain.
 */
export async function appendBatch(q: Queryable, inputs: readonly AuditInput[], now: Date): Promise<AuditRecord[]> {
  if (inputs.length === 0) return [];
  const head = await q.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
  const h = head.rows[0];
  if (!h) throw new Error('audit head missing');
  const { records, head: next } = link({ seq: Number(h.seq), hash: h.hash }, inputs, now);
  // One statement for the whole batch: unnest keeps the parameter count at 7 whatever its size.
  await q.query(
    `INSERT INTO audit_events (seq, ts, type, identity, body, prev_hash, hash)
     SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
    [
      records.map((r) => r.body.seq),
      records.map((r) => r.body.ts),
      records.map((r) => r.body.type),
      records.map((r) => r.body.identity),
      records.map((r) => r.text),
      records.map((r) => r.prev_hash),
      records.map((r) => r.hash),
    ],
  );
  await q.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [next.seq, next.hash]);
  return records.map((r) => ({ ...r.body, prev_hash: r.prev_hash, hash: r.hash }));
}
