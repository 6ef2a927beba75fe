import type { Queryable, RevocationKind } from '../store/index.js';

/** Longest any token may live (policy @ttl included); revocations are kept in memory past it. */
export const MAX_TOKEN_LIFETIME_SECONDS = 3600;
const WINDOW_MS = 2 * MAX_TOKEN_LIFETIME_SECONDS * 1000;

export interface RevocationEntry {
  kind: RevocationKind;
  value: string;
  /** When it was made, epoch ms. */
  at: number;
}

export interface TokenFacts {
  jti: string;
  grant?: string | undefined;
  sub: string;
  /** Name of the federation issuer the token was exchanged through. */
  issuer?: string | undefined;
  /** iat, epoch seconds. */
  iat: number;
}

/**
 * The in-memory revocation set every decision checks. A jti or grant revocation kills the token
 * whenever it was issued; an identity or issuer revocation kills tokens issued up to that moment
 * (later issuance is stopped by the identity's status and the issuer's config instead).
 */
export function createRevocationSet() {
  let maps = new Map<RevocationKind, Map<string, number>>();
  const get = (k: RevocationKind) => {
    let m = maps.get(k);
    if (!m) maps.set(k, (m = new Map()));
    return m;
  };
  const add = (e: RevocationEntry) => {
    const m = get(e.kind);
    m.set(e.value, Math.max(m.get(e.value) ?? 0, e.at));
  };
  return {
    add,
    /** Replaces the whole set from the table (start, reconnect, periodic backstop). */
    async reload(q: Queryable): Promise<void> {
      const r = await q.query<{ kind: RevocationKind; value: string; at: number }>(
        `SELECT kind, value, (extract(epoch from created_at) * 1000)::float8 AS at FROM revocations WHERE created_at > now() - make_interval(secs => $1)`,
        [WINDOW_MS / 1000],
      );
      const prev = maps;
      maps = new Map();
      for (const row of r.rows) add({ kind: row.kind, value: row.value, at: Number(row.at) });
      // Keep anything learned by notification while the query ran (it may have committed after our snapshot).
      for (const [k, m] of prev) for (const [v, at] of m) if (at > Date.now() - WINDOW_MS) get(k).set(v, Math.max(get(k).get(v) ?? 0, at));
    },
    /** Why the token is dead, or null. */
    check(t: TokenFacts): string | null {
      if (maps.get('jti')?.has(t.jti)) return 'token revoked';
      if (t.grant && maps.get('grant')?.has(t.grant)) return 'grant revoked';
      const issuedMs = t.iat * 1000;
      const idAt = maps.get('identity')?.get(t.sub);
      if (idAt !== undefined && issuedMs <= idAt) return 'identity revoked';
      const isAt = t.issuer ? maps.get('issuer')?.get(t.issuer) : undefined;
      if (isAt !== undefined && issuedMs <= isAt) return 'issuer revoked';
      return null;
    },
    size: () => [...maps.values()].reduce((n, m) => n + m.size, 0),
  };
}

export type RevocationSet = ReturnType<typeof createRevocationSet>;
