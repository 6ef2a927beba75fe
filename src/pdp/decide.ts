/**
 * The decision pipeline: ONE code path for every entry point (issue 5 §1). AuthZEN calls it with the
 * PEP's subject/action/resource; ext-authz calls it after token and DPoP verification, passing the
 * token (whose scopes are an upper bound) and the HTTP request. Steps:
 *
 *   check input (400s) → caches fresh → inventory principal (status) → own context (risk, now, …)
 *   → scope upper bound → Cedar (default deny; an error is a deny with the error) → audit, awaited
 *   (fail closed: a decision that cannot be recorded is not given, 503) → metrics → observers.
 *
 * The request path waits on nothing but the audit commit: policies, entities and identities come from
 * caches refreshed by notification (DESIGN.md "Storage").
 */
import type { Logger } from 'pino';
import type { AuditWriter } from '../audit/index.js';
import type { EntityCache } from '../entities/index.js';
import { TetherError } from '../errors.js';
import type { IdentityCache, IdentityEntity } from '../inventory/identity-cache.js';
import type { ActivePolicySet, PolicyCache } from '../policy/policy-cache.js';
import { evaluate } from '../policy/index.js';
import { buildRequest, checkInput, identityRefusal, principalIdentity, type CheckedInput } from './build-request.js';
import { decisionRecord } from './decision-record.js';
import type { DecideInput, DecideOutput, DecisionReasons, DecisionToken } from './decision-types.js';
import { createObservers, type DecisionObserver } from './observers.js';
import { ownContextOf, type OwnContext } from './own-context.js';

export interface PipelineDeps {
  policies: Pick<PolicyCache, 'current' | 'ensureFresh'>;
  entities: Pick<EntityCache, 'get' | 'ancestors' | 'ensureFresh'>;
  identities: Pick<IdentityCache, 'get' | 'peek'>;
  audit: Pick<AuditWriter, 'append'>;
  logger: Pick<Logger, 'error'>;
  clock: () => Date;
  metrics?: { decisions: { inc(labels: { entry: string; decision: string }): void } };
  /** Identity id → risk 0–100 (detection plugs in here; default 0). */
  riskOf?: (identityId: string) => number;
  /** False when this instance may have missed cluster changes: decisions fail closed (503). */
  isCurrent?: () => boolean;
}

export interface Verdict {
  readonly allow: boolean;
  readonly reasons: DecisionReasons;
  readonly policyVersion: number | null;
}

export interface DecisionPipeline {
  decide(input: DecideInput): Promise<DecideOutput>;
  /** Subscribe to committed decisions; returns an unsubscribe function. */
  onDecision(cb: DecisionObserver): () => void;
  /** Replace the risk provider (detection engine). */
  setRiskProvider(riskOf: (identityId: string) => number): void;
  /**
   * The pure part, for replays (policy dry-run): the verdict a given policy set gives for an input and
   * recorded own context, without audit, metrics or observers.
   */
  verdict(input: DecideInput, own: OwnContext, set: ActivePolicySet | null): Promise<Verdict>;
}

export function createDecisionPipeline(deps: PipelineDeps): DecisionPipeline {
  let riskOf = deps.riskOf ?? (() => 0);
  const observers = createObservers(deps.logger);

  const judge = async (c: CheckedInput, own: OwnContext, ident: IdentityEntity | null, token: DecisionToken | undefined, active: ActivePolicySet | null): Promise<Verdict> => {
    const version = active?.version ?? null;
    const refuse = (reason: string): Verdict => ({ allow: false, reasons: { policies: [], errors: [], reason }, policyVersion: version });
    const refusal = identityRefusal(c.principal, ident);
    if (refusal !== undefined) return refuse(refusal);
    // Scopes are an upper bound, never a guarantee (DESIGN.md flow 2): outside them, Cedar is not asked.
    if (token !== undefined && !token.scopes.includes(c.action.id)) {
      return refuse(`action ${JSON.stringify(c.action.id)} is outside the token's scopes`);
    }
    if (active === null) return refuse('no policy set is active (default deny)');
    const request = await buildRequest(deps, c, own, ident);
    const r = evaluate(active.set, request);
    return { allow: r.decision === 'allow', reasons: { policies: r.policies, errors: r.errors }, policyVersion: version };
  };

  return {
    async decide(input) {
      const c = checkInput(input);
      if (deps.isCurrent && !deps.isCurrent()) {
        throw new TetherError('unavailable', 'this instance may have missed policy or revocation changes; refusing to decide');
      }
      await deps.policies.ensureFresh();
      await deps.entities.ensureFresh();
      const ident = await principalIdentity(deps, c.principal);
      const at = deps.clock();
      const own = ownContextOf(input, at, ident ? riskOf(ident.id) : 0, ident?.environment);
      const v = await judge(c, own, ident, input.token, deps.policies.current());
      // Fail closed: append rejects with 503 `unavailable` when the record cannot be made durable.
      const rec = await deps.audit.append(decisionRecord(input, c, own, v.allow, v.reasons, v.policyVersion));
      const output: DecideOutput = { decision: v.allow, reasons: v.reasons, auditSeq: rec.seq, policyVersion: v.policyVersion };
      deps.metrics?.decisions.inc({ entry: input.entry, decision: v.allow ? 'allow' : 'deny' });
      observers.emit({ at, input, output, own, identity: ident });
      return output;
    },
    onDecision: (cb) => observers.add(cb),
    setRiskProvider(fn) {
      riskOf = fn;
    },
    async verdict(input, own, set) {
      const c = checkInput(input);
      const ident = await principalIdentity(deps, c.principal);
      return judge(c, own, ident, input.token, set);
    },
  };
}
