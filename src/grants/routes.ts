import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TetherError } from '../errors.js';
import { parseWith, pathId } from '../server/validate.js';
import type { Grants } from './grants.js';

const ListQuery = z.strictObject({
  identity: z.string().max(256).optional(),
  state: z.enum(['pending', 'active', 'ended', 'expired', 'revoked', 'denied']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time').optional(),
});
const Decision = z.strictObject({ reason: z.string().min(1, 'a reason is required').max(1024) });

export async function grantRoutes(app: FastifyInstance, opts: { grants: Grants }) {
  app.get('/grants', async (req) => {
    const q = parseWith(ListQuery, req.query, 'query');
    const grants = await opts.grants.list(q);
    return { grants, next_before: grants.length === q.limit ? grants[grants.length - 1]!.created_at : null };
  });
  app.get('/grants/:id', async (req) => {
    const g = await opts.grants.get(pathId((req.params as { id: string }).id));
    if (!g) throw new TetherError('not_found', 'grant does not exist');
    return g;
  });
  app.post('/grants/:id/confirm', async (req) => {
    const body = parseWith(Decision, req.body ?? {}, 'body');
    return opts.grants.confirm(pathId((req.params as { id: string }).id), actorOf(req), body.reason);
  });
  for (const action of ['approve', 'deny'] as const) {
    app.post(`/grants/:id/${action}`, async (req) => {
      const body = parseWith(Decision, req.body ?? {}, 'body');
      return opts.grants.decide(pathId((req.params as { id: string }).id), action, actorOf(req), body.reason);
    });
  }
}
