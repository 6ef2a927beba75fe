import type { AuditInput } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { notifyChange, type Queryable } from '../store/index.js';

export type LeaseState = 'creating' | 'active' | 'ending' | 'ended';

export interface Lease {
  id: string;
  connector: string;
  role: string;
  username: string;
  identity: string;
  grant: string;
  state: LeaseState;
  created_at: string;
  expires_at: string;
  end_reason: string | null;
  ending_since: string | null;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  ended_at: string | null;
  sessions_killed: number | null;
}

const COLS = 'id, connector, role, username, identity, grant_id, state, created_at, expires_at, end_reason, ending_since, attempts, next_attempt_at, last_error, ended_at, sessions_killed';
const iso = (d: unknown) => (d ? new Date(d as string).toISOString() : null);
const toLease = (r: Record<string, unknown>): Lease => ({
  id: String(r['id']),
  connector: String(r['connector']),
  role: String(r['role']),
  username: String(r['username']),
  identity: String(r['identity']),
  grant: String(r['grant_id']),
  state: r['state'] as LeaseState,
  created_at: iso(r['created_at'])!,
  expires_at: iso(r['expires_at'])!,
  end_reason: (r['end_reason'] as string | null) ?? null,
  ending_since: iso(r['ending_since']),
  attempts: Number(r['attempts']),
  next_attempt_at: iso(r['next_attempt_at']),
  last_error: (r['last_error'] as string | null) ?? null,
  ended_at: iso(r['ended_at']),
  sessions_killed: r['sessions_killed'] === null || r['sessions_killed'] === undefined ? null : Number(r['sessions_killed']),
});

export interface LeaseFilter {
  state?: LeaseState | undefined;
  connector?: string | undefined;
  identity?: string | undefined;
  limit: number;
}

/** Reads of the credential leases (admin API, metrics) and an operator's revoke of one. */
export function createLeaseStore(db: Queryable) {
  return {
    async list(f: LeaseFilter): Promise<Lease[]> {
      const r = await db.query(
        `SELECT ${COLS} FROM credential_leases
          WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR connector = $2) AND ($3::text IS NULL OR identity = $3)
          ORDER BY created_at DESC, id LIMIT $4`,
        [f.state ?? null, f.connector ?? null, f.identity ?? null, f.limit],
      );
      return r.rows.map(toLease);
    },
    async get(id: string): Promise<Lease | null> {
      const r = await db.query(`SELECT ${COLS} FROM credential_leases WHERE id = $1`, [id]);
      return r.rows[0] ? toLease(r.rows[0]) : null;
    },
    /** Counts per state, and how many ending leases have failed at least once (metrics). */
    async counts(): Promise<{ byState: Record<string, number>; failing: number }> {
      const r = await db.query<{ state: string; n: string; failing: string }>(
        `SELECT state, count(*) AS n, count(*) FILTER (WHERE attempts > 0) AS failing FROM credential_leases WHERE state <> 'ended' GROUP BY state`,
      );
      const byState: Record<string, number> = { creating: 0, active: 0, ending: 0 };
      let failing = 0;
      for (const row of r.rows) {
        byState[row.state] = Number(row.n);
        if (row.state === 'ending') failing = Number(row.failing);
      }
      return { byState, failing };
    },
    /** An operator ends one lease now (the sweeper, woken by the notice, does the work). */
    async endIn(q: Queryable, emit: (e: AuditInput) => void, id: string, reason: string, actor: string, now: Date): Promise<Lease> {
      const r = await q.query(
        `UPDATE credential_leases SET state = 'ending', end_reason = 'operator', ending_since = $2, next_attempt_at = $2 WHERE id = $1 AND state = 'active' RETURNING ${COLS}`,
        [id, now],
      );
      if (!r.rows[0]) {
        const cur = await q.query<{ state: string }>('SELECT state FROM credential_leases WHERE id = $1', [id]);
        if (!cur.rows[0]) throw new TetherError('not_found', `lease ${JSON.stringify(id)} does not exist`);
        throw new TetherError('conflict', `lease ${id} is ${cur.rows[0].state}, not active`);
      }
      const lease = toLease(r.rows[0]);
      emit({ type: 'credential.ending', actor, identity: lease.identity, data: { lease: id, connector: lease.connector, role: lease.role, username: lease.username, grant: lease.grant, reason } });
      await notifyChange(q, { kind: 'lease', id });
      return lease;
    },
  };
}

export type LeaseStore = ReturnType<typeof createLeaseStore>;
