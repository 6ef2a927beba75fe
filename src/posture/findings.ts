import type { IdentityFacts } from './blast-radius.js';
/**
 * The posture rules: one identity's facts in, its findings out. Pure, so the thresholds are easy to
 * test and the analysis above it only gathers facts.
 */
import { mapFinding, recommendationFor } from './frameworks.js';
import type { ReachEntry } from './blast-radius.js';
import type { StandingGrant } from './grant-facts.js';
import { narrowPolicyText } from './narrow-policy.js';
import type { PostureFinding, PostureFindingKind, Severity } from './report-types.js';
import type { IdentityUsage } from './usage.js';

/** An inventory row as analysis reads it: the facts blast radius needs, with the optional ones required. */
export interface IdentityRow extends IdentityFacts {
  readonly review_by: Date | null;
  readonly created_at: Date;
  readonly last_used_at: Date | null;
  readonly purpose: string | null;
  readonly discovered_by: string | null;
  readonly attributes: Readonly<Record<string, unknown>> | null;
}

export interface Thresholds {
  readonly now: Date;
  readonly window: string;
  readonly dormantAfter: string;
  readonly dormantAfterMs: number;
  readonly standingBound: string;
  readonly lifetimeBound: string;
  readonly lifetimeBoundSeconds: number;
  readonly blastRadiusBound: number;
}

export interface IdentityFactsForRules {
  readonly row: IdentityRow;
  readonly usage: IdentityUsage | undefined;
  readonly lastUsed: number | null;
  readonly reach: readonly ReachEntry[];
  readonly standing: readonly StandingGrant[];
  /** Policy id → text, for the suggested narrower policy. */
  readonly policyText: ReadonlyMap<string, string>;
}

const OWNER_DEPARTED = (labels: Readonly<Record<string, string>>) => labels['owner_status'] === 'departed';

export function postureFinding(kind: PostureFindingKind, identity: string, severity: Severity, evidence: Record<string, unknown>, idSuffix = ''): PostureFinding {
  return {
    id: `${kind}:${identity}${idSuffix ? `:${idSuffix}` : ''}`,
    kind,
    identity,
    severity,
    evidence,
    recommendation: recommendationFor(kind),
    ...mapFinding(kind),
  };
}

export function identityFindings(f: IdentityFactsForRules, t: Thresholds, narrowCache: Map<string, string | null>): PostureFinding[] {
  const { row } = f;
  if (row.status === 'retired') return []; // retired identities can obtain nothing; history is kept elsewhere
  const out: PostureFinding[] = [];
  const now = t.now.getTime();

  if (row.owner === null || row.status === 'unowned' || OWNER_DEPARTED(row.labels)) {
    out.push(
      postureFinding('unowned', row.id, 'high', {
        owner: row.owner,
        status: row.status,
        ...(OWNER_DEPARTED(row.labels) ? { owner_status: 'departed' } : {}),
      }),
    );
  }

  if (row.review_by && row.review_by.getTime() < now) {
    const days = Math.floor((now - row.review_by.getTime()) / 86_400_000);
    out.push(postureFinding('review_overdue', row.id, days > 90 ? 'high' : 'medium', { review_by: row.review_by.toISOString(), days_overdue: days }));
  }

  // An identity younger than the threshold has not had the chance to be dormant.
  const cutoff = now - t.dormantAfterMs;
  if (row.created_at.getTime() < cutoff && (f.lastUsed === null || f.lastUsed < cutoff)) {
    out.push(
      postureFinding('dormant', row.id, 'medium', {
        last_used: f.lastUsed === null ? null : new Date(f.lastUsed).toISOString(),
        dormant_after: t.dormantAfter,
        created_at: row.created_at.toISOString(),
      }),
    );
  }

  out.push(...unusedPermissions(f, narrowCache, t.window));

  for (const g of f.standing) {
    out.push(
      postureFinding(
        'standing_access',
        row.id,
        g.not_after === null ? 'medium' : 'low',
        { grant: g.id, audience: g.audience, actions: g.actions, not_after: g.not_after, active_since: g.active_since, bound: t.standingBound },
        g.id,
      ),
    );
  }

  // An account found on a legacy target (connectors/discover.ts) is access that exists whether or
  // not a task needs it, behind a password that does not expire with any task.
  if (row.discovered_by?.startsWith('connector:')) {
    const source = { source: row.discovered_by, account: row.labels['tether.account'] ?? null, kind: row.labels['tether.connector_kind'] ?? null };
    out.push(postureFinding('standing_access', row.id, 'high', { ...source, not_after: null, bound: t.standingBound }, 'account'));
    const validUntil = row.labels['tether.valid_until'];
    if (validUntil === undefined || Date.parse(validUntil) - now > t.lifetimeBoundSeconds * 1000) {
      out.push(postureFinding('long_lived_credential', row.id, 'high', { ...source, valid_until: validUntil ?? null, bound: t.lifetimeBound }, 'account'));
    }
  }

  const ll = f.usage?.longLived;
  if (ll) {
    out.push(
      postureFinding('long_lived_credential', row.id, ll.maxSeconds > 4 * t.lifetimeBoundSeconds ? 'high' : 'medium', {
        tokens_over_bound: ll.count,
        longest_seconds: ll.maxSeconds,
        bound: t.lifetimeBound,
        sample_jtis: ll.jtis,
      }),
    );
  }

  if (f.reach.length > t.blastRadiusBound) {
    out.push(
      postureFinding('excess_blast_radius', row.id, f.reach.length > 4 * t.blastRadiusBound ? 'high' : 'medium', {
        reachable: f.reach.length,
        bound: t.blastRadiusBound,
        actions: [...new Set(f.reach.map((e) => e.action))].slice(0, 50),
      }),
    );
  }
  return out;
}

/**
 * Actions the identity may obtain (phase `issue`) but never used in the window. "Used" means allowed
 * at request time; only for an identity with no request-time decision at all (its resource servers
 * do not ask Tether) do issued token scopes count as use, since they are then the only evidence.
 */
function unusedPermissions(f: IdentityFactsForRules, cache: Map<string, string | null>, window: string): PostureFinding[] {
  const obtainable = new Map<string, { policies: Set<string>; audiences: Set<string> }>();
  for (const e of f.reach) {
    if (e.phase !== 'issue') continue;
    const o = obtainable.get(e.action) ?? { policies: new Set<string>(), audiences: new Set<string>() };
    for (const p of e.policies) o.policies.add(p);
    if (e.audience) o.audiences.add(e.audience);
    obtainable.set(e.action, o);
  }
  if (obtainable.size === 0) return [];
  const requestUse = f.usage?.requestActions ?? new Set<string>();
  const used = requestUse.size > 0 ? requestUse : (f.usage?.issuedScopes ?? new Set<string>());
  const out: PostureFinding[] = [];
  for (const [action, o] of [...obtainable].sort(([a], [b]) => a.localeCompare(b))) {
    if (used.has(action)) continue;
    const policies = [...o.policies].sort();
    const suggestions: string[] = [];
    for (const pid of policies) {
      // Keep what this policy grants that the identity did use.
      const keep = [...obtainable].filter(([a, x]) => x.policies.has(pid) && used.has(a)).map(([a]) => a).sort();
      const key = `${pid}\u0000${keep.join(',')}`;
      if (!cache.has(key)) {
        const text = f.policyText.get(pid);
        cache.set(key, text === undefined ? null : narrowPolicyText(text, keep));
      }
      const s = cache.get(key);
      suggestions.push(s ?? `// ${pid}: nothing it grants to ${f.row.id} was used in ${window}; remove ${f.row.id} from it or remove the policy`);
    }
    out.push(
      postureFinding(
        'unused_permission',
        f.row.id,
        'low',
        {
          action,
          audiences: [...o.audiences].sort(),
          policies,
          used_actions: [...used].sort(),
          window,
          suggested_policy: suggestions.join('\n\n'),
        },
        action,
      ),
    );
  }
  return out;
}
