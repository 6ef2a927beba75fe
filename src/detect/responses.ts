/**
 * What to do about a finding: a pure mapping from (rule, severity) to a response. Performing it
 * (revoking, suspending, auditing, and letting an operator undo it) is the caller's job; keeping the
 * choice pure makes it testable and lets a dry-run say what *would* have happened.
 */
import { corroborated, evidenceGrade } from './evidence-grade.js';
import type { IdentityKind } from './events.js';
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
  /**
   * Identity kinds for which identity-wide responses (require_approval, suspend, revoke_identity) may
   * be taken automatically. Empty by default: a Deployment locked out by a false positive is an
   * outage, so a platform team opts in per kind (e.g. `ai_agent`) once it trusts the baselines.
   */
  identityWide?: readonly IdentityKind[];
  /** Per rule: one response, or one per severity (severities missing there fall through). */
  rules?: Partial<Record<RuleId, DetectionResponse | Partial<Record<Severity, DetectionResponse>>>>;
  /** For rules not listed (or severities not listed under their rule). */
  severities?: Partial<Record<Severity, DetectionResponse>>;
  /** Last resort. */
  fallback: DetectionResponse;
  /**
   * For a baseline rule's finding whose evidence names one token with corroborated signals
   * (credential-signals.ts): `revoke_grant` (default) contains that token, `alert` only alerts.
   */
  contain?: 'revoke_grant' | 'alert';
}

export const DEFAULT_RESPONSE_POLICY: ResponsePolicy = Object.freeze({
  rules: Object.freeze({
    // Revoke the replayed token (and its grant when that grant has no other holder): the identity's
    // other tasks and instances are not implicated.
    replay: 'revoke_grant',
    // Identity-wide: taken only for kinds listed in identityWide, an alert otherwise.
    escalation: 'suspend',
    enumeration: 'require_approval',
  }),
  identityWide: Object.freeze([]),
  fallback: 'alert',
}) as ResponsePolicy;

const IDENTITY_WIDE: ReadonlySet<DetectionResponse> = new Set(['require_approval', 'suspend', 'revoke_identity']);

/**
 * The response to take: the configured one, graded by the evidence (evidence-grade.ts). Only
 * credential-specific evidence may contain a credential automatically; identity-wide responses need
 * the identity's kind opted in; everything else alerts.
 */
export function responseFor(finding: Pick<Finding, 'rule' | 'severity' | 'evidence' | 'identityKind'>, policy: ResponsePolicy = DEFAULT_RESPONSE_POLICY): DetectionResponse {
  const byRule = policy.rules?.[finding.rule];
  const wanted = typeof byRule === 'string' ? byRule : (byRule?.[finding.severity] ?? policy.severities?.[finding.severity] ?? policy.fallback);
  let graded: DetectionResponse = wanted;
  if (IDENTITY_WIDE.has(wanted)) {
    const kind = finding.identityKind;
    if (!(kind !== undefined && (policy.identityWide ?? []).includes(kind))) graded = 'alert';
  } else if (wanted === 'revoke_grant' || wanted === 'narrow') graded = evidenceGrade(finding) === 'credential' ? wanted : 'alert';
  // An identity-wide response the identity's kind is opted in to is kept as configured.
  if (!corroborated(finding.evidence) || IDENTITY_WIDE.has(graded)) return graded;
  // Corroborated: at least the token's containment, or whatever stronger response the rule has.
  const contain = policy.contain ?? 'revoke_grant';
  return RESPONSE_STRENGTH[graded] >= RESPONSE_STRENGTH[contain] ? graded : contain;
}
