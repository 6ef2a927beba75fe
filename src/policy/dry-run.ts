/**
 * "What would change" (DESIGN.md "Policy model"): the last N audited decisions, issuance (phase
 * `issue`) and request time alike, re-asked of the active set and of a candidate, on the same recorded inputs (request properties,
 * caller context, Tether's context as it was: time, risk). Both sides are evaluated now, so a change
 * in stored entities since the decision is not reported as a policy change; the recorded outcome is
 * reported beside them. The candidate is compiled, used and disposed: never activated.
 */
import { dataOf, type AuditRecord } from '../audit/index.js';
import { invalidRequest } from '../errors.js';
import type { Queryable } from '../store/index.js';
import { compilePolicySet, disposePolicySet } from './compile.js';
import type { ActivePolicySet } from './policy-cache.js';
import { sourceHashOf } from './source-hash.js';
import type { PolicyCandidate } from './versions.js';

export const DRY_RUN_DEFAULT = 1000;
export const DRY_RUN_MAX = 10000;

export interface ReplayVerdict {
  readonly allow: boolean;
}

/** Rebuilds one recorded decision and asks `set` (null = no policy set); null when not replayable. */
export type Replayer = (e: AuditRecord, set: ActivePolicySet | null) => Promise<ReplayVerdict | null>;

export interface DryRunChange {
  seq: number;
  ts: string;
  phase: 'issue' | 'request';
  recorded: 'allow' | 'deny';
  before: 'allow' | 'deny';
  after: 'allow' | 'deny';
  principal: unknown;
  action: unknown;
  resource: unknown;
}

export interface DryRunReport {
  evaluated: number;
  skipped: number;
  unchanged: number;
  changed: DryRunChange[];
  candidate: { source_hash: string; warnings: readonly string[] };
  active_version: number | null;
}

/** Newest `limit` decision events, oldest first (the (type, seq) index serves this). */
async function recentDecisions(db: Queryable, limit: number): Promise<AuditRecord[]> {
  const r = await db.query<{ body: string; prev_hash: string; hash: string }>(
    "SELECT body, prev_hash, hash FROM audit_events WHERE type = 'decision' ORDER BY seq DESC LIMIT $1",
    [limit],
  );
  return r.rows.reverse().map((row) => ({ ...(JSON.parse(row.body) as Omit<AuditRecord, 'prev_hash' | 'hash'>), prev_hash: row.prev_hash, hash: row.hash }));
}

export async function dryRun(
  deps: { db: Queryable; active: () => ActivePolicySet | null; replay: Replayer },
  c: PolicyCandidate,
  limit = DRY_RUN_DEFAULT,
): Promise<DryRunReport> {
  if (!Number.isInteger(limit) || limit < 1 || limit > DRY_RUN_MAX) throw invalidRequest(`limit must be an integer from 1 to ${DRY_RUN_MAX}`);
  if (Object.keys(c.files).length === 0) throw invalidRequest('files: at least one policy file is required');
  const input = c.schema === undefined ? { files: c.files } : { files: c.files, schema: c.schema };
  const set = compilePolicySet(input); // throws invalid_request with the file and Cedar's message
  const candidate: ActivePolicySet = { version: -1, sourceHash: sourceHashOf(input), set };
  // Hold the active set for the whole run; the cache disposes a replaced set only after a delay.
  const active = deps.active();
  try {
    const events = await recentDecisions(deps.db, limit);
    const report: DryRunReport = {
      evaluated: 0,
      skipped: 0,
      unchanged: 0,
      changed: [],
      candidate: { source_hash: candidate.sourceHash, warnings: set.warnings },
      active_version: active?.version ?? null,
    };
    for (const e of events) {
      const before = await deps.replay(e, active);
      const after = before === null ? null : await deps.replay(e, candidate);
      if (before === null || after === null) {
        report.skipped += 1;
        continue;
      }
      report.evaluated += 1;
      if (before.allow === after.allow) {
        report.unchanged += 1;
        continue;
      }
      // Replay answered, so this is a `decision` record.
      const d = dataOf(e, 'decision')!;
      report.changed.push({
        seq: e.seq,
        ts: e.ts,
        phase: d.phase === 'issue' ? 'issue' : 'request',
        recorded: d.decision === 'allow' ? 'allow' : 'deny',
        before: before.allow ? 'allow' : 'deny',
        after: after.allow ? 'allow' : 'deny',
        principal: d.principal,
        action: d.action,
        resource: d.resource,
      });
    }
    return report;
  } finally {
    disposePolicySet(set);
  }
}
