import type { Queryable } from '../store/index.js';
import { createMemoryReplayGuard, type ReplayGuard } from './replay-guard.js';

/**
 * Single use of DPoP proof ids (and private_key_jwt assertion ids) across every instance.
 * The local LRU answers repeats seen here without a query; a first sighting is then claimed in the
 * shared `dpop_jti` table. Claims made within one tick share one INSERT; the table is unlogged, so
 * the commit waits for no fsync, and losing a claim in a crash only re-opens a proof that is at most
 * one iat window old. A gateway check defers the shared step (`claimDeferred`): its claim is made in
 * the statement that writes its decision record (audit/append.ts), one round trip instead of two.
 */
export function createClusterReplayGuard(
  db: (Queryable & { tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> }) | null,
  opts: { max?: number } = {},
): ReplayGuard & Required<Pick<ReplayGuard, 'claimDeferred'>> & { prune(): Promise<void> } {
  const local = createMemoryReplayGuard({ max: opts.max ?? 200000 });
  let pending: Array<{ key: string; exp: number; resolve(ok: boolean): void; reject(e: unknown): void }> = [];
  let scheduled = false;

  const flush = async () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    try {
      // One autocommit statement: the table is unlogged, so its commit waits for no WAL flush. Keys
      // are claimed in sorted order, the order of the audit writer's claims (audit/append.ts): a batch
      // meeting its keys in arrival order could hold one that a decision group commit waits for while
      // waiting for one that group commit holds, a deadlock that fails every decision of the group.
      const rows = await (async (q: Queryable) => {
        const r = await q.query<{ key: string }>(
          `INSERT INTO dpop_jti AS t (key, expires_at)
           SELECT k, to_timestamp(e) FROM unnest($1::text[], $2::float8[]) AS x(k, e) ORDER BY k
           ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE t.expires_at <= now()
           RETURNING key`,
          [batch.map((p) => p.key), batch.map((p) => p.exp)],
        );
        return new Set(r.rows.map((x) => x.key));
      })(db!);
      for (const p of batch) p.resolve(rows.has(p.key));
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  };

  return {
    async claim(key, expiresAt) {
      // Also catches a repeat within one batch: only the first sighting reaches the table.
      if (!(await local.claim(key, expiresAt))) return false;
      if (!db) return true;
      return new Promise<boolean>((resolve, reject) => {
        pending.push({ key, exp: expiresAt, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => void flush());
        }
      });
    },
    async claimDeferred(key, expiresAt) {
      // The local step stays synchronous with the check, exactly as in claim: a repeat on this
      // instance (or within one group commit) is refused without a query.
      if (!(await local.claim(key, expiresAt))) return false;
      return db ? { key, expiresAt } : null;
    },
    async prune() {
      // Rows a claim is taking over (or another instance is pruning) are skipped, not waited for: a
      // delete meeting expired keys in heap order while a claim takes several over in key order
      // (audit/append.ts) deadlocked, failing that claim's whole decision group commit.
      if (db) {
        await db.tx((q) =>
          q.query('DELETE FROM dpop_jti WHERE key IN (SELECT key FROM dpop_jti WHERE expires_at < now() ORDER BY key FOR UPDATE SKIP LOCKED)'),
        );
      }
    },
  };
}
