/** Admin API of reviews: list (filters, keyset paging), decide, and run the signal sweep now. */
import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditWriter } from '../audit/index.js';
import { TetherError, invalidRequest } from '../errors.js';
import { parseWith } from '../server/validate.js';
import type { Queryable } from '../store/index.js';
import { decideReviewIn, type DecideDeps } from './decide.js';
import { listReviews, REVIEW_REASONS, REVIEW_STATUSES } from './review-store.js';
import type { ReviewSignals } from './signals.js';
import type { Clock } from '../clock.js';

/** Review ids as review-store.ts makes them. */
const REVIEW_ID = /^rev_[0-9a-z]{9,}_[0-9a-f]{10}$/;

const ReviewListQuery = z.strictObject({
  identity: z.string().min(1).max(256).optional(),
  reason: z.enum(REVIEW_REASONS).optional(),
  status: z.enum(REVIEW_STATUSES).optional(),
  limit: z.coerce.number().int('must be a whole number').min(1).max(1000).default(100),
  after: z.string().regex(REVIEW_ID, 'not a review id (the next_after of a previous page)').optional(),
});

const isoDateTime = z
  .string()
  .max(64)
  .refine((s) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date or date-time');

const DecisionBody = z.strictObject({
  decision: z.enum(['certify', 'revoke'], { message: 'must be "certify" or "revoke"' }),
  reason: z.string().trim().min(1, 'a reason is required').max(1024),
  review_by: isoDateTime.optional(),
});

const ReviewId = z.string().regex(REVIEW_ID, 'not a review id');

export interface ReviewRouteOptions {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact'>;
  clock: Clock;
  decide: DecideDeps;
  signals: Pick<ReviewSignals, 'sweep'>;
}

export async function reviewRoutes(app: FastifyInstance, opts: ReviewRouteOptions) {
  app.get('/reviews', async (req) => {
    const q = parseWith(ReviewListQuery, req.query, 'query');
    const reviews = await listReviews(opts.db, q);
    const last = reviews.length === q.limit ? reviews[reviews.length - 1]?.id : undefined;
    return { reviews, next_after: last ?? null };
  });

  app.post('/reviews/:id/decision', async (req) => {
    const { id } = req.params as { id: string };
    const body = parseWith(DecisionBody, req.body, 'body');
    const rid = ReviewId.safeParse(id);
    // An id that cannot exist is simply not found: no need to tell the caller our id format.
    if (!rid.success) throw new TetherError('not_found', `review ${JSON.stringify(id.slice(0, 80))} does not exist`);
    if (body.review_by && body.decision !== 'certify') throw invalidRequest('body.review_by: only applies to certify');
    return opts.audit.transact((q, emit) => decideReviewIn(q, emit, opts.decide, rid.data, { ...body, by: actorOf(req) }, opts.clock()));
  });

  // Signals are also swept periodically; this lets an operator (or a test) run it now.
  app.post('/reviews/sweep', async () => ({ opened: await opts.signals.sweep() }));
}
