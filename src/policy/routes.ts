/**
 * Admin API of the policy lifecycle (DESIGN.md "Policy model": versioned, audited, dry-run), mounted under /admin/v1 behind the admin token:
 *   GET  /policies[?version=N]   the active (or an older) version: hash, files, policy ids
 *   POST /policies               activate a candidate `{files, schema?}` (same path as apply)
 *   POST /policies/dry-run       what a candidate would change over the last N decisions; never activates
 */
import { actorOf } from '../server/admin-access.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { parseWith } from '../server/validate.js';
import { compilePolicySet, disposePolicySet, policyIds } from './compile.js';
import { dryRun, DRY_RUN_DEFAULT, DRY_RUN_MAX, type Replayer } from './dry-run.js';
import type { PolicyCache } from './policy-cache.js';
import { activateIn, readActiveVersion, readVersion, type ActiveVersion, type PolicyVersionDeps } from './versions.js';
import type { Queryable } from '../store/index.js';

const Files = z.record(z.string().min(1).max(512), z.string().max(1024 * 1024));
const Candidate = z.strictObject({ files: Files, schema: z.string().max(1024 * 1024).optional() });
const DryRunBody = z.strictObject({
  files: Files,
  schema: z.string().max(1024 * 1024).optional(),
  limit: z.number().int().min(1).max(DRY_RUN_MAX).default(DRY_RUN_DEFAULT),
});
const VersionQuery = z.strictObject({ version: z.coerce.number().int().min(1).optional() });

export interface PolicyRoutesOptions {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact'>;
  cache: Pick<PolicyCache, 'current' | 'refresh' | 'ensureFresh'>;
  versions: PolicyVersionDeps;
  replay: Replayer;
}

export async function policyRoutes(app: FastifyInstance, opts: PolicyRoutesOptions): Promise<void> {
  const describe = (v: ActiveVersion) => {
    const served = opts.cache.current();
    let ids: readonly string[];
    if (served?.version === v.version) ids = policyIds(served.set);
    else {
      const set = compilePolicySet(v.schema === null ? { files: v.files } : { files: v.files, schema: v.schema });
      ids = policyIds(set);
      disposePolicySet(set);
    }
    return {
      version: v.version,
      source_hash: v.sourceHash,
      files: v.files,
      schema: v.schema,
      policies: ids,
      created_at: v.createdAt,
      created_by: v.createdBy,
      served_version: served?.version ?? null,
    };
  };

  app.get('/policies', async (req) => {
    const { version } = parseWith(VersionQuery, req.query, 'query');
    await opts.cache.ensureFresh(); // `served_version` reflects this instance's own recent activation
    if (version !== undefined) {
      const v = await readVersion(opts.db, version);
      if (!v) throw new TetherError('not_found', `policy version ${version} does not exist`);
      return describe(v);
    }
    const v = await readActiveVersion(opts.db);
    return v ? describe(v) : { version: null, served_version: opts.cache.current()?.version ?? null };
  });

  app.post('/policies', async (req) => {
    const c = parseWith(Candidate, req.body, 'body');
    const r = await opts.audit.transact((q, emit) => activateIn(q, emit, c, actorOf(req), opts.versions));
    // Committed: serve it here before answering (other instances follow the notification).
    if (r.changed) await opts.cache.refresh();
    return { changed: r.changed, version: r.version, previous_version: r.previousVersion, source_hash: r.sourceHash, warnings: r.warnings };
  });

  app.post('/policies/dry-run', async (req) => {
    const b = parseWith(DryRunBody, req.body, 'body');
    return dryRun({ db: opts.db, active: opts.cache.current, replay: opts.replay }, { files: b.files, schema: b.schema }, b.limit);
  });
}
