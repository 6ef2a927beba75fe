/**
 * Console sessions (README "Console"): an operator logs in once with their token and gets a session,
 * so the token never sits in the browser. The session id travels only in an HttpOnly,
 * SameSite=Strict cookie; the store keeps its SHA-256 (a database reader cannot ride a session),
 * beside a CSRF token the page must echo on every state change. A session ends at logout, at its
 * absolute expiry, and as soon as its operator is revoked or expires: every use re-reads the operator.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditWriter } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { BOOTSTRAP_ADMIN } from '../operators/operators.js';
import { isRole, type OperatorPrincipal } from '../operators/roles.js';
import type { Queryable } from '../store/index.js';

/** The cookie's name; `__Host-` would need Secure, which a loopback http broker cannot set. */
export const SESSION_COOKIE = 'tether_session';
/** Session ids are 256 random bits, like operator tokens. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface ConsoleSession {
  operator: OperatorPrincipal;
  csrf: string;
  expiresAt: Date;
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

export function createConsoleSessions(deps: {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact'>;
  clock: Clock;
  ttlSeconds: number;
  /** SHA-256 (hex) of the current bootstrap admin token: a bootstrap session made with another one is dead. */
  bootstrapDigest: string;
}) {
  return {
    ttlSeconds: deps.ttlSeconds,

    /** Starts a session for an authenticated operator; returns the cookie value, once. */
    async start(operator: OperatorPrincipal, source: string): Promise<{ id: string; session: ConsoleSession }> {
      const id = randomBytes(32).toString('base64url');
      const csrf = randomBytes(32).toString('base64url');
      const now = deps.clock();
      const expiresAt = new Date(now.getTime() + deps.ttlSeconds * 1000);
      await deps.audit.transact(async (q, emit) => {
        await q.query('DELETE FROM console_sessions WHERE expires_at < $1', [now]);
        await q.query(
          `INSERT INTO console_sessions (id_hash, operator, role, bootstrap, csrf, credential_digest, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [digest(id), operator.name, operator.role, operator.bootstrap, csrf, operator.bootstrap ? deps.bootstrapDigest : null, now, expiresAt],
        );
        emit({ type: 'operator.session_started', actor: operator.name, data: { operator: operator.name, role: operator.role, source_ip: source, expires_at: expiresAt.toISOString() } });
      });
      return { id, session: { operator, csrf, expiresAt } };
    },

    /**
     * The live session a cookie value names, or null: unknown, expired, or its operator no longer
     * active (revoked, expired, or demoted: the role is the operator's current one).
     */
    async find(id: string): Promise<ConsoleSession | null> {
      if (!SESSION_ID.test(id)) return null;
      const now = deps.clock();
      const r = await deps.db.query<{ operator: string; role: string; bootstrap: boolean; csrf: string; credential_digest: string | null; expires_at: Date | string; op_role: string | null; revoked_at: Date | string | null; op_expires: Date | string | null }>(
        `SELECT s.operator, s.role, s.bootstrap, s.csrf, s.credential_digest, s.expires_at, o.role AS op_role, o.revoked_at, o.expires_at AS op_expires
           FROM console_sessions s LEFT JOIN operators o ON o.name = s.operator AND NOT s.bootstrap
          WHERE s.id_hash = $1`,
        [digest(id)],
      );
      const row = r.rows[0];
      if (!row || new Date(row.expires_at) <= now) return null;
      let role = row.role;
      if (!row.bootstrap) {
        if (row.op_role === null || row.revoked_at !== null || (row.op_expires !== null && new Date(row.op_expires) <= now)) return null;
        role = row.op_role;
      } else if (row.operator !== BOOTSTRAP_ADMIN || row.credential_digest !== deps.bootstrapDigest) {
        // The admin token was rotated since this login: the session goes with the old token.
        return null;
      }
      if (!isRole(role)) return null;
      return { operator: { name: row.operator, role, bootstrap: row.bootstrap }, csrf: row.csrf, expiresAt: new Date(row.expires_at) };
    },

    /** Ends a session (logout). Returns whether there was one. */
    async end(id: string, operator: string): Promise<boolean> {
      if (!SESSION_ID.test(id)) return false;
      return deps.audit.transact(async (q, emit) => {
        const r = await q.query('DELETE FROM console_sessions WHERE id_hash = $1', [digest(id)]);
        if (r.rowCount) emit({ type: 'operator.session_ended', actor: operator, data: { operator, reason: 'logout' } });
        return r.rowCount > 0;
      });
    },
  };
}

/** Constant-time comparison of the CSRF token a page sent with the session's. */
export function csrfMatches(session: ConsoleSession, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(session.csrf).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;
