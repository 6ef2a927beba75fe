import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseWith, pathId } from '../server/validate.js';
import { IdentityCreate, IdentityListQuery, IdentityPatch } from './identity-schema.js';
import type { Identity } from './identity-schema.js';
import type { Inventory } from './identities.js';

const RetireBody = z.strictObject({ reason: z.string().max(1024).optional() }).optional();

/** Extra per-identity view data (current risk, open findings) contributed by other domains. */
export type IdentityView = (i: Identity) => Record<string, unknown>;

export async function inventoryRoutes(app: FastifyInstance, opts: { inventory: Inventory; view?: IdentityView }) {
  const { inventory } = opts;
  const view: IdentityView = opts.view ?? ((i) => ({ ...i }));

  app.post('/identities', async (req, reply) => {
    const input = parseWith(IdentityCreate, req.body, 'body');
    const created = await inventory.create(input, actorOf(req));
    return reply.code(201).send(view(created));
  });

  app.get('/identities', async (req) => {
    const q = parseWith(IdentityListQuery, req.query, 'query');
    const items = await inventory.list(q);
    const last = items.length === q.limit ? items[items.length - 1]?.id : undefined;
    return { identities: items.map(view), next_after: last ?? null };
  });

  // `*` so that ids with `/` work whether or not the client encoded them.
  app.get('/identities/*', async (req) => {
    const id = pathId((req.params as { '*': string })['*']);
    return view(await inventory.mustGet(id));
  });

  app.patch('/identities/*', async (req) => {
    const id = pathId((req.params as { '*': string })['*']);
    const patch = parseWith(IdentityPatch, req.body, 'body');
    const { identity } = await inventory.patch(id, patch, actorOf(req));
    return view(identity);
  });

  // Retire: DELETE keeps the record (and its history) but ends the identity for good.
  app.delete('/identities/*', async (req) => {
    const id = pathId((req.params as { '*': string })['*']);
    const body = parseWith(RetireBody, req.body ?? undefined, 'body');
    return view(await inventory.retire(id, actorOf(req), body?.reason));
  });
}
