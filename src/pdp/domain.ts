/**
 * Builds the decision domain for the composition root: the policy and entity caches (the identity
 * cache is given), their apply sections and change-feed registrations, and the one kernel.
 * Notifications are hints and resync re-reads everything (DESIGN.md "Storage"), so each cache has
 * both a handler and a resync.
 */
import type { Logger } from 'pino';
import type { AuditWriter } from '../audit/index.js';
import type { ChangeFeed } from '../cluster/index.js';
import type { ApplySection } from '../declarative/apply.js';
import { createEntityCache, entitiesSection, type EntityCache } from '../entities/index.js';
import type { IdentityCache } from '../inventory/identity-cache.js';
import { createPolicyCache, type PolicyCache } from '../policy/policy-cache.js';
import type { Replayer } from '../policy/dry-run.js';
import { policiesSection, type PolicyVersionDeps } from '../policy/versions.js';
import type { Store } from '../store/index.js';
import { createDecisionPipeline, type DecisionPipeline, type RiskView } from './decide.js';
import { replayInput } from './replay.js';
import type { Clock } from '../clock.js';

export interface PdpDomainDeps {
  store: Store;
  audit: Pick<AuditWriter, 'append'>;
  logger: Logger;
  clock: Clock;
  changes: Pick<ChangeFeed, 'on' | 'onResync' | 'current'>;
  metrics?: { decisions: { inc(labels: { entry: string; decision: string }): void } };
  /** The inventory's identity cache, built first: detection reads it too. */
  identities: IdentityCache;
  /** Risk (context.risk) and approval holds, built before the kernel (detection). */
  risk?: RiskView;
}

export interface PdpDomain {
  pipeline: DecisionPipeline;
  policies: PolicyCache;
  entities: EntityCache;
  identities: IdentityCache;
  /** Apply sections, in order: entities before policies is irrelevant (both replace whole). */
  sections: ApplySection[];
  versions: PolicyVersionDeps;
  replay: Replayer;
}

export function createPdpDomain(deps: PdpDomainDeps): PdpDomain {
  const { store, logger, changes } = deps;
  const policies = createPolicyCache({ db: store, logger });
  const entities = createEntityCache({ db: store, logger });
  const { identities } = deps;

  changes.on('policy', () => policies.refresh());
  changes.on('entities', () => entities.refresh());
  changes.on('identity', (n) => identities.invalidate(n.id));
  changes.onResync(async () => {
    identities.clear();
    await Promise.all([policies.refresh(), entities.refresh()]);
  });

  const versions: PolicyVersionDeps = {
    clock: deps.clock,
    expect: (v) => policies.expect(v),
    refused: (error, actor) => {
      // The refused candidate's transaction rolls back; its record goes through the writer on its own.
      deps.audit.append({ type: 'policy.refused', actor, data: { error } }).catch((err: Error) => {
        logger.error({ err: { message: err.message } }, 'could not audit a refused policy set');
      });
    },
  };
  const pipeline = createDecisionPipeline({
    policies,
    entities,
    identities,
    audit: deps.audit,
    logger,
    clock: deps.clock,
    isCurrent: () => changes.current(),
    ...(deps.risk ? { risk: deps.risk } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  const replay: Replayer = async (e, set) => {
    const r = replayInput(e);
    if (r === null) return null;
    try {
      const v = await pipeline.verdict(r.input, r.own, set);
      return { allow: v.allow };
    } catch {
      return null; // a record this version cannot rebuild into a valid request
    }
  };
  return {
    pipeline,
    policies,
    entities,
    identities,
    sections: [entitiesSection({ clock: deps.clock, expect: (h) => entities.expect(h) }), policiesSection(versions)],
    versions,
    replay,
  };
}
