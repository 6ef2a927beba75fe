import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TetherError } from '../errors.js';
import { parseWith } from '../server/validate.js';
import type { Queryable } from '../store/index.js';
import { listCheckpoints } from './export-sources.js';
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
const CheckpointListQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export async function auditAnchorAdminRoutes(app: FastifyInstance, opts: { anchors: AuditAnchors; db: Queryable }) {
  app.get('/audit/checkpoint', async () => {
    const c = await opts.anchors.checkpointer.latest();
    if (!c) throw new TetherError('not_found', 'no checkpoint has been signed yet');
    return { checkpoint: c, public_key: CHECKPOINT_KEYS_PATH };
  });
  app.get('/audit/sinks', async () => ({ sinks: opts.anchors.sinks() }));
  // Every checkpoint, oldest first, keyset-paged on seq (evidence bundles take them all).
  app.get('/audit/checkpoints', async (req) => {
    const q = parseWith(CheckpointListQuery, req.query, 'query');
    const all = await listCheckpoints(opts.db, { after: q.after, limit: q.limit });
    return { checkpoints: all, public_key: CHECKPOINT_KEYS_PATH };
  });
}
