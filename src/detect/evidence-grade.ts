/**
 * How strong a finding's evidence is, which decides how far its response and risk may go:
 *
 * - credential-specific: a verified access token presented with a DPoP proof by another key than its
 *   `cnf.jkt` (RFC 9449 §6). No legitimate client can produce it, but anyone who merely saw the token
 *   string can (a log line, a proxy): it contains that one credential automatically, and its risk is
 *   bounded like a baseline finding's unless identity-wide responses are opted in for the identity's
 *   kind (otherwise a leaked token string would lock the legitimate identity out). Also one token
 *   used beside its holder from an address the identity never works from (rules/replay.ts): the
 *   server's own view of the address, about that one token (graded high, not critical: NAT pools
 *   the baseline has not seen yet produce it too, and the holder simply exchanges again).
 * - credential-specific too: one token's own signals that someone holding stolen material cannot
 *   avoid, corroborated (credential-signals.ts): a network the identity never used plus an hour it
 *   is rarely active or a silence beyond its cadence; a token moving to such a network mid-task; a
 *   rate beyond the identity's whole learned envelope; an attempt superseded by a later one of the
 *   same run; a deny burst made by that one token alone (rules/enumeration.ts). Their evidence
 *   names the token (`credential`), and containment is that token (its grant with a single holder).
 * - chain: a completed escalation chain of allowed steps, novel for the identity. Strong, but about
 *   the identity rather than one credential: identity-wide responses only where opted in per kind.
 * - baseline: everything compared with what the identity usually does (first seen, off hours,
 *   dormant, drift, rate, enumeration, use after the task ended, a token in another environment).
 *   Real workloads trip these (replicas, releases, NAT, expiry): they alert and add risk bounded
 *   below the thresholds policies use, unless several rules corroborate each other.
 */
import type { RuleId } from './finding.js';

export type EvidenceGrade = 'credential' | 'chain' | 'baseline';

export function evidenceGrade(f: { rule: RuleId | string; evidence: Record<string, unknown> }): EvidenceGrade {
  if (f.rule === 'replay' && (f.evidence.reason === 'key_mismatch' || f.evidence.reason === 'source_changed')) return 'credential';
  if (corroborated(f.evidence)) return 'credential';
  if (f.rule === 'escalation') return 'chain';
  return 'baseline';
}

/** The evidence names one token whose own signals warrant containing it (credential-signals.ts). */
export function corroborated(evidence: Record<string, unknown>): boolean {
  const c = evidence.credential;
  return typeof c === 'object' && c !== null && typeof (c as { jti?: unknown }).jti === 'string';
}

/**
 * Whether a finding may weigh on the whole identity (unbounded points, the critical risk floor): only
 * credential or chain evidence, and only for identity kinds opted in to identity-wide responses.
 * Everything else adds bounded risk (combineRisk).
 */
export function weighsOnIdentity(f: { rule: RuleId | string; evidence: Record<string, unknown>; identityKind?: string | undefined }, identityWide: readonly string[]): boolean {
  return evidenceGrade(f) !== 'baseline' && f.identityKind !== undefined && identityWide.includes(f.identityKind);
}

/** Rules of which an identity has at most one open finding at a time (a second one adds nothing). */
export const ONE_OPEN_PER_IDENTITY: ReadonlySet<string> = new Set<RuleId>(['first_seen', 'off_hours', 'dormant', 'drift', 'rate_spike', 'enumeration']);

/**
 * Risk from baseline findings alone stays below this (policies conventionally refuse at 80, see the
 * README), unless CORROBORATING_RULES distinct rules have open findings for the identity at once.
 */
export const BASELINE_RISK_MAX = 60;
export const CORROBORATING_RULES = 3;

/** Total risk from credential/chain points, baseline points and how many distinct baseline rules are open. */
export function combineRisk(strongPoints: number, baselinePoints: number, baselineRulesOpen: number, baselineMax = BASELINE_RISK_MAX): number {
  const bounded = baselineRulesOpen >= CORROBORATING_RULES ? baselinePoints : Math.min(baselinePoints, baselineMax);
  return Math.min(100, Math.round(strongPoints + bounded));
}
