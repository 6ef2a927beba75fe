import { randomBytes } from 'node:crypto';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { Queryable } from '../store/index.js';
import type { Clock } from '../clock.js';
import { AdminSecretError } from './admin-secret.js';
import { roleMaxTtlSeconds } from './config.js';
import type { ConnectorStore } from './connector-store.js';

/** What the caller proved and the kernel allowed (the route checked the token and asked the kernel). */
export interface CredentialRequest {
  connector: string;
  role: string;
  identity: string;
  grant: string;
  jti: string;
  /** A policy's `@ttl` obligation for this decision, seconds. */
  ttlSeconds?: number | undefined;
}

export interface IssuedCredential {
  lease_id: string;
  username: string;
  /** Shown once, to the caller; never stored, logged or audited. */
  password: string;
  expires_at: string;
}

export interface CredentialIssuerDeps {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact' | 'append'>;
  connectors: Pick<ConnectorStore, 'get' | 'target'>;
  clock: Clock;
  /** Tells the sweeper a lease may need ending now (an issuance that failed half-way). */
  kick: () => void;
  onIssued?: (connector: string) => void;
}

/**
 * Makes a fresh account for one task. The lease row is written before the account (state
 * `creating`), so whatever happens next — the target refusing, this instance dying — a sweeper
 * finds the row and makes sure nothing is left behind. The account lives no longer than the grant
 * the caller's token was issued under, the role's max TTL, and any `@ttl` obligation.
 */
export function createCredentialIssuer(deps: CredentialIssuerDeps) {
  const fail = async (r: CredentialRequest, reason: string) => {
    await deps.audit.append({ type: 'credential.failed', actor: r.identity, identity: r.identity, data: { connector: r.connector, role: r.role, reason, grant: r.grant } }).catch(() => {});
  };
  return {
    async issue(r: CredentialRequest): Promise<IssuedCredential> {
      const c = deps.connectors.get(r.connector);
      const role = c && Object.hasOwn(c.roles, r.role) ? c.roles[r.role] : undefined;
      if (!c || !role) throw new TetherError('not_found', `no connector role ${r.connector}/${r.role}`);
      const now = deps.clock();
      const g = await deps.db.query<{ state: string; not_after: Date | null }>('SELECT state, not_after FROM grants WHERE id = $1', [r.grant]);
      const grant = g.rows[0];
      if (!grant || grant.state !== 'active' || (grant.not_after !== null && new Date(grant.not_after).getTime() <= now.getTime())) {
        throw new TetherError('invalid_token', "the token's grant is no longer active", undefined, 401);
      }
      let ms = roleMaxTtlSeconds(c, r.role) * 1000;
      if (r.ttlSeconds !== undefined) ms = Math.min(ms, r.ttlSeconds * 1000);
      if (grant.not_after !== null) ms = Math.min(ms, new Date(grant.not_after).getTime() - now.getTime());
      // Whole seconds: PostgreSQL's VALID UNTIL and what we tell the caller agree.
      const expiresAt = new Date(Math.floor((now.getTime() + ms) / 1000) * 1000);
      const hex = randomBytes(12).toString('hex');
      const lease = `lease_${hex}`;
      const username = `tether_${hex}`;
      // 192 random bits, in characters every target accepts unquoted in a connection string.
      const password = randomBytes(24).toString('base64url');

      await deps.db.query(
        `INSERT INTO credential_leases (id, connector, role, username, identity, grant_id, jti, state, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'creating', $8, $9)`,
        [lease, r.connector, r.role, username, r.identity, r.grant, r.jti, now, expiresAt],
      );
      const abandon = async (reason: string) => {
        await deps.db.query(`UPDATE credential_leases SET state = 'ending', end_reason = 'issue_failed', ending_since = $2, next_attempt_at = $2, last_error = $3 WHERE id = $1 AND state = 'creating'`, [lease, deps.clock(), reason.slice(0, 1000)]).catch(() => {});
        deps.kick();
        await fail(r, reason);
      };
      try {
        const target = deps.connectors.target(r.connector)!;
        await target.create(username, password, role, expiresAt);
      } catch (e) {
        const msg = e instanceof AdminSecretError ? e.message : `the target refused: ${(e as Error).message}`;
        await abandon(msg);
        throw new TetherError('unavailable', `connector ${r.connector}: ${msg}`, undefined, 502);
      }
      const data = { lease, connector: r.connector, role: r.role, username, grant: r.grant, jti: r.jti, expires_at: expiresAt.toISOString() };
      try {
        // Fail closed (DESIGN.md flow 4): no credential is handed out before its record is durable.
        await deps.audit.transact(async (q, emit) => {
          const u = await q.query(`UPDATE credential_leases SET state = 'active' WHERE id = $1 AND state = 'creating'`, [lease]);
          if (u.rowCount !== 1) throw new TetherError('conflict', 'the lease was ended while the account was being made');
          emit({ type: 'credential.issued', actor: r.identity, identity: r.identity, data });
        });
      } catch (e) {
        await abandon((e as Error).message);
        throw e;
      }
      deps.onIssued?.(r.connector);
      // The grant may have ended while the account was being made: the sweeper looks again now.
      deps.kick();
      return { lease_id: lease, username, password, expires_at: expiresAt.toISOString() };
    },
  };
}

export type CredentialIssuer = ReturnType<typeof createCredentialIssuer>;
