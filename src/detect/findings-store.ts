/**
 * The `findings` table (migration 1): every finding a detector raised, with the response taken and its
 * resolution. The table is the cluster's truth; instances keep a view of the open ones in memory
 * (cluster-view.ts) and re-read it here on a `findings` notification or a resync.
 */
import { TetherError } from '../errors.js';
import type { Queryable } from '../store/index.js';
import { evidenceGrade, type EvidenceGrade } from './evidence-grade.js';
import type { Finding } from './finding.js';
import type { DetectionResponse } from './responses.js';

/** How a finding was closed; `reversed` says whether the response was undone. */
export interface Resolution {
  reason: string;
  by: string;
  reversed: boolean;
  reversed_at?: string;
  reverse_reason?: string;
  /** What reversing did (or could not do) per part of the response. */
  reversal?: Record<string, unknown>;
}

/** A finding as the admin API lists it. */
export interface FindingView {
  id: string;
  rule: string;
  identity: string;
  severity: string;
  status: 'open' | 'resolved';
  evidence: Record<string, unknown>;
  response: DetectionResponse | null;
  grant_id: string | null;
  created_at: string;
  responded_at: string | null;
  resolved_at: string | null;
  resolution: Resolution | null;
}

interface Row {
  id: string;
  rule: string;
  identity: string;
  severity: string;
  status: 'open' | 'resolved';
  evidence: Record<string, unknown> | string;
  response: string | null;
  grant_id: string | null;
  created_at: Date | string;
  responded_at: Date | string | null;
  resolved_at: Date | string | null;
  resolution: Resolution | string | null;
}

const COLS = 'id, rule, identity, severity, status, evidence, response, grant_id, created_at, responded_at, resolved_at, resolution';
const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const json = <T>(v: T | string | null): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function toView(r: Row): FindingView {
  return {
    id: r.id,
    rule: r.rule,
    identity: r.identity,
    severity: r.severity,
    status: r.status,
    evidence: json(r.evidence) ?? {},
    response: (r.response as DetectionResponse | null) ?? null,
    grant_id: r.grant_id,
    created_at: iso(r.created_at)!,
    responded_at: iso(r.responded_at),
    resolved_at: iso(r.resolved_at),
    resolution: json(r.resolution),
  };
}

export async function insertFindingIn(q: Queryable, f: Finding, response: DetectionResponse, evidence: Record<string, unknown>, respondedAt: Date): Promise<void> {
  await q.query(
    `INSERT INTO findings (id, rule, identity, severity, status, evidence, response, grant_id, created_at, responded_at)
     VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9)`,
    [f.id, f.rule, f.identity, f.severity, JSON.stringify(evidence), response, f.grantId ?? null, new Date(f.createdAt), respondedAt],
  );
}

export async function getFinding(q: Queryable, id: string, forUpdate = false): Promise<FindingView | null> {
  const r = await q.query<Row>(`SELECT ${COLS} FROM findings WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? toView(r.rows[0]) : null;
}

export async function mustGetFinding(q: Queryable, id: string, forUpdate = false): Promise<FindingView> {
  const f = await getFinding(q, id, forUpdate);
  if (!f) throw new TetherError('not_found', `finding ${JSON.stringify(id)} does not exist`);
  return f;
}

export interface FindingFilter {
  identity?: string | undefined;
  rule?: string | undefined;
  status?: 'open' | 'resolved' | undefined;
  limit: number;
  /** Keyset cursor: the id of the last finding of the previous page. */
  after?: string | undefined;
}

/** Oldest first, keyset-paged on (created_at, id) so pages stay stable while findings arrive. */
export async function listFindings(q: Queryable, f: FindingFilter): Promise<{ findings: FindingView[]; next_after: string | null }> {
  const where: string[] = [];
  const p: unknown[] = [];
  if (f.identity) where.push(`identity = $${p.push(f.identity)}`);
  if (f.rule) where.push(`rule = $${p.push(f.rule)}`);
  if (f.status) where.push(`status = $${p.push(f.status)}`);
  if (f.after) {
    const cur = await q.query<{ created_at: Date | string }>('SELECT created_at FROM findings WHERE id = $1', [f.after]);
    if (!cur.rows[0]) throw new TetherError('invalid_request', 'query.after: no finding has this id');
    const at = `$${p.push(new Date(cur.rows[0].created_at))}`;
    const id = `$${p.push(f.after)}`;
    where.push(`(created_at > ${at} OR (created_at = ${at} AND id > ${id}))`);
  }
  p.push(f.limit);
  const r = await q.query<Row>(`SELECT ${COLS} FROM findings ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id LIMIT $${p.length}`, p);
  const findings = r.rows.map(toView);
  return { findings, next_after: findings.length === f.limit ? findings[findings.length - 1]!.id : null };
}

/** Closes an open finding; null when it was not open (the caller tells 404 from 409). */
export async function resolveIn(q: Queryable, id: string, resolution: Resolution, at: Date): Promise<FindingView | null> {
  const r = await q.query<Row>(`UPDATE findings SET status = 'resolved', resolved_at = $2, resolution = $3 WHERE id = $1 AND status = 'open' RETURNING ${COLS}`, [
    id,
    at,
    JSON.stringify(resolution),
  ]);
  return r.rows[0] ? toView(r.rows[0]) : null;
}

/** Records a later reversal of a resolved finding's response. */
export async function markReversedIn(q: Queryable, id: string, resolution: Resolution): Promise<void> {
  await q.query('UPDATE findings SET resolution = $2 WHERE id = $1', [id, JSON.stringify(resolution)]);
}

/** What every instance keeps in memory per finding: enough for risk and approval holds. */
export interface FindingSummary {
  id: string;
  identity: string;
  rule: string;
  severity: string;
  open: boolean;
  response: DetectionResponse | null;
  grantId: string | null;
  /** For `narrow`: the actions that need approval again. */
  actions: readonly string[];
  /** Epoch ms the finding was raised (its risk points decay from here). */
  createdAt: number;
  /** evidence-grade.ts: baseline findings' risk is bounded. */
  grade: EvidenceGrade;
}

interface SummaryRow {
  id: string;
  identity: string;
  rule: string;
  severity: string;
  status: string;
  response: string | null;
  grant_id: string | null;
  evidence: Record<string, unknown> | string;
  created_at: Date | string;
}

const toSummary = (r: SummaryRow): FindingSummary => {
  const evidence = json(r.evidence) ?? {};
  const detail = evidence.response_detail as { actions?: unknown } | undefined;
  return {
    id: r.id,
    identity: r.identity,
    rule: r.rule,
    severity: r.severity,
    open: r.status === 'open',
    response: (r.response as DetectionResponse | null) ?? null,
    grantId: r.grant_id,
    actions: Array.isArray(detail?.actions) ? detail.actions.filter((a): a is string => typeof a === 'string') : [],
    createdAt: new Date(r.created_at).getTime(),
    grade: evidenceGrade({ rule: r.rule, evidence }),
  };
};

/** Bounds one reload; a cluster with more live findings than this has bigger problems than memory. */
export const LIVE_FINDINGS_MAX = 100_000;

/**
 * Findings that still matter to decisions: the open ones (risk and approval holds). Resolving a
 * finding lifts what it imposed: a hold kept after an operator closed the finding as a false
 * positive is the kind of harm that gets detection switched off. Of one identity, or of all.
 */
export async function liveFindings(q: Queryable, identity?: string): Promise<FindingSummary[]> {
  const p: unknown[] = [];
  const scope = identity === undefined ? '' : `identity = $${p.push(identity)} AND `;
  p.push(LIVE_FINDINGS_MAX);
  const r = await q.query<SummaryRow>(
    `SELECT id, identity, rule, severity, status, response, grant_id, evidence, created_at FROM findings
      WHERE ${scope}status = 'open'
      ORDER BY created_at LIMIT $${p.length}`,
    p,
  );
  return r.rows.map(toSummary);
}

/** Of the given ids, those resolved in the table (an operator closed them, maybe on another instance). */
export async function resolvedAmong(q: Queryable, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const r = await q.query<{ id: string }>("SELECT id FROM findings WHERE status = 'resolved' AND id = ANY($1::text[])", [ids]);
  return new Set(r.rows.map((x) => x.id));
}
