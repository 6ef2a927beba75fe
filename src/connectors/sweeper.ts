import type { Logger } from 'pino';
import type { AuditWriter } from '../audit/index.js';
import { createJobLease, type JobLease } from '../audit/lease.js';
import type { Queryable } from '../store/index.js';
import type { Clock } from '../clock.js';
import type { ConnectorStore } from './connector-store.js';

/** A `creating` lease older than this belongs to an issuance that died half-way: end it. */
const STALE_CREATING_SECONDS = 60;
/** Backoff between attempts to end an account on a target that failed: 0.5 s doubling to 60 s. */
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 60_000;
/** The sweeper's job lease: another instance takes over this long after its holder stops renewing. */
const JOB_LEASE_SECONDS = 10;

export const backoffMs = (attempts: number) => Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, attempts - 1));

interface EndingRow {
  id: string;
  connector: string;
  role: string;
  username: string;
  identity: string;
  grant_id: string;
  end_reason: string;
  attempts: number;
  ending_since: Date;
}

export interface SweeperDeps {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact'>;
  connectors: Pick<ConnectorStore, 'target' | 'all'>;
  clock: Clock;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** This instance's name in the cluster (the job lease's owner). */
  instance: string;
  intervalMs?: number;
  onEnded?: (connector: string, seconds: number) => void;
  onAttemptFailed?: (connector: string) => void;
}

/**
 * Ends per-task accounts (README "Legacy bridge"). The tables are the truth: a lease is due when it
 * expired, its grant is no longer active (RFC 7009 task end, operator or detection revocation, grant
 * expiry — every path ends the grant row), the token it was issued with was revoked, or its identity
 * is no longer active (suspension, retirement). Revocation notices only wake the sweeper early.
 *
 * One sweeper at a time across a cluster: the holder of the `connector-sweeper` job lease (the same
 * row-lease the audit exporters use). A failed attempt is kept with its error and retried with
 * backoff for as long as it takes; nothing is abandoned.
 */
export function createLeaseSweeper(deps: SweeperDeps) {
  const job: JobLease = createJobLease(deps.db, 'connector-sweeper', deps.instance, JOB_LEASE_SECONDS);
  let running: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const markDue = async (now: Date) => {
    await deps.db.query(
      `UPDATE credential_leases l SET state = 'ending', ending_since = $1, next_attempt_at = $1, end_reason = CASE
          WHEN l.state = 'creating' THEN 'issue_failed'
          WHEN EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'jti' AND r.value = l.jti) THEN 'token_revoked'
          WHEN NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = l.grant_id AND g.state = 'active' AND (g.not_after IS NULL OR g.not_after > $1)) THEN 'grant_ended'
          WHEN EXISTS (SELECT 1 FROM identities i WHERE i.id = l.identity AND i.status <> 'active') THEN 'identity_inactive'
          ELSE 'expired' END
        WHERE (l.state = 'active' AND (
                 l.expires_at <= $1
              OR EXISTS (SELECT 1 FROM revocations r WHERE r.kind = 'jti' AND r.value = l.jti)
              OR NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = l.grant_id AND g.state = 'active' AND (g.not_after IS NULL OR g.not_after > $1))
              OR EXISTS (SELECT 1 FROM identities i WHERE i.id = l.identity AND i.status <> 'active')))
           OR (l.state = 'creating' AND l.created_at < $1 - make_interval(secs => $2))`,
      [now, STALE_CREATING_SECONDS],
    );
  };

  const endOne = async (l: EndingRow) => {
    const base = { lease: l.id, connector: l.connector, role: l.role, username: l.username, grant: l.grant_id, reason: l.end_reason };
    const attempts = l.attempts + 1;
    try {
      const target = deps.connectors.target(l.connector);
      if (!target) throw new Error(`connector ${l.connector} is not configured on this instance`);
      const report = await target.end(l.username);
      const now = deps.clock();
      await deps.audit.transact(async (q, emit) => {
        await q.query(`UPDATE credential_leases SET state = 'ended', ended_at = $2, attempts = $3, sessions_killed = $4, last_error = NULL, next_attempt_at = NULL WHERE id = $1 AND state = 'ending'`, [l.id, now, attempts, report.sessions]);
        emit({ type: 'credential.ended', actor: 'system', identity: l.identity, data: { ...base, sessions_killed: report.sessions, attempts, existed: report.existed } });
      });
      deps.onEnded?.(l.connector, (now.getTime() - new Date(l.ending_since).getTime()) / 1000);
    } catch (e) {
      const error = String((e as Error).message ?? e).slice(0, 1000);
      const next = new Date(deps.clock().getTime() + backoffMs(attempts));
      deps.onAttemptFailed?.(l.connector);
      deps.logger.warn({ lease: l.id, connector: l.connector, attempts, err: { message: error } }, 'ending a credential lease failed; retrying with backoff');
      await deps.audit
        .transact(async (q, emit) => {
          await q.query(`UPDATE credential_leases SET attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1 AND state = 'ending'`, [l.id, attempts, error, next]);
          emit({ type: 'credential.end_failed', actor: 'system', identity: l.identity, data: { ...base, error, attempts, next_attempt_at: next.toISOString() } });
        })
        .catch((err: Error) => deps.logger.error({ err: { message: err.message } }, 'recording a failed lease end failed'));
    }
  };

  const sweepOnce = async () => {
    // Apply never deletes a connector, so without one there is no lease: a broker that does not use
    // the bridge pays nothing for it.
    if (deps.connectors.all().length === 0) return;
    if ((await job.acquire()) === null) return; // another instance sweeps
    const now = deps.clock();
    await markDue(now);
    const due = await deps.db.query<EndingRow>(
      `SELECT id, connector, role, username, identity, grant_id, end_reason, attempts, ending_since FROM credential_leases
        WHERE state = 'ending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 200`,
      [now],
    );
    // Targets are independent: one down target must not hold up the others' revocations.
    await Promise.all(due.rows.map(endOne));
  };

  const sweep = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await sweepOnce();
        } catch (e) {
          deps.logger.error({ err: { message: (e as Error).message } }, 'credential lease sweep failed');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  return {
    /** Sweeps now (coalesced with a sweep under way); resolves when done. */
    sweep,
    kick: () => void sweep(),
    start() {
      timer = setInterval(() => void sweep(), deps.intervalMs ?? 1000);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (running) await running;
      await job.release().catch(() => {});
    },
  };
}

export type LeaseSweeper = ReturnType<typeof createLeaseSweeper>;
