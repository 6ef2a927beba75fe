/** Admin API for issuers: list, read, revoke and restore (edge: the store is issuer-store.ts). */
import type { FastifyInstance } from 'fastify';
import { canonicalJson, type AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { pathId } from '../server/validate.js';
import { notifyChange, type Queryable } from '../store/index.js';
import { parseIssuerConfig } from './issuer-config.js';
import type { IssuerStore } from './issuer-store.js';

export async function issuerRoutes(app: FastifyInstance, opts: { issuers: IssuerStore; audit: Pick<AuditWriter, 'transact'>; db: Queryable }) {
  app.get('/issuers', async () => {
    const r = await opts.db.query<{ config: unknown; updated_at: Date }>('SELECT config, updated_at FROM issuers ORDER BY name');
    return { issuers: r.rows.map((x) => ({ ...(x.config as object), updated_at: new Date(x.updated_at).toISOString() })) };
  });
  app.post('/issuers', async (req, reply) => {
    const cfg = parseIssuerConfig(req.body);
    const changed = await opts.audit.transact((q, emit) => opts.issuers.upsertIn(q, emit, cfg, 'admin'));
    await opts.issuers.reload();
    return reply.code(changed ? 201 : 200).send(cfg);
  });
  app.delete('/issuers/:name', async (req) => {
    const name = pathId((req.params as { name: string }).name);
    await opts.audit.transact(async (q, emit) => {
      const r = await q.query('DELETE FROM issuers WHERE name = $1', [name]);
      if (r.rowCount === 0) throw new TetherError('not_found', `issuer ${JSON.stringify(name)} does not exist`);
      emit({ type: 'issuer.deleted', actor: 'admin', data: { name } });
      await notifyChange(q, { kind: 'issuers' });
    });
    await opts.issuers.reload();
    return { deleted: name };
  });
}
