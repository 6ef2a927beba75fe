/**
 * Reviews in the `reviews` table. At most one open review per (identity, reason) — the
 * `reviews_one_open` partial unique index — so opening is an INSERT … ON CONFLICT DO NOTHING that
 * any instance may race on: the loser simply opens nothing.
 */
import { randomBytes } from 'node:crypto';
import type { AuditInput } from '../audit/index.js';
import type { Queryable } from '../store/index.js';

export const REVIEW_REASONS = ['review_due', 'owner_departed', 'dormant', 'new_claim_set', 'policy_widened'] as const;
export type ReviewReason = (typeof REVIEW_REASONS)[number];
export const REVIEW_STATUSES = ['open', 'closed'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];

/** Reasons that describe a lasting state: a certification silences them until it expires. */
const STATE_REASONS: ReadonlySet<string> = new Set(['owner_departed', 'dormant']);

export interface Review {
  id: string;
  identity: string;
  reason: ReviewReason;
  status: ReviewStatus;
  detail: Record<string, unknown>;
  created_at: string;
  decided_at: string | null;
  decision: Record<string, unknown> | null;
}

interface Row {
  id: string;
  identity: string;
  reason: ReviewReason;
  status: ReviewStatus;
  detail: Record<string, unknown>;
  created_at: Date;
  decided_at: Date | null;
  decision: Record<string, unknown> | null;
}

export const REVIEW_COLS = 'id, identity, reason, status, detail, created_at, decided_at, decision';

export function toReview(r: Row): Review {
  return {
    id: r.id,
    identity: r.identity,
    reason: r.reason,
    status: r.status,
    detail: r.detail ?? {},
    created_at: new Date(r.created_at).toISOString(),
    decided_at: r.decided_at ? new Date(r.decided_at).toISOString() : null,
    decision: r.decision ?? null,
  };
}

/** Time-ordered ids (ms in base 36, then randomness) so keyset paging on id lists oldest first. */
export function newReviewId(now: Date): string {
  return `rev_${now.getTime().toString(36).padStart(9, '0')}_${randomBytes(5).toString('hex')}`;
}

export interface OpenRequest {
  identity: string;
  reason: ReviewReason;
  detail: Record<string, unknown>;
}

/**
 * Opens a review unless one is open for the same reason, or (for lasting states) a certification of
 * that reason is still valid — otherwise a certified "owner departed" would reopen on the next sweep.
 * Emits `review.opened` only when a row was inserted.
 */
export async function openReviewIn(q: Queryable, emit: (e: AuditInput) => void, req: OpenRequest, now: Date): Promise<Review | null> {
  const r = await q.query<Row>(
    `INSERT INTO reviews (id, identity, reason, status, detail, created_at)
     SELECT $1, $2, $3, 'open', $4, $5
      WHERE NOT ($6::boolean AND EXISTS (
        SELECT 1 FROM reviews c WHERE c.identity = $2 AND c.reason = $3 AND c.status = 'closed'
           AND c.decision->>'decision' = 'certify' AND (c.decision->>'valid_until')::timestamptz > $5))
     ON CONFLICT (identity, reason) WHERE status = 'open' DO NOTHING
     RETURNING ${REVIEW_COLS}`,
    [newReviewId(now), req.identity, req.reason, JSON.stringify(req.detail), now.toISOString(), STATE_REASONS.has(req.reason)],
  );
  const row = r.rows[0];
  if (!row) return null;
  const review = toReview(row);
  emit({ type: 'review.opened', actor: 'system', identity: req.identity, data: { review: review.id, reason: req.reason, detail: req.detail } });
  return review;
}

export interface ReviewFilter {
  identity?: string | undefined;
  reason?: string | undefined;
  status?: string | undefined;
  after?: string | undefined;
  limit: number;
}

export async function listReviews(q: Queryable, f: ReviewFilter): Promise<Review[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.identity) where.push(`identity = $${params.push(f.identity)}`);
  if (f.reason) where.push(`reason = $${params.push(f.reason)}`);
  if (f.status) where.push(`status = $${params.push(f.status)}`);
  if (f.after) where.push(`id > $${params.push(f.after)}`);
  params.push(f.limit);
  const r = await q.query<Row>(
    `SELECT ${REVIEW_COLS} FROM reviews ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return r.rows.map(toReview);
}

export async function lockReview(q: Queryable, id: string): Promise<Review | null> {
  const r = await q.query<Row>(`SELECT ${REVIEW_COLS} FROM reviews WHERE id = $1 FOR UPDATE`, [id]);
  return r.rows[0] ? toReview(r.rows[0]) : null;
}

export async function closeReviewIn(q: Queryable, id: string, decision: Record<string, unknown>, now: Date): Promise<Review> {
  const r = await q.query<Row>(
    `UPDATE reviews SET status = 'closed', decided_at = $2, decision = $3 WHERE id = $1 RETURNING ${REVIEW_COLS}`,
    [id, now.toISOString(), JSON.stringify(decision)],
  );
  return toReview(r.rows[0]!);
}
