import type { RuleId, Severity } from '../detect/finding.js';
/**
 * The posture report (contract, DESIGN.md flow 6): what `GET /admin/v1/posture` and `tether report --json`
 * return, and what `renderPostureHtml` draws. Analysis code builds it; renderers only read it, so
 * every field is readonly here and nothing in this file computes anything.
 *
 * Several fields are open unions (`KnownValue | (string & {})`): the known values give editors
 * completion and let a `switch` narrow, while a value we did not foresee (a new detection rule id,
 * a new identity kind) still type-checks and still renders.
 */

/** Finding kinds raised by posture analysis (contract). */
export type PostureFindingKind =
  | 'unowned'
  | 'review_overdue'
  | 'dormant'
  | 'unused_permission'
  | 'standing_access'
  | 'long_lived_credential'
  | 'excess_blast_radius';

/**
 * Detection rule tokens (contract, DESIGN.md flow 5). A detection rule id *contains* one of these
 * (e.g. `replay` or `detect.replay.dpop_key`); `dormant` is both a posture kind and a rule.
 */
export type DetectionRuleToken = RuleId;

export type FindingKind = PostureFindingKind | DetectionRuleToken | (string & {});

export type { Severity };

export type IdentityStatus = 'active' | 'suspended' | 'retired' | (string & {});

export type IdentityKind =
  | 'service_account'
  | 'ci_job'
  | 'workload'
  | 'ai_agent'
  | 'api_client'
  | (string & {});

/** One thing an identity can obtain or perform now, and what lets it. */
export interface BlastRadiusEntry {
  readonly action: string;
  readonly resource_type: string;
  readonly audience: string | null;
  /** The Cedar policy id that permits it, or `'delegation'` when reached through an `act` chain. */
  readonly via: string;
}

export interface PostureIdentity {
  readonly id: string;
  /** null when unowned (discovered identities start that way). */
  readonly owner: string | null;
  readonly status: IdentityStatus;
  readonly kind: IdentityKind;
  /** Current risk score, 0–100 (`context.risk`, DESIGN.md "Policy model"). */
  readonly risk: number;
  /** RFC 3339 time of the last issuance or decision, null if never used. */
  readonly last_used: string | null;
  readonly blast_radius: readonly BlastRadiusEntry[];
}

export interface PostureFinding {
  readonly id: string;
  readonly kind: FindingKind;
  readonly identity: string;
  readonly severity: Severity;
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly recommendation: string;
  /** OWASP Non-Human Identities Top 10 (2025) ids, `NHI1`…`NHI10`. */
  readonly owasp: readonly string[];
  /** NIST CSF 2.0 subcategory ids, e.g. `PR.AA-05`. */
  readonly csf: readonly string[];
}

/** Median and 95th percentile; both null when there was nothing to measure in the window. */
export interface Percentiles {
  readonly median: number | null;
  readonly p95: number | null;
}

export interface PostureMetrics {
  /** Share (0–1) of access that was just-in-time rather than standing; null with no access at all. */
  readonly jit_share: number | null;
  readonly standing_grants: number;
  readonly credential_lifetime_seconds: Percentiles;
  /** Task end (revocation or grant end) to the credential being refused everywhere. */
  readonly revocation_to_dead_ms: Percentiles;
  readonly finding_to_response_ms: Percentiles;
  readonly approvals_by_approver: Readonly<Record<string, number>>;
  readonly break_glass_uses: number;
  readonly decisions: number;
  readonly issuances: number;
}

export interface PostureReport {
  /** RFC 3339. */
  readonly generated_at: string;
  /** ISO 8601 duration of the analysed window, e.g. `P30D`. */
  readonly window: string;
  readonly identities: readonly PostureIdentity[];
  readonly findings: readonly PostureFinding[];
  readonly metrics: PostureMetrics;
}
