import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../server/validate.js';
import type { Queryable } from '../store/index.js';
import { AUDIT_PAGE_MAX, listAuditEvents } from './query.js';

const AuditListQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(100),
  since: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time').optional(),
  type: z.string().max(128).optional(),
  identity: z.string().max(256).optional(),
  before: z.coerce.number().int().min(1).optional(),
  order: z.enum(['asc', 'desc']).default('asc'),
});

export async function auditRoutes(app: FastifyInstance, opts: { db: Queryable }) {
  app.get('/audit', async (req) => {
    const q = parseWith(AuditListQuery, req.query, 'query');
    const events = await listAuditEvents(opts.db, { ...q, since: q.since ? new Date(q.since) : undefined });
    const last = events[events.length - 1];
    const full = events.length === q.limit && last !== undefined;
    return q.order === 'desc' ? { events, next_before: full ? last.seq : null } : { events, next_after: full ? last.seq : null };
  });
}
