import { decodeProtectedHeader } from 'jose';
import type { Queryable } from '../store/index.js';
import type { AuditRecord } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import type { ExportSource } from './export-runner.js';

const headSeq = async (db: Queryable, sql: string): Promise<number> => Number((await db.query<{ seq: number | null }>(sql)).rows[0]?.seq ?? 0);

/** Committed audit events, as `tether audit export` writes them. */
export function auditEventSource(db: Queryable): ExportSource<AuditRecord> {
  return {
    async read(after, limit) {
      const r = await db.query<{ body: string; prev_hash: string; hash: string }>('SELECT body, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2', [after, limit]);
      return r.rows.map((row) => ({ ...(JSON.parse(row.body) as Omit<AuditRecord, 'prev_hash' | 'hash'>), prev_hash: row.prev_hash, hash: row.hash }));
    },
    head: () => headSeq(db, 'SELECT seq FROM audit_head WHERE id = 1'),
  };
}

interface CheckpointRow {
  seq: number;
  hash: string;
  ts: Date | string;
  instance: string;
  jws: string;
}

export const checkpointFromRow = (r: CheckpointRow): Checkpoint => ({
  seq: Number(r.seq),
  hash: r.hash,
  ts: new Date(r.ts).toISOString(),
  instance: r.instance,
  kid: kidOf(r.jws),
  jws: r.jws,
});

function kidOf(jws: string): string {
  try {
    return decodeProtectedHeader(jws).kid ?? '';
  } catch {
    return '';
  }
}

/** Signed checkpoints, oldest first (shipped to the checkpoint HTTP sink). */
export function checkpointSource(db: Queryable): ExportSource<Checkpoint> {
  return {
    async read(after, limit) {
      const r = await db.query<CheckpointRow>('SELECT seq, hash, ts, instance, jws FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2', [after, limit]);
      return r.rows.map(checkpointFromRow);
    },
    head: () => headSeq(db, 'SELECT max(seq) AS seq FROM audit_checkpoints'),
  };
}

export async function listCheckpoints(db: Queryable, opts: { upTo?: number; after?: number; limit?: number; latestOnly?: boolean } = {}): Promise<Checkpoint[]> {
  const r = await db.query<CheckpointRow>(
    `SELECT seq, hash, ts, instance, jws FROM audit_checkpoints WHERE seq <= $1 AND seq > $2 ORDER BY seq ${opts.latestOnly ? 'DESC' : ''} LIMIT $3`,
    [opts.upTo ?? Number.MAX_SAFE_INTEGER, opts.after ?? -1, opts.latestOnly ? 1 : (opts.limit ?? Number.MAX_SAFE_INTEGER)],
  );
  return r.rows.map(checkpointFromRow);
}
