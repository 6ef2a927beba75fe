/**
 * Operator accounts: named people with a role and their own API token (README "Operators"). The
 * token is 256 random bits, returned once; the store keeps only its SHA-256, so a database reader
 * cannot act as an operator. Creation and revocation are audited in the same transaction.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AuditWriter } from '../audit/index.js';
import { invalidRequest, TetherError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Queryable } from '../store/index.js';
import { isRole, type OperatorPrincipal, type Role } from './roles.js';

/** A recognisable prefix lets secret scanners find leaked operator tokens. */
export const OPERATOR_TOKEN_PREFIX = 'tether_op_';
/** Operator names: short, printable, unambiguous in audit records. */
const NAME = /^[a-z][a-z0-9._-]{0,63}$/;
/** The bootstrap admin's reserved name (README "Operators"). */
export const BOOTSTRAP_ADMIN = 'admin';

export interface OperatorView {
  name: string;
  role: Role;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  slack_user_id: string | null;
  active: boolean;
}

export type Authentication =
  | { ok: true; operator: OperatorPrincipal }
  /** `name` only when the presented token is a real operator's (revoked or expired): a verified fact. */
  | { ok: false; reason: 'unknown_token' | 'revoked' | 'expired'; name?: string };

interface Row {
  name: string;
  role: string;
  created_at: Date | string;
  created_by: string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  revoked_by: string | null;
  slack_user_id: string | null;
}

const COLS = 'name, role, created_at, created_by, expires_at, revoked_at, revoked_by, slack_user_id';
const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export function hashOperatorToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function createOperators(deps: { db: Queryable; audit: Pick<AuditWriter, 'transact'>; clock: Clock }) {
  const view = (r: Row, now: Date): OperatorView => {
    const expires = iso(r.expires_at);
    return {
      name: r.name,
      role: isRole(r.role) ? r.role : 'auditor',
      created_at: iso(r.created_at)!,
      created_by: r.created_by,
      expires_at: expires,
      revoked_at: iso(r.revoked_at),
      revoked_by: r.revoked_by,
      slack_user_id: r.slack_user_id,
      active: r.revoked_at === null && (expires === null || Date.parse(expires) > now.getTime()),
    };
  };

  return {
    /** Creates an operator; the token is in the answer only. */
    async add(input: { name: string; role: string; expiresInSeconds?: number | undefined; slackUserId?: string | undefined }, actor: string): Promise<{ operator: OperatorView; token: string }> {
      if (!NAME.test(input.name) || input.name === BOOTSTRAP_ADMIN) {
        throw invalidRequest(`operator name must be 1-64 characters of a-z 0-9 . _ - starting with a letter, and not "${BOOTSTRAP_ADMIN}"`);
      }
      if (!isRole(input.role)) throw invalidRequest(`role must be one of admin, approver, policy-author, auditor`);
      const token = OPERATOR_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const now = deps.clock();
      const expires = input.expiresInSeconds !== undefined ? new Date(now.getTime() + input.expiresInSeconds * 1000) : null;
      const row = await deps.audit.transact(async (q, emit) => {
        const r = await q.query<Row>(
          `INSERT INTO operators (name, role, token_hash, created_at, created_by, expires_at, slack_user_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT DO NOTHING RETURNING ${COLS}`,
          [input.name, input.role, hashOperatorToken(token), now, actor, expires, input.slackUserId ?? null],
        );
        const created = r.rows[0];
        if (!created) throw new TetherError('conflict', `operator ${input.name} exists (or the Slack user is mapped to another operator)`);
        emit({ type: 'operator.created', actor, data: { operator: input.name, role: input.role, expires_at: iso(expires), slack_user_id: input.slackUserId ?? null } });
        return created;
      });
      return { operator: view(row, now), token };
    },

    async list(): Promise<OperatorView[]> {
      const now = deps.clock();
      const r = await deps.db.query<Row>(`SELECT ${COLS} FROM operators ORDER BY name`);
      return r.rows.map((x) => view(x, now));
    },

    async revoke(name: string, actor: string, reason: string): Promise<OperatorView> {
      const now = deps.clock();
      const row = await deps.audit.transact(async (q, emit) => {
        const r = await q.query<Row>(`UPDATE operators SET revoked_at = $2, revoked_by = $3, slack_user_id = NULL WHERE name = $1 AND revoked_at IS NULL RETURNING ${COLS}`, [name, now, actor]);
        const done = r.rows[0];
        if (!done) {
          const exists = await q.query('SELECT 1 FROM operators WHERE name = $1', [name]);
          throw exists.rows.length ? new TetherError('conflict', `operator ${name} is already revoked`) : new TetherError('not_found', `no operator named ${name}`);
        }
        emit({ type: 'operator.revoked', actor, data: { operator: name, reason } });
        return done;
      });
      return view(row, now);
    },

    /** The operator a presented token belongs to; never says which part of a wrong token was wrong. */
    async authenticate(token: string): Promise<Authentication> {
      if (!token.startsWith(OPERATOR_TOKEN_PREFIX)) return { ok: false, reason: 'unknown_token' };
      const r = await deps.db.query<Row & { token_hash: string }>(`SELECT ${COLS} FROM operators WHERE token_hash = $1`, [hashOperatorToken(token)]);
      const row = r.rows[0];
      if (!row) return { ok: false, reason: 'unknown_token' };
      const v = view(row, deps.clock());
      if (v.revoked_at !== null) return { ok: false, reason: 'revoked', name: v.name };
      if (!v.active) return { ok: false, reason: 'expired', name: v.name };
      return { ok: true, operator: { name: v.name, role: v.role, bootstrap: false } };
    },

    /** The active operator a Slack user id is mapped to (Slack interactive approvals). */
    async bySlackUser(slackUserId: string): Promise<OperatorPrincipal | null> {
      const r = await deps.db.query<Row>(`SELECT ${COLS} FROM operators WHERE slack_user_id = $1`, [slackUserId]);
      const row = r.rows[0];
      if (!row) return null;
      const v = view(row, deps.clock());
      return v.active ? { name: v.name, role: v.role, bootstrap: false } : null;
    },
  };
}

export type Operators = ReturnType<typeof createOperators>;
