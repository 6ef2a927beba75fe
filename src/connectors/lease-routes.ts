import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { actorOf } from '../server/admin-access.js';
import { parseWith } from '../server/validate.js';
import type { Clock } from '../clock.js';
import type { ConnectorStore } from './connector-store.js';
import type { Discovery } from './discover.js';
import type { LeaseStore } from './lease-store.js';

const ListQuery = z.strictObject({
  state: z.enum(['creating', 'active', 'ending', 'ended']).optional(),
  connector: z.string().max(63).optional(),
  identity: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const EndBody = z.strictObject({ reason: z.string().min(1, 'a reason is required').max(1024) });

/**
 * Admin API of the legacy bridge: connectors (as applied; they hold no secret), credential leases
 * with their revocation state (pending, failing, last error: nothing is abandoned silently), an
 * operator's end of one lease, and discovery of standing accounts. Reads for every role; writes for
 * admins (server/admin-access.ts).
 */
export async function leaseRoutes(app: FastifyInstance, opts: { leases: LeaseStore; connectors: Pick<ConnectorStore, 'all'>; discovery: Discovery; audit: Pick<AuditWriter, 'transact'>; clock: Clock; kick: () => void }) {
  app.get('/connectors', async () => ({ connectors: opts.connectors.all() }));
  app.get('/leases', async (req) => {
    const q = parseWith(ListQuery, req.query, 'query');
    const [leases, counts] = await Promise.all([opts.leases.list(q), opts.leases.counts()]);
    return { leases, pending: counts.byState['ending'] ?? 0, failing: counts.failing, active: counts.byState['active'] ?? 0 };
  });
  app.get('/leases/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    const l = await opts.leases.get(id);
    if (!l) throw new TetherError('not_found', `lease ${JSON.stringify(id.slice(0, 64))} does not exist`);
    return l;
  });
  app.post('/leases/:id/end', async (req) => {
    const id = (req.params as { id: string }).id;
    const body = parseWith(EndBody, req.body, 'body');
    const lease = await opts.audit.transact((q, emit) => opts.leases.endIn(q, emit, id, body.reason, actorOf(req), opts.clock()));
    opts.kick();
    return { ...lease, state: 'ending' };
  });
  app.post('/connectors/:name/discover', async (req) => {
    const name = (req.params as { name: string }).name;
    const found = await opts.discovery.discover(name).catch((e: Error) => {
      if (e instanceof TetherError) throw e;
      throw new TetherError('unavailable', `connector ${name}: ${e.message}`, undefined, 502);
    });
    if (found === null) throw new TetherError('not_found', `no connector ${JSON.stringify(name.slice(0, 64))}`);
    return { connector: name, accounts: found };
  });
}
