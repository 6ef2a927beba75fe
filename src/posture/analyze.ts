/**
 * Posture analysis (DESIGN.md flow 6): inventory + grants + active policies + one streamed
 * pass over the audited issuances and decisions → the PostureReport contract.
 *
 * Memory: the audit log is folded page by page (usage.ts) and never held; what is held is
 * per-identity (facts, findings) and per distinct value (histograms), so 1M events cost time, not RAM.
 */
import type { Queryable } from '../store/index.js';
import { buildAccessModel, loadActivePolicySource, loadEntitiesDoc, loadRouteFacts, type AccessModel } from './access-model.js';
import { createBlastRadius, toBlastRadiusEntry } from './blast-radius.js';
import { parseDurationMs } from './duration.js';
import { identityFindings, type IdentityRow, type Thresholds } from './findings.js';
import { mapFinding, recommendationFor } from './frameworks.js';
import { loadEndlessGrantIds, loadStandingGrants } from './grant-facts.js';
import { buildMetrics, findingToResponse } from './metrics.js';
import type { PostureFinding, PostureIdentity, PostureReport, Severity } from './report-types.js';
import { collectUsage } from './usage.js';

export interface PostureOptions {
  readonly now?: Date;
  /** ISO-8601 duration of the analysed window (default P30D). */
  readonly window?: string;
  /** No issuance or decision for this long makes an identity dormant (default P30D). */
  readonly dormantAfter?: string;
  /** Grants open longer than this are standing access (default PT24H). */
  readonly standingBound?: string;
  /** Tokens living longer than this are long-lived credentials (default PT1H, the broker's hard maximum). */
  readonly lifetimeBound?: string;
  /** More reachable (action, resource type, audience) entries than this is excess (default 25). */
  readonly blastRadiusBound?: number;
  /** Current risk score of an identity (detection plugs in here); 0 when not given. */
  readonly riskOf?: (identity: string) => number;
  /** Audit page size; larger pages mean fewer round trips on big logs. */
  readonly pageSize?: number;
}

export const POSTURE_DEFAULTS = Object.freeze({
  window: 'P30D',
  dormantAfter: 'P30D',
  standingBound: 'PT24H',
  lifetimeBound: 'PT1H',
  blastRadiusBound: 25,
});

const IDENTITY_PAGE = 5000;
const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export async function analyzePosture(db: Queryable, o: PostureOptions = {}): Promise<PostureReport> {
  const now = o.now ?? new Date();
  const window = o.window ?? POSTURE_DEFAULTS.window;
  const dormantAfter = o.dormantAfter ?? POSTURE_DEFAULTS.dormantAfter;
  const standingBound = o.standingBound ?? POSTURE_DEFAULTS.standingBound;
  const lifetimeBound = o.lifetimeBound ?? POSTURE_DEFAULTS.lifetimeBound;
  const windowMs = parseDurationMs(window, 'window');
  const dormantAfterMs = parseDurationMs(dormantAfter, 'dormant_after');
  const standingMs = parseDurationMs(standingBound, 'standing_bound');
  const lifetimeMs = parseDurationMs(lifetimeBound, 'lifetime_bound');
  const t: Thresholds = {
    now,
    window,
    dormantAfter,
    dormantAfterMs,
    standingBound,
    lifetimeBound,
    lifetimeBoundSeconds: lifetimeMs / 1000,
    blastRadiusBound: o.blastRadiusBound ?? POSTURE_DEFAULTS.blastRadiusBound,
  };
  const windowStart = new Date(now.getTime() - windowMs);

  const standing = await loadStandingGrants(db, now, standingMs / 1000);
  const usage = await collectUsage(db, {
    since: new Date(now.getTime() - Math.max(windowMs, dormantAfterMs)),
    windowStart,
    lifetimeBoundSeconds: t.lifetimeBoundSeconds,
    standingGrants: await loadEndlessGrantIds(db),
    ...(o.pageSize ? { pageSize: o.pageSize } : {}),
  });

  const model = await loadModel(db, usage.seen);
  try {
    const reachOf = createBlastRadius(model, now);
    const policyText = new Map(model.policies.map((p) => [p.id, p.text]));
    const standingBy = groupBy(standing, (g) => g.identity);
    const narrowCache = new Map<string, string | null>();
    const identities: PostureIdentity[] = [];
    const findings: PostureFinding[] = [];

    for await (const row of iterateIdentities(db)) {
      const u = usage.byIdentity.get(row.id);
      const lastUsed = maxOf(u?.lastUse ?? null, row.last_used_at?.getTime() ?? null);
      const reach = reachOf(row, u?.delegations.values());
      findings.push(...identityFindings({ row, usage: u, lastUsed, reach, standing: standingBy.get(row.id) ?? [], policyText }, t, narrowCache));
      identities.push({
        id: row.id,
        owner: row.owner,
        status: row.status,
        kind: row.kind,
        risk: clampRisk(o.riskOf?.(row.id) ?? 0),
        last_used: lastUsed === null ? null : new Date(lastUsed).toISOString(),
        blast_radius: reach.map(toBlastRadiusEntry),
      });
    }
    findings.push(...(await detectionFindings(db)));
    identities.sort((a, b) => b.blast_radius.length - a.blast_radius.length || a.id.localeCompare(b.id));

    return {
      generated_at: now.toISOString(),
      window,
      identities,
      findings,
      metrics: buildMetrics(usage, standing.length, await findingToResponse(db, windowStart)),
    };
  } finally {
    model.dispose();
  }
}

/** The active policy set, or an empty model when none is active or it no longer compiles. */
async function loadModel(db: Queryable, seen: Parameters<typeof buildAccessModel>[3]): Promise<AccessModel> {
  const [source, entities, routes] = await Promise.all([loadActivePolicySource(db), loadEntitiesDoc(db), loadRouteFacts(db)]);
  try {
    return buildAccessModel(source, entities, routes, seen);
  } catch {
    // An activated set always compiled once; if it stops compiling (engine upgrade) we still report
    // everything else, with empty blast radii rather than no report at all.
    return buildAccessModel(null, entities, routes, seen);
  }
}

/** Open detection findings (DESIGN.md flow 5) join the report, mapped like posture findings. */
async function detectionFindings(db: Queryable): Promise<PostureFinding[]> {
  const r = await db.query<{ id: string; rule: string; identity: string; severity: string; evidence: Record<string, unknown>; created_at: Date; response: string | null }>(
    "SELECT id, rule, identity, severity, evidence, created_at, response FROM findings WHERE status = 'open' ORDER BY created_at, id",
  );
  return r.rows.map((f) => ({
    id: f.id,
    kind: f.rule,
    identity: f.identity,
    severity: (SEVERITIES as readonly string[]).includes(f.severity) ? (f.severity as Severity) : 'medium',
    evidence: { ...(f.evidence ?? {}), raised_at: new Date(f.created_at).toISOString(), ...(f.response ? { response: f.response } : {}) },
    recommendation: recommendationFor(f.rule),
    ...mapFinding(f.rule),
  }));
}

interface IdentityDbRow {
  id: string;
  kind: string;
  owner: string | null;
  environment: string | null;
  status: string;
  labels: Record<string, string> | null;
  review_by: Date | null;
  created_at: Date;
  last_used_at: Date | null;
  purpose: string | null;
  discovered_by: string | null;
  attributes: Record<string, unknown> | null;
}

/** Identities in id order, a page at a time. */
export async function* iterateIdentities(db: Queryable): AsyncGenerator<IdentityRow> {
  let after = '';
  for (;;) {
    const r = await db.query<IdentityDbRow>(
      'SELECT id, kind, owner, environment, status, labels, review_by, created_at, last_used_at, purpose, discovered_by, attributes FROM identities WHERE id > $1 ORDER BY id LIMIT $2',
      [after, IDENTITY_PAGE],
    );
    for (const x of r.rows) {
      yield {
        id: x.id,
        kind: x.kind,
        owner: x.owner,
        environment: x.environment,
        status: x.status,
        labels: x.labels ?? {},
        review_by: x.review_by ? new Date(x.review_by) : null,
        created_at: new Date(x.created_at),
        last_used_at: x.last_used_at ? new Date(x.last_used_at) : null,
        purpose: x.purpose,
        discovered_by: x.discovered_by,
        attributes: x.attributes,
      };
    }
    if (r.rows.length < IDENTITY_PAGE) return;
    after = r.rows[r.rows.length - 1]!.id;
  }
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k) ?? [];
    list.push(i);
    m.set(k, list);
  }
  return m;
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

function clampRisk(r: number): number {
  return Number.isFinite(r) ? Math.min(100, Math.max(0, Math.round(r))) : 0;
}

