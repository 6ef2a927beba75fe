/**
 * Access reviews (DESIGN.md flow 6): opened by lifecycle signals, decided by a person, everything audited.
 * `createReviews` builds the domain once in the composition root; see signals.ts for where each
 * signal is seen and what the token endpoint must call.
 */
import type { Logger } from 'pino';
import type { AuditWriter } from '../audit/index.js';
import type { Inventory } from '../inventory/identities.js';
import type { Queryable } from '../store/index.js';
import { createReviewSignals, type SignalOptions } from './signals.js';
import type { Clock } from '../clock.js';

export { claimsFingerprint, createReviewSignals } from './signals.js';
export type { ReviewSignals, IdentityState, SignalOptions } from './signals.js';
export type { Review, ReviewReason, ReviewStatus } from './review-store.js';
export { REVIEW_REASONS } from './review-store.js';

export interface ReviewDeps {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact'>;
  inventory: Pick<Inventory, 'get' | 'patchIn' | 'setStatusIn'>;
  clock: Clock;
  logger?: Pick<Logger, 'error' | 'warn'>;
  options?: SignalOptions & { certifyForMs?: number };
}

export function createReviews(deps: ReviewDeps) {
  const signals = createReviewSignals(deps, deps.options);
  // What reviews/routes.ts (mounted by the composition root) needs.
  const routeOptions = {
    db: deps.db,
    audit: deps.audit,
    clock: deps.clock,
    decide: { inventory: deps.inventory, ...(deps.options?.certifyForMs ? { certifyForMs: deps.options.certifyForMs } : {}) },
    signals,
  };
  return { signals, routeOptions };
}

export type Reviews = ReturnType<typeof createReviews>;
