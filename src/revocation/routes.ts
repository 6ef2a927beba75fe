import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TetherError } from '../errors.js';
import type { AuditWriter } from '../audit/index.js';
import { parseWith } from '../server/validate.js';
import type { Queryable } from '../store/index.js';
import type { RevocationEntry } from './revocation-set.js';
import { revokeIn } from './revoke.js';
import type { Clock } from '../clock.js';

const RevokeBody = z.strictObject({
  kind: z.enum(['jti', 'grant', 'identity', 'issuer']),
  value: z.string().min(1).max(512),
  reason: z.string().min(1, 'a reason is required').max(1024),
  /** Identity revocations also suspend the identity unless told not to. */
  suspend: z.boolean().optional(),
});
const ListQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100), after: z.coerce.number().int().min(0).optional() });

export async function revocationRoutes(
  app: FastifyInstance,
  opts: {
    audit: Pick<AuditWriter, 'transact'>;
    db: Queryable;
    clock: Clock;
    suspendIn: (q: Queryable, id: string) => Promise<void>;
    /** Applies committed revocations on this instance at once (the others learn them by notice). */
    onRevoked?: (entries: RevocationEntry[]) => void;
  },
) {
  app.post('/revocations', async (req, reply) => {
    const body = parseWith(RevokeBody, req.body, 'body');
    const out = await opts.audit.transact(async (q, emit) => {
      // An issuer revocation stops the issuer by name: a misspelt name would answer 201 and stop
      // nothing, so only a configured issuer can be revoked.
      if (body.kind === 'issuer' && (await q.query('SELECT 1 FROM issuers WHERE name = $1', [body.value])).rows.length === 0) {
        throw new TetherError('not_found', `no issuer named ${JSON.stringify(body.value)}`);
      }
      const r = await revokeIn(q, emit, { kind: body.kind, value: body.value, reason: body.reason, actor: actorOf(req) }, opts.clock());
      if (body.kind === 'identity' && body.suspend !== false) {
        await opts.suspendIn(q, body.value);
        emit({ type: 'identity.suspended', actor: actorOf(req), identity: body.value, data: { reason: body.reason, revocation_id: r.id } });
      }
      return r;
    });
    opts.onRevoked?.(out.entries);
    return reply.code(201).send({ id: out.id, kind: body.kind, value: body.value, grants_revoked: out.grantsRevoked });
  });
  app.get('/revocations', async (req) => {
    const q = parseWith(ListQuery, req.query, 'query');
    const r = await opts.db.query('SELECT id, kind, value, reason, created_at, created_by FROM revocations WHERE id > $1 ORDER BY id LIMIT $2', [q.after ?? 0, q.limit]);
    return { revocations: r.rows };
  });
}
