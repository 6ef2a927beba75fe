/**
 * What to do about a finding: a pure mapping from (rule, severity) to a response. Performing it
 * (revoking, suspending, auditing, and letting an operator undo it) is the caller's job; keeping the
 * choice pure makes it testable and lets a dry-run say what *would* have happened.
 */
import type { Finding, RuleId, Severity } from './finding.js';

export type DetectionResponse = 'alert' | 'require_approval' | 'narrow' | 'suspend' | 'revoke_grant' | 'revoke_identity';

/** Ordered from least to most disruptive, so a caller can take the stronger of two responses. */
export const RESPONSE_STRENGTH: Readonly<Record<DetectionResponse, number>> = Object.freeze({
  alert: 0,
  require_approval: 1,
  narrow: 2,
  revoke_grant: 3,
  suspend: 4,
  revoke_identity: 5,
});

export interface ResponsePolicy {
  /** Per rule: one response, or one per severity (severities missing there fall through). */
  rules?: Partial<Record<RuleId, DetectionResponse | Partial<Record<Severity, DetectionResponse>>>>;
  /** For rules not listed (or severities not listed under their rule). */
  severities?: Partial<Record<Severity, DetectionResponse>>;
  /** Last resort. */
  fallback: DetectionResponse;
}

export const DEFAULT_RESPONSE_POLICY: ResponsePolicy = Object.freeze({
  rules: Object.freeze({
    // Revoke the replayed grant and its tokens only: the identity's other grants are not implicated.
    replay: 'revoke_grant',
    escalation: 'suspend',
    after_task: 'revoke_grant',
    enumeration: 'require_approval',
  }),
  fallback: 'alert',
}) as ResponsePolicy;

export function responseFor(finding: Pick<Finding, 'rule' | 'severity'>, policy: ResponsePolicy = DEFAULT_RESPONSE_POLICY): DetectionResponse {
  const byRule = policy.rules?.[finding.rule];
  if (typeof byRule === 'string') return byRule;
  return byRule?.[finding.severity] ?? policy.severities?.[finding.severity] ?? policy.fallback;
}
