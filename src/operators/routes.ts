/**
 * Admin routes for operator accounts (README "Operators"): admin only (server/admin-access.ts).
 *   POST   /operators              {name, role, expires_in?, slack_user_id?} → the token, once
 *   GET    /operators              names, roles, expiry, state; never a token or its hash
 *   POST   /operators/:name/revoke {reason}
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalidRequest } from '../errors.js';
import { parseIsoDurationSeconds } from '../policy/iso-duration.js';
import { actorOf } from '../server/admin-access.js';
import { parseWith, pathId } from '../server/validate.js';
import type { Operators } from './operators.js';
import { ROLES } from './roles.js';

const AddBody = z.strictObject({
  name: z.string().min(1).max(64),
  role: z.enum(ROLES),
  /** ISO-8601 duration, e.g. P90D. */
  expires_in: z.string().max(32).optional(),
  slack_user_id: z.string().regex(/^[UW][A-Z0-9]{2,20}$/, 'a Slack user id (U…/W…)').optional(),
});
const RevokeBody = z.strictObject({ reason: z.string().min(1, 'a reason is required').max(1024) });

export async function operatorRoutes(app: FastifyInstance, opts: { operators: Operators }) {
  app.post('/operators', async (req, reply) => {
    const body = parseWith(AddBody, req.body, 'body');
    let expiresInSeconds: number | undefined;
    if (body.expires_in !== undefined) {
      expiresInSeconds = parseIsoDurationSeconds(body.expires_in);
      if (expiresInSeconds === undefined) throw invalidRequest(`expires_in must be an ISO-8601 duration such as P90D, got ${JSON.stringify(body.expires_in)}`);
    }
    const out = await opts.operators.add({ name: body.name, role: body.role, expiresInSeconds, slackUserId: body.slack_user_id }, actorOf(req));
    // The only time the token is shown: it is stored as a hash.
    return reply.code(201).header('Cache-Control', 'no-store').send({ ...out.operator, token: out.token });
  });
  app.get('/operators', async () => ({ operators: await opts.operators.list() }));
  app.post('/operators/:name/revoke', async (req) => {
    const body = parseWith(RevokeBody, req.body, 'body');
    return opts.operators.revoke(pathId((req.params as { name: string }).name), actorOf(req), body.reason);
  });
}
