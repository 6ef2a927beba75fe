import type { Queryable } from '../store/index.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from './revocation-set.js';

/**
 * A jti, grant or identity revocation can only match tokens issued up to the moment it was made (a
 * revoked grant issues nothing more; a revoked identity's later tokens are stopped by its status),
 * and those are all expired MAX_TOKEN_LIFETIME_SECONDS later. Rows are kept for twice that (the
 * window the in-memory set reads, revocation-set.ts), then deleted; the audit log keeps the record.
 * Issuer revocations are kept: they stand until an operator restores the issuer.
 */
export const REVOCATION_RETENTION_SECONDS = 2 * MAX_TOKEN_LIFETIME_SECONDS;

export async function pruneExpiredRevocations(q: Queryable): Promise<number> {
  const r = await q.query(
    `DELETE FROM revocations WHERE kind IN ('jti', 'grant', 'identity') AND created_at < now() - make_interval(secs => $1)`,
    [REVOCATION_RETENTION_SECONDS],
  );
  return r.rowCount;
}

/** Prunes now and then every `everyMs` (every instance may: the DELETE is idempotent). */
export function schedulePruning(q: Queryable, onError: (err: Error) => void, everyMs = 10 * 60 * 1000): () => void {
  const run = () => void pruneExpiredRevocations(q).catch(onError);
  run();
  const timer = setInterval(run, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
