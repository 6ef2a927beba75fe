import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import type { AuditWriter } from '../audit/index.js';
import { invalidRequest, TetherError } from '../errors.js';
import { parseWith } from '../server/validate.js';
import type { ApplySection } from './apply.js';
import { ApplyBundle } from './bundle.js';

/**
 * Thrown to roll a dry-run's transaction back once every section has run and said what it would
 * change. A TetherError, so the audit writer passes it through as a refusal, not a store failure.
 */
class DryRunDone extends TetherError {
  constructor(readonly changes: string[]) {
    super('conflict', 'dry run: rolled back');
  }
}

/**
 * `POST /apply` applies a bundle in one transaction. `?dry_run=true` runs every section's checks (the
 * same compile, schema validation and conflicts as a real apply) and rolls back: it answers what would
 * change, or the error the real apply would give.
 */
export async function applyRoutes(
  app: FastifyInstance,
  opts: {
    audit: Pick<AuditWriter, 'transact'>;
    sections: ApplySection[];
    /**
     * Brings this instance's caches (issuers, policies, routes, …) up to what was just committed. They
     * are otherwise refreshed by the change notification, which arrives a moment later: a caller that
     * applies and then uses what it applied on the same instance must not see the old configuration.
     */
    settle?: () => Promise<void>;
  },
) {
  app.post('/apply', async (req) => {
    const query = req.query as Record<string, unknown>;
    const dryRun = query['dry_run'] === 'true';
    if (query['dry_run'] !== undefined && !dryRun && query['dry_run'] !== 'false') throw invalidRequest('dry_run must be true or false');
    const bundle = parseWith(ApplyBundle, req.body, 'bundle');
    try {
      const changes = await opts.audit.transact(async (q, emit) => {
        const all: string[] = [];
        for (const section of opts.sections) all.push(...(await section(q, emit, bundle, { dryRun, actor: actorOf(req) })));
        if (dryRun) throw new DryRunDone(all);
        if (all.length) emit({ type: 'config.applied', actor: actorOf(req), data: { changes: all.length } });
        return all;
      });
      if (changes.length > 0) await opts.settle?.();
      return { changed: changes.length > 0, changes };
    } catch (e) {
      if (e instanceof DryRunDone) return { changed: e.changes.length > 0, changes: e.changes, dry_run: true };
      throw e;
    }
  });
}
