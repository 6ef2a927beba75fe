/**
 * Framework mapping: every posture finding kind and every detection rule maps to the OWASP
 * Non-Human Identities Top 10 (2025) and to NIST CSF 2.0 subcategories, so a finding can be filed
 * straight into an auditor's control matrix.
 *
 * Sources (checked when this table was written):
 * - OWASP NHI Top 10 2025, ids and titles: the project's own list,
 *   https://owasp.org/www-project-non-human-identities-top-10/2025/top-10-2025/
 *   (repository OWASP/www-project-non-human-identities-top-10, file 2025/docs/top-10-2025.md).
 *   Beware third-party pages that list a different, unofficial "NHI Top 10" (e.g. NHI3 "Excessive
 *   Permissions", NHI4 "Inadequate Rotation"): those are not the OWASP 2025 list.
 * - NIST CSF 2.0 (NIST CSWP 29, February 2024), subcategory ids and outcome statements:
 *   https://csf.tools/reference/nist-cybersecurity-framework/v2-0/ and the CSF 2.0 table in
 *   massyn/metric-library docs/nist-csfv20.md, which agree on every id below. CSF 1.1 ids
 *   (PR.AC-4, DE.CM-7, ...) do not exist in 2.0: PR.AC became PR.AA, DE.CM-7 folded into DE.CM-09.
 *
 * The choice of mapping is ours; the reasons sit next to each entry.
 */

/** The OWASP NHI Top 10 (2025), in rank order (the report's bar chart follows this order). */
export const OWASP_NHI_TOP10 = deepFreeze([
  { id: 'NHI1', title: 'Improper Offboarding' },
  { id: 'NHI2', title: 'Secret Leakage' },
  { id: 'NHI3', title: 'Vulnerable Third-Party NHI' },
  { id: 'NHI4', title: 'Insecure Authentication' },
  { id: 'NHI5', title: 'Overprivileged NHI' },
  { id: 'NHI6', title: 'Insecure Cloud Deployment Configurations' },
  { id: 'NHI7', title: 'Long-Lived Secrets' },
  { id: 'NHI8', title: 'Environment Isolation' },
  { id: 'NHI9', title: 'NHI Reuse' },
  { id: 'NHI10', title: 'Human Use of NHI' },
] as const);

export type OwaspNhiId = (typeof OWASP_NHI_TOP10)[number]['id'];

/**
 * The CSF 2.0 subcategories our findings map to (not the whole framework), with their outcome
 * statements. Listing them here makes the mapping below type-checked: an id not in this table,
 * such as a CSF 1.1 id, does not compile.
 */
export const CSF_SUBCATEGORIES = deepFreeze([
  { id: 'ID.AM-02', title: 'Inventories of software, services, and systems managed by the organization are maintained' },
  { id: 'ID.AM-08', title: 'Systems, hardware, software, services, and data are managed throughout their life cycles' },
  { id: 'ID.RA-04', title: 'Potential impacts and likelihoods of threats exploiting vulnerabilities are identified and recorded' },
  { id: 'PR.AA-01', title: 'Identities and credentials for authorized users, services, and hardware are managed by the organization' },
  { id: 'PR.AA-04', title: 'Identity assertions are protected, conveyed, and verified' },
  { id: 'PR.AA-05', title: 'Access permissions, entitlements, and authorizations are defined in a policy, managed, enforced, and reviewed, and incorporate the principles of least privilege and separation of duties' },
  { id: 'DE.CM-01', title: 'Networks and network services are monitored to find potentially adverse events' },
  { id: 'DE.CM-03', title: 'Personnel activity and technology usage are monitored to find potentially adverse events' },
  { id: 'DE.CM-09', title: 'Computing hardware and software, runtime environments, and their data are monitored to find potentially adverse events' },
  { id: 'DE.AE-02', title: 'Potentially adverse events are analyzed to better understand associated activities' },
  { id: 'DE.AE-03', title: 'Information is correlated from multiple sources' },
  { id: 'RS.MI-01', title: 'Incidents are contained' },
] as const);

export type CsfSubcategoryId = (typeof CSF_SUBCATEGORIES)[number]['id'];

interface KindMapping {
  readonly owasp: readonly OwaspNhiId[];
  readonly csf: readonly CsfSubcategoryId[];
  readonly recommendation: string;
}

/**
 * One entry per posture kind and detection rule token. `dormant` is both (a posture finding for an
 * idle identity, a detection finding when it wakes up), so it carries the union of both views.
 * Order matters: a rule id is resolved to the first token it contains (see `resolveFindingKind`).
 */
const MAPPING = {
  // Detection rules (DESIGN.md flow 5).
  replay: {
    // A token or proof shown with another key or by another workload: a stolen credential (NHI2)
    // that only a sender-constrained authentication stops (NHI4); the response contains it.
    owasp: ['NHI2', 'NHI4'],
    csf: ['PR.AA-04', 'DE.CM-09', 'DE.AE-02', 'RS.MI-01'],
    recommendation:
      'Treat the credential as stolen: keep the grant and its tokens revoked, find where the token leaked (logs, CI output, proxies), and confirm every caller binds tokens to a DPoP key.',
  },
  enumeration: {
    // Deny bursts mean someone is exploring what the credential can do: an attacker holding a
    // leaked secret (NHI2) or a person driving the NHI by hand (NHI10).
    owasp: ['NHI2', 'NHI10'],
    csf: ['DE.CM-03', 'DE.AE-02'],
    recommendation:
      'Check who held the credential during the burst; if the caller is not the workload itself, revoke its tokens and rotate its federation trust.',
  },
  first_seen: {
    // Using an action or resource outside the task works only because the identity holds more than
    // the task needs (NHI5), or because another component reuses the identity (NHI9).
    owasp: ['NHI5', 'NHI9'],
    csf: ['DE.CM-09', 'DE.AE-02'],
    recommendation:
      'Confirm with the owner whether the new action or resource belongs to the task; if not, narrow the policy, and give any other component that reuses this identity its own.',
  },
  off_hours: {
    // Automation keeps its own schedule; activity outside it often means a person is using the NHI
    // (NHI10) or someone else holds its credential (NHI2).
    owasp: ['NHI10', 'NHI2'],
    csf: ['DE.CM-03', 'DE.AE-02'],
    recommendation:
      'Ask the owner whether the activity was scheduled; people should use their own identities, and unexplained use warrants revoking the active tokens.',
  },
  rate_spike: {
    // A rate far above baseline: a leaked credential being abused (NHI2) or a shared identity now
    // serving more consumers (NHI9).
    owasp: ['NHI2', 'NHI9'],
    csf: ['DE.CM-09', 'DE.AE-02'],
    recommendation:
      'Compare the spike with deployments and load; if nothing explains it, revoke the active tokens and check whether several services share this identity.',
  },
  after_task: {
    // A credential outliving its task is a secret living too long (NHI7) and an offboarding gap at
    // task granularity (NHI1).
    owasp: ['NHI7', 'NHI1'],
    csf: ['PR.AA-01', 'DE.CM-09'],
    recommendation:
      'Make the workload revoke its token at task end (RFC 7009) and shorten the token TTL so a finished task leaves nothing usable behind.',
  },
  dormant: {
    // Idle identities are the offboarding that never happened (NHI1); waking one up is the moment
    // an attacker would use it, hence usage monitoring (DE.CM-03).
    owasp: ['NHI1'],
    csf: ['PR.AA-01', 'ID.AM-08', 'DE.CM-03'],
    recommendation:
      'Confirm with the owner that the identity is still needed; otherwise suspend it now and retire it after a grace period.',
  },
  escalation: {
    // Read secrets → change permissions → reach out: the chain works only with excess privilege
    // (NHI5); spotting it means correlating several events (DE.AE-03) and containing fast.
    owasp: ['NHI5'],
    csf: ['PR.AA-05', 'DE.AE-02', 'DE.AE-03', 'RS.MI-01'],
    recommendation:
      'Suspend the identity until reviewed, and split the permissions that formed the chain (secret read, permission change, external egress) so no single identity holds them all.',
  },
  drift: {
    // Environment or network changed mid-task: environments not isolated (NHI8) or the identity
    // reused from somewhere else (NHI9).
    owasp: ['NHI8', 'NHI9'],
    csf: ['DE.CM-01', 'DE.CM-09', 'DE.AE-02'],
    recommendation:
      'Pin the identity to one environment and network with claim constraints, and give each environment its own identity.',
  },

  // Posture analysis (DESIGN.md flow 6).
  unowned: {
    // Nobody to offboard it: the first step of NHI1. Inventory and life-cycle ownership (ID.AM).
    owasp: ['NHI1'],
    csf: ['ID.AM-02', 'ID.AM-08', 'PR.AA-01'],
    recommendation:
      'Assign an accountable owner and a review date; if nobody claims the identity, suspend it and retire it.',
  },
  review_overdue: {
    // An unreviewed identity is how both stale identities (NHI1) and stale privileges (NHI5) survive.
    owasp: ['NHI1', 'NHI5'],
    csf: ['PR.AA-05', 'ID.AM-08'],
    recommendation:
      'Have the owner certify or revoke the identity now; certification moves the review date, revocation suspends it.',
  },
  unused_permission: {
    owasp: ['NHI5'],
    csf: ['PR.AA-05'],
    recommendation:
      'Remove the unused action from the policy that grants it (the suggested narrower policy is in the evidence), then re-run the report.',
  },
  standing_access: {
    // Access with no end is overprivilege in time (NHI5) and an entitlement that never expires
    // (NHI7): whoever holds the identity can mint fresh tokens forever.
    owasp: ['NHI5', 'NHI7'],
    csf: ['PR.AA-05'],
    recommendation:
      'Replace the standing grant with just-in-time grants scoped to a task, with an end time (not_after) of hours, not months.',
  },
  long_lived_credential: {
    owasp: ['NHI7'],
    csf: ['PR.AA-01'],
    recommendation:
      'Shorten the credential lifetime to minutes and rely on token exchange to renew it; revoke the long-lived credential.',
  },
  excess_blast_radius: {
    // Reach far beyond use is overprivilege (NHI5); sizing it is impact analysis (ID.RA-04).
    owasp: ['NHI5'],
    csf: ['PR.AA-05', 'ID.RA-04'],
    recommendation:
      'Split the identity by task or narrow its policies so that one stolen credential reaches only what one task needs.',
  },
} as const satisfies Record<string, KindMapping>;

export type MappedKind = keyof typeof MAPPING;

/** Every kind and rule token with a mapping, in resolution order. */
export const MAPPED_KINDS: readonly MappedKind[] = Object.freeze(Object.keys(MAPPING) as MappedKind[]);

const UNMAPPED_RECOMMENDATION =
  'Review the evidence with the identity owner and decide whether to narrow, suspend or revoke.';

/**
 * The mapped kind for a finding kind or detection rule id. Rule ids only have to *contain* their
 * token (`replay`, `detect.replay`, `replay_dpop_key` all count), so an exact match wins,
 * then the first token that appears delimited by non-letters. Returns null for anything else.
 */
export function resolveFindingKind(kind: string): MappedKind | null {
  const k = kind.toLowerCase();
  if (Object.hasOwn(MAPPING, k)) return k as MappedKind;
  for (const token of MAPPED_KINDS) {
    const at = k.indexOf(token);
    if (at < 0) continue;
    const before = k.charAt(at - 1);
    const after = k.charAt(at + token.length);
    // `_` separates words inside a token (`first_seen`), so it also counts as a delimiter here.
    if (!/[a-z0-9]/.test(before) && !/[a-z0-9]/.test(after)) return token;
  }
  return null;
}

/**
 * OWASP and CSF ids for a finding kind or detection rule id; empty arrays when the kind is unknown
 * (a finding is still reported, just not filed under a framework). Fresh arrays each call, so the
 * caller may put them straight into a finding.
 */
export function mapFinding(kind: string): { owasp: string[]; csf: string[] } {
  const mapped = resolveFindingKind(kind);
  if (mapped === null) return { owasp: [], csf: [] };
  const entry: KindMapping = MAPPING[mapped];
  return { owasp: [...entry.owasp], csf: [...entry.csf] };
}

/** What to do about a finding of this kind, in one or two sentences for the report. */
export function recommendationFor(kind: string): string {
  const mapped = resolveFindingKind(kind);
  return mapped === null ? UNMAPPED_RECOMMENDATION : MAPPING[mapped].recommendation;
}

/** Title of an OWASP NHI id (`NHI5` → `Overprivileged NHI`), undefined if not in the list. */
export function owaspTitle(id: string): string | undefined {
  return OWASP_NHI_TOP10.find((r) => r.id === id)?.title;
}

/** Outcome statement of a CSF 2.0 subcategory from our table, undefined if not in it. */
export function csfTitle(id: string): string | undefined {
  return CSF_SUBCATEGORIES.find((s) => s.id === id)?.title;
}

// The tables are exported, so freeze them all the way down: a caller must not be able to edit
// the framework mapping of every later report.
function deepFreeze<T extends readonly object[]>(rows: T): T {
  for (const row of rows) Object.freeze(row);
  return Object.freeze(rows);
}
