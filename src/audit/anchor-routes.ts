import type { FastifyInstance } from 'fastify';
import { TetherError } from '../errors.js';
import type { AuditAnchors } from './anchors.js';
import { checkpointJwks } from './checkpoint-key.js';

/** Where the checkpoint public key is published (no credentials: auditors and sinks fetch it). */
export const CHECKPOINT_KEYS_PATH = '/.well-known/tether-audit-keys';

export async function auditAnchorPublicRoutes(app: FastifyInstance, opts: { anchors: AuditAnchors }) {
  app.get(CHECKPOINT_KEYS_PATH, { config: { surface: 'ops' } }, async (_req, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return checkpointJwks(opts.anchors.key);
  });
}

/** Admin: the latest signed checkpoint, and where each export sink stands. */
export async function auditAnchorAdminRoutes(app: FastifyInstance, opts: { anchors: AuditAnchors }) {
  app.get('/audit/checkpoint', async () => {
    const c = await opts.anchors.checkpointer.latest();
    if (!c) throw new TetherError('not_found', 'no checkpoint has been signed yet');
    return { checkpoint: c, public_key: CHECKPOINT_KEYS_PATH };
  });
  app.get('/audit/sinks', async () => ({ sinks: opts.anchors.sinks() }));
}
