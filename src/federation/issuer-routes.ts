/** Admin API for issuers: list, read, revoke and restore (edge: the store is issuer-store.ts). */
import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { canonicalJson, type AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { restoreIssuerIn, stoppedIssuers } from '../revocation/index.js';
import { parseWith, pathId } from '../server/validate.js';
import { notifyChange, type Queryable } from '../store/index.js';
import { parseIssuerConfig } from './issuer-config.js';
import type { IssuerStore } from './issuer-store.js';

const RestoreBody = z.strictObject({ reason: z.string().min(1, 'a reason is required').max(1024) });

export async function issuerRoutes(app: FastifyInstance, opts: { issuers: IssuerStore; audit: Pick<AuditWriter, 'transact'>; db: Queryable }) {
  app.get('/issuers', async () => {
    const r = await opts.db.query<{ config: unknown; updated_at: Date }>('SELECT config, updated_at FROM issuers ORDER BY name');
    const stops = await stoppedIssuers(opts.db);
    return {
      issuers: r.rows.map((x) => {
        const cfg = x.config as { name: string };
        return { ...cfg, revoked: stops.has(cfg.name), updated_at: new Date(x.updated_at).toISOString() };
      }),
    };
  });
  app.post('/issuers', async (req, reply) => {
    const cfg = parseIssuerConfig(req.body);
    const changed = await opts.audit.transact((q, emit) => opts.issuers.upsertIn(q, emit, cfg, actorOf(req)));
    await opts.issuers.reload();
    return reply.code(changed ? 201 : 200).send(cfg);
  });
  // Lifts the stop an issuer revocation put on an issuer. Tokens revoked with it stay revoked.
  app.post('/issuers/:name/restore', async (req) => {
    const name = pathId((req.params as { name: string }).name);
    const body = parseWith(RestoreBody, req.body ?? {}, 'body');
    const stop = await opts.audit.transact(async (q, emit) => {
      const lifted = await restoreIssuerIn(q, name);
      if (!lifted) throw new TetherError('conflict', `issuer ${JSON.stringify(name)} is not revoked`);
      emit({ type: 'issuer.restored', actor: actorOf(req), data: { name, reason: body.reason, revocation_id: lifted.revocation_id, revoked_at: lifted.at } });
      return lifted;
    });
    await opts.issuers.reload();
    return { restored: name, revocation_id: stop.revocation_id };
  });
  app.delete('/issuers/:name', async (req) => {
    const name = pathId((req.params as { name: string }).name);
    await opts.audit.transact(async (q, emit) => {
      const r = await q.query('DELETE FROM issuers WHERE name = $1', [name]);
      if (r.rowCount === 0) throw new TetherError('not_found', `issuer ${JSON.stringify(name)} does not exist`);
      emit({ type: 'issuer.deleted', actor: actorOf(req), data: { name } });
      await notifyChange(q, { kind: 'issuers' });
    });
    await opts.issuers.reload();
    return { deleted: name };
  });
}
