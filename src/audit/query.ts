import type { Queryable } from '../store/index.js';
import type { AuditRecord } from './chain.js';

export interface AuditQuery {
  after?: number | undefined;
  /** Only events before this seq (paging newest first). */
  before?: number | undefined;
  /** `desc`: newest first (a console's "recent"); default oldest first. */
  order?: 'asc' | 'desc' | undefined;
  limit?: number | undefined;
  since?: Date | undefined;
  type?: string | undefined;
  identity?: string | undefined;
}

export const AUDIT_PAGE_MAX = 10000;

/** Oldest first (or newest first), keyset-paged on seq. */
export async function listAuditEvents(q: Queryable, f: AuditQuery): Promise<AuditRecord[]> {
  const where: string[] = ['seq > $1'];
  const params: unknown[] = [f.after ?? 0];
  if (f.before !== undefined) where.push(`seq < $${params.push(f.before)}`);
  if (f.since) where.push(`ts >= $${params.push(f.since.toISOString())}`);
  if (f.type) where.push(`type = $${params.push(f.type)}`);
  if (f.identity) where.push(`identity = $${params.push(f.identity)}`);
  params.push(Math.min(f.limit ?? 100, AUDIT_PAGE_MAX));
  const r = await q.query<{ body: string; prev_hash: string; hash: string }>(
    `SELECT body, prev_hash, hash FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq ${f.order === 'desc' ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
    params,
  );
  return r.rows.map((row) => ({ ...(JSON.parse(row.body) as Omit<AuditRecord, 'prev_hash' | 'hash'>), prev_hash: row.prev_hash, hash: row.hash }));
}

/** Streams every event in seq order, a page at a time (export, replay into detection). */
export async function* iterateAuditEvents(q: Queryable, f: Omit<AuditQuery, 'limit'> = {}, pageSize = 5000): AsyncGenerator<AuditRecord> {
  let after = f.after ?? 0;
  for (;;) {
    const page = await listAuditEvents(q, { ...f, after, limit: pageSize });
    for (const e of page) yield e;
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.seq;
  }
}
