/**
 * A review decision, in one audited transaction with everything it changes.
 *
 * certify: the decider vouches for the identity; `review_by` moves forward (default 90 days) and the
 * certification silences lasting-state reasons until then. revoke: the identity is suspended (no new
 * credentials) and an identity revocation kills its grants and every token issued so far, on every
 * instance (revokeIn notifies the cluster). Both close the review; a closed review cannot be decided
 * again (409), so two admins clicking at once get one decision and one conflict.
 */
import type { AuditInput } from '../audit/index.js';
import { TetherError, invalidRequest } from '../errors.js';
import type { Inventory } from '../inventory/identities.js';
import { revokeIn } from '../revocation/index.js';
import type { Queryable } from '../store/index.js';
import { closeReviewIn, listReviews, lockReview, type Review } from './review-store.js';

export const DEFAULT_CERTIFY_MS = 90 * 86_400_000;

export interface DecisionInput {
  decision: 'certify' | 'revoke';
  reason: string;
  by?: string | undefined;
  /** certify only: the next review date; must be in the future. */
  review_by?: string | undefined;
}

export type DecideDeps = {
  inventory: Pick<Inventory, 'get' | 'patchIn' | 'setStatusIn'>;
  certifyForMs?: number;
};

export async function decideReviewIn(q: Queryable, emit: (e: AuditInput) => void, deps: DecideDeps, id: string, input: DecisionInput, now: Date): Promise<Review> {
  const review = await lockReview(q, id);
  if (!review) throw new TetherError('not_found', `review ${JSON.stringify(id)} does not exist`);
  if (review.status !== 'open') {
    throw new TetherError('conflict', `review ${JSON.stringify(id)} is already closed (${String(review.decision?.decision ?? 'decided')} at ${review.decided_at})`);
  }
  const by = input.by ?? 'admin';
  const identity = await deps.inventory.get(review.identity, q);
  let decision: Record<string, unknown>;

  if (input.decision === 'certify') {
    const until = input.review_by ? new Date(input.review_by) : new Date(now.getTime() + (deps.certifyForMs ?? DEFAULT_CERTIFY_MS));
    if (until.getTime() <= now.getTime()) throw invalidRequest('review_by: must be in the future when certifying');
    if (identity && identity.status !== 'retired') {
      await deps.inventory.patchIn(q, emit, identity.id, { review_by: until.toISOString() }, `review:${by}`);
    }
    decision = { decision: 'certify', reason: input.reason, by, review_by: until.toISOString(), valid_until: until.toISOString() };
  } else {
    if (identity && identity.status !== 'retired' && identity.status !== 'suspended') {
      await deps.inventory.setStatusIn(q, identity.id, 'suspended');
      emit({
        type: 'identity.updated',
        actor: `review:${by}`,
        identity: identity.id,
        data: { changed: ['status'], before: { status: identity.status }, after: { status: 'suspended' }, review: id },
      });
    }
    const r = await revokeIn(q, emit, { kind: 'identity', value: review.identity, reason: `review ${id}: ${input.reason}`, actor: 'review' }, now);
    decision = { decision: 'revoke', reason: input.reason, by, revocation_id: r.id, grants_revoked: r.grantsRevoked };
    // The identity is contained: its other open reviews are settled by this decision.
    for (const other of await openReviewsOf(q, review.identity, id)) {
      await closeReviewIn(q, other.id, { decision: 'revoke', reason: `settled by review ${id}`, by, superseded_by: id }, now);
      emit({ type: 'review.decided', actor: by, identity: review.identity, data: { review: other.id, review_reason: other.reason, decision: 'revoke', reason: `settled by review ${id}`, by } });
    }
  }

  const closed = await closeReviewIn(q, id, decision, now);
  emit({ type: 'review.decided', actor: by, identity: review.identity, data: { review: id, review_reason: review.reason, decision: input.decision, reason: input.reason, by } });
  return closed;
}

async function openReviewsOf(q: Queryable, identity: string, except: string): Promise<Review[]> {
  const open = await listReviews(q, { identity, status: 'open', limit: 1000 });
  return open.filter((r) => r.id !== except);
}
