/**
 * The figures auditors ask for, from one usage pass plus two small table reads.
 *
 * - jit_share: tokens issued from grants with an end ÷ tokens issued from any grant, in the window.
 * - credential_lifetime_seconds: exp − iat of tokens issued in the window (nearest-rank percentiles).
 * - revocation_to_dead_ms: see revocation-speed.ts for the exact definition.
 * - finding_to_response_ms: findings raised in the window, created_at → responded_at.
 * - approvals_by_approver: `grant.approved` by `data.approver` (else the event's actor).
 * - break_glass_uses: `grant.break_glass` events; decisions and issuances: event counts.
 */
import type { Queryable } from '../store/index.js';
import { CountHistogram } from './percentiles.js';
import type { PostureMetrics } from './report-types.js';
import type { UsageSummary } from './usage.js';

export async function findingToResponse(db: Queryable, since: Date): Promise<CountHistogram> {
  const r = await db.query<{ ms: number | string }>(
    `SELECT (extract(epoch from responded_at - created_at) * 1000)::float8 AS ms FROM findings
      WHERE responded_at IS NOT NULL AND created_at >= $1`,
    [since.toISOString()],
  );
  const h = new CountHistogram();
  for (const row of r.rows) h.add(Math.max(0, Number(row.ms)));
  return h;
}

export function buildMetrics(usage: UsageSummary, standingGrants: number, responses: CountHistogram): PostureMetrics {
  const grantTokens = usage.jitTokens + usage.standingTokens;
  return {
    jit_share: grantTokens === 0 ? null : Math.round((usage.jitTokens / grantTokens) * 1000) / 1000,
    standing_grants: standingGrants,
    credential_lifetime_seconds: usage.lifetimes,
    revocation_to_dead_ms: usage.revocationToDead,
    finding_to_response_ms: responses.summary(),
    approvals_by_approver: { ...usage.approvals },
    break_glass_uses: usage.breakGlass,
    decisions: usage.decisions,
    issuances: usage.issuances,
  };
}
