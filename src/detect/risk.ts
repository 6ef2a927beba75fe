/**
 * Risk score per identity, which policies read as `context.risk` (0–100, an integer because Cedar
 * has no decimals). Each open finding adds severity-weighted points that halve every `halfLifeMs`;
 * resolving a finding takes its remaining points away. Contract: while a critical finding is open
 * the score is at least CRITICAL_RISK_FLOOR, however old the finding, until an operator resolves it.
 *
 * Kept as one decayed sum per identity (points at a reference time), so raising, reading and
 * resolving are O(1) whatever the number of findings.
 */
import type { Finding } from './finding.js';
import type { DetectionOptions } from './options.js';
import type { IdentityState } from './state.js';

export const CRITICAL_RISK_FLOOR = 80;
export const MAX_RISK = 100;

type RiskOptions = DetectionOptions['risk'];

function decay(points: number, elapsedMs: number, halfLifeMs: number): number {
  return elapsedMs <= 0 ? points : points * 2 ** (-elapsedMs / halfLifeMs);
}

/** Bring the sum to `at` (never backwards: a late event must not make old points grow). */
function advance(s: IdentityState, at: number, o: RiskOptions): void {
  if (at <= s.riskAt) return;
  s.riskPoints = decay(s.riskPoints, at - s.riskAt, o.halfLifeMs);
  s.riskAt = at;
}

export function addFindingRisk(s: IdentityState, f: Finding, o: RiskOptions): void {
  advance(s, f.createdAt, o);
  // A finding older than the reference time adds what is left of its points by now.
  s.riskPoints += decay(o.points[f.severity], s.riskAt - f.createdAt, o.halfLifeMs);
  if (f.severity === 'critical') s.openCritical += 1;
}

export function removeFindingRisk(s: IdentityState, f: Finding, now: number, o: RiskOptions): void {
  advance(s, now, o);
  s.riskPoints = Math.max(0, s.riskPoints - decay(o.points[f.severity], s.riskAt - f.createdAt, o.halfLifeMs));
  if (s.riskPoints < 1e-9) s.riskPoints = 0; // float residue would otherwise read as a tiny risk forever
  if (f.severity === 'critical') s.openCritical = Math.max(0, s.openCritical - 1);
}

export function riskScore(s: IdentityState | undefined, now: number, o: RiskOptions): number {
  if (!s) return 0;
  const points = decay(s.riskPoints, now - s.riskAt, o.halfLifeMs);
  const score = Math.min(MAX_RISK, Math.round(points));
  return s.openCritical > 0 ? Math.max(CRITICAL_RISK_FLOOR, score) : score;
}
