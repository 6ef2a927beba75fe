/**
 * Admin routes of detection (under /admin/v1):
 *   GET  /findings                 filters identity, rule, status; keyset paging limit/after
 *   GET  /findings/:id
 *   POST /findings/:id/resolve     {reason, reverse?}  409 when already resolved
 *   POST /findings/:id/reverse     {reason}            undo the response of a resolved finding
 *   POST /detection/learn          {events: [...]}     learning history for THIS instance's detector
 *   GET  /detection                status (history replay, queue, counters)
 *   GET  /detection/baselines/*    one identity's learned baseline
 */
import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TetherError } from '../errors.js';
import { parseWith, pathId } from '../server/validate.js';
import type { Queryable } from '../store/index.js';
import { RULE_IDS } from './finding.js';
import { listFindings, mustGetFinding } from './findings-store.js';
import { LearnBody, toDetectionEvents } from './learn-schema.js';
import type { DetectionService } from './service.js';

const FindingsQuery = z.strictObject({
  identity: z.string().min(1).max(256).optional(),
  rule: z.enum(RULE_IDS as unknown as [string, ...string[]]).optional(),
  status: z.enum(['open', 'resolved']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().min(1).max(128).optional(),
});
const ResolveBody = z.strictObject({
  reason: z.string().trim().min(1, 'a reason is required').max(1024),
  reverse: z.boolean().default(false),
});
const ReverseBody = z.strictObject({ reason: z.string().trim().min(1, 'a reason is required').max(1024) });
const FindingId = z.string().min(1).max(128);

/** Learning bodies are large (a week of history); everything else keeps the app's 1 MiB limit. */
const LEARN_BODY_LIMIT = 64 * 1024 * 1024;

export async function detectionRoutes(app: FastifyInstance, opts: { db: Queryable; service: DetectionService }) {
  const { db, service } = opts;

  app.get('/findings', async (req) => listFindings(db, parseWith(FindingsQuery, req.query, 'query')));

  app.get('/findings/:id', async (req) => mustGetFinding(db, parseWith(FindingId, (req.params as { id: string }).id, 'id')));

  app.post('/findings/:id/resolve', async (req) => {
    const id = parseWith(FindingId, (req.params as { id: string }).id, 'id');
    const body = parseWith(ResolveBody, req.body ?? {}, 'body');
    return service.resolve(id, { reason: body.reason, reverse: body.reverse, actor: actorOf(req) });
  });

  app.post('/findings/:id/reverse', async (req) => {
    const id = parseWith(FindingId, (req.params as { id: string }).id, 'id');
    const body = parseWith(ReverseBody, req.body ?? {}, 'body');
    return service.reverse(id, { reason: body.reason, actor: actorOf(req) });
  });

  app.post('/detection/learn', { bodyLimit: LEARN_BODY_LIMIT }, async (req) => {
    if (!service.status().enabled) throw new TetherError('conflict', 'detection is switched off on this instance (TETHER_DETECTION=false)');
    const body = parseWith(LearnBody, req.body, 'body');
    return { learned: service.learn(toDetectionEvents(body)) };
  });

  app.get('/detection', async () => service.status());

  app.get('/detection/baselines/*', async (req) => {
    const id = pathId((req.params as { '*': string })['*']);
    const b = service.baseline(id);
    if (!b) throw new TetherError('not_found', `no baseline for ${JSON.stringify(id)}`);
    return b;
  });
}
