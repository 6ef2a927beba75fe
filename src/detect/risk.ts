/**
 * Risk score per identity, which policies read as `context.risk` (0–100, an integer because Cedar
 * has no decimals). Each open finding adds severity-weighted points that halve every `halfLifeMs`;
 * resolving a finding takes its remaining points away. Contract: while a critical finding is open
 * the score is at least CRITICAL_RISK_FLOOR, however old the finding, until an operator resolves it,
 * for identity kinds opted in to identity-wide responses; for the others every finding's risk is
 * bounded (evidence-grade.ts), because a floor at the threshold policies refuse at is a lock-out.
 *
 * Baseline findings (evidence-grade.ts) add to a second sum that counts only up to
 * `risk.baselineMax` unless several baseline rules corroborate each other: a workload that trips
 * drift or first_seen in a release must not reach the thresholds policies refuse at.
 *
 * Kept as decayed sums per identity (points at a reference time), so raising, reading and
 * resolving are O(1) whatever the number of findings.
 */
import { combineRisk, evidenceGrade, weighsOnIdentity } from './evidence-grade.js';
import type { Finding } from './finding.js';
import type { DetectionOptions } from './options.js';
import type { IdentityState } from './state.js';

export const CRITICAL_RISK_FLOOR = 80;
export const MAX_RISK = 100;

type RiskOptions = DetectionOptions['risk'];
/** Identity kinds opted in to identity-wide responses (responses.ts): only theirs may hold the floor. */
type IdentityWide = readonly string[];

function decay(points: number, elapsedMs: number, halfLifeMs: number): number {
  return elapsedMs <= 0 ? points : points * 2 ** (-elapsedMs / halfLifeMs);
}

/** Bring the sum to `at` (never backwards: a late event must not make old points grow). */
function advance(s: IdentityState, at: number, o: RiskOptions): void {
  if (at <= s.riskAt) return;
  s.riskPoints = decay(s.riskPoints, at - s.riskAt, o.halfLifeMs);
  s.baselinePoints = decay(s.baselinePoints, at - s.riskAt, o.halfLifeMs);
  s.riskAt = at;
}

export function addFindingRisk(s: IdentityState, f: Finding, o: RiskOptions, wide: IdentityWide): void {
  advance(s, f.createdAt, o);
  // A finding older than the reference time adds what is left of its points by now.
  const pts = decay(o.points[f.severity], s.riskAt - f.createdAt, o.halfLifeMs);
  if (weighsOnIdentity(f, wide)) {
    s.riskPoints += pts;
    if (f.severity === 'critical') s.openCritical += 1;
    return;
  }
  s.baselinePoints += pts;
  // Corroboration counts baseline rules only: a leaked token's replay is about one credential.
  if (evidenceGrade(f) === 'baseline') s.baselineRules.set(f.rule, (s.baselineRules.get(f.rule) ?? 0) + 1);
}

export function removeFindingRisk(s: IdentityState, f: Finding, now: number, o: RiskOptions, wide: IdentityWide): void {
  advance(s, now, o);
  const pts = decay(o.points[f.severity], s.riskAt - f.createdAt, o.halfLifeMs);
  // Float residue would otherwise read as a tiny risk forever.
  const less = (v: number) => (v - pts < 1e-9 ? 0 : v - pts);
  if (weighsOnIdentity(f, wide)) {
    s.riskPoints = less(s.riskPoints);
    if (f.severity === 'critical') s.openCritical = Math.max(0, s.openCritical - 1);
    return;
  }
  s.baselinePoints = less(s.baselinePoints);
  if (evidenceGrade(f) !== 'baseline') return;
  const n = (s.baselineRules.get(f.rule) ?? 1) - 1;
  if (n > 0) s.baselineRules.set(f.rule, n);
  else s.baselineRules.delete(f.rule);
}

export function riskScore(s: IdentityState | undefined, now: number, o: RiskOptions): number {
  if (!s) return 0;
  const score = combineRisk(decay(s.riskPoints, now - s.riskAt, o.halfLifeMs), decay(s.baselinePoints, now - s.riskAt, o.halfLifeMs), s.baselineRules.size, o.baselineMax);
  return s.openCritical > 0 ? Math.max(CRITICAL_RISK_FLOOR, score) : score;
}
