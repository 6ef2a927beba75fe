/**
 * The authorization kernel: ONE code path for every decision, issuance included. The token endpoint
 * asks it once per requested action (phase `issue`); ext-authz after token and DPoP verification and
 * AuthZEN with the PEP's subject/action/resource (phase `request`). Steps:
 *
 *   check input (400s) → caches fresh → identity gate (inventory status, owner) → own context (the one
 *   builder: phase, risk, now, …, always Tether's) → scope upper bound → entities (inventory principal,
 *   resource, their parents from entities.json) → Cedar (default deny; an error is a deny) →
 *   obligations (the closed set from policy annotations, plus detection's approval hold at issuance)
 *   → one `decision` audit record with its phase and stage, awaited (fail closed: a decision that
 *   cannot be recorded is not given, 503) → metrics → observers.
 *
 * Analysis uses the same code: `verdict` (policy dry-run, with the recorded own context) and posture's
 * blast radius (a neutral own context) run the same gate, context builder, entity loader and Cedar.
 * The request path waits on nothing but the audit commit: policies, entities and identities come from
 * caches refreshed by notification (DESIGN.md "Storage").
 */
import type { Logger } from 'pino';
import { ClaimTaken, type AuditInput, type AuditWriter, type SingleUseClaim } from '../audit/index.js';
import type { EntityCache } from '../entities/index.js';
import { TetherError } from '../errors.js';
import type { IdentityCache, IdentityEntity } from '../inventory/identity-cache.js';
import type { ActivePolicySet, PolicyCache } from '../policy/policy-cache.js';
import { evaluate } from '../policy/index.js';
import { NO_OBLIGATIONS } from '../policy/obligations.js';
import { buildRequest, checkInput, identityRefusal, principalIdentity, type CheckedInput } from './build-request.js';
import { decisionRecord } from './decision-record.js';
import type { DecideInput, DecideOutput, DecisionStage, DecisionToken, Verdict } from './decision-types.js';
import { createObservers, type DecisionObserver } from './observers.js';
import { ownContextOf, type OwnContext } from './own-context.js';
import { replayedProof } from '../tokens/dpop-proof.js';
import type { Clock } from '../clock.js';

/** What the kernel reads of detection: risk (context.risk) and approval holds, answered from memory. */
export interface RiskView {
  riskOf(identityId: string): number;
  /** New grants of this identity for these actions need a human first (a detection response). */
  requireApproval(identityId: string, actions: readonly string[]): boolean;
}

export interface PipelineDeps {
  policies: Pick<PolicyCache, 'current' | 'ensureFresh'>;
  entities: Pick<EntityCache, 'get' | 'ancestors' | 'ensureFresh'>;
  identities: Pick<IdentityCache, 'get' | 'peek'>;
  audit: Pick<AuditWriter, 'append'>;
  logger: Pick<Logger, 'error'>;
  clock: Clock;
  metrics?: { decisions: { inc(labels: { entry: string; decision: string }): void } };
  /** Risk and holds (detection's read model); risk 0 and no holds without it. */
  risk?: RiskView;
  /** False when this instance may have missed cluster changes: decisions fail closed (503). */
  isCurrent?: () => boolean;
}

/** An issuance decision whose `decision` record the caller writes with the issuance's own record. */
export interface UnrecordedDecision {
  readonly output: Omit<DecideOutput, 'auditSeq'>;
  /** The `decision` event: append it in the same tick as the issuance record (one group commit). */
  readonly record: AuditInput;
  /** Call once the record is durable, with its seq: observers (detection) learn the decision then. */
  readonly committed: (auditSeq: number) => void;
}

export interface DecideOptions {
  /**
   * Single-use keys the request's credential must still claim (a DPoP proof's cluster-wide `jti`
   * claim deferred by the resource-server check, RFC 9449 §11.1): claimed in the statement that
   * writes the decision record, which is written only if they are new (one round trip, DESIGN.md
   * "Performance budget"). If one is taken, `decide` throws a `replayed` DpopProofError: no record,
   * no observers; the caller records its credential refusal as for any replay.
   */
  claims?: readonly SingleUseClaim[];
}

export interface DecisionPipeline {
  decide(input: DecideInput, opts?: DecideOptions): Promise<DecideOutput>;
  /**
   * The same decision without writing its record: the token endpoint appends the records of every
   * requested action together with `token.issued` (or its refusal), so an issuance waits for one
   * group commit instead of two, and gives nothing out until all of them are durable (fail closed,
   * DESIGN.md flow 4). Phase `issue` only: request-time decisions are recorded by `decide`.
   */
  decideUnrecorded(input: DecideInput): Promise<UnrecordedDecision>;
  /**
   * A live request-time decision that is neither recorded nor observed: what a caller could use,
   * asked to filter a list it reads (MCP `tools/list`). Listing is not access; the use itself is
   * decided (and recorded) by `decide`.
   */
  preview(input: DecideInput): Promise<Omit<DecideOutput, 'auditSeq'>>;
  /** Subscribe to committed decisions; returns an unsubscribe function. */
  onDecision(cb: DecisionObserver): () => void;
  /**
   * The pure part, for replays (policy dry-run): the verdict a given policy set gives for an input and
   * recorded own context, without audit, metrics, observers or holds.
   */
  verdict(input: DecideInput, own: OwnContext, set: ActivePolicySet | null): Promise<Verdict>;
}

/** Another name for the one decision pipeline. */
export type Kernel = DecisionPipeline;

export function createDecisionPipeline(deps: PipelineDeps): DecisionPipeline {
  const observers = createObservers(deps.logger);

  const judge = async (c: CheckedInput, own: OwnContext, ident: IdentityEntity | null, token: DecisionToken | undefined, active: ActivePolicySet | null): Promise<Verdict> => {
    const version = active?.version ?? null;
    const refuse = (stage: DecisionStage, reason: string): Verdict => ({ allow: false, stage, reasons: { policies: [], errors: [], reason }, obligations: NO_OBLIGATIONS, policyVersion: version });
    const refusal = identityRefusal(c.principal, ident);
    if (refusal !== undefined) return refuse('identity', refusal);
    // Scopes are an upper bound, never a guarantee (DESIGN.md flow 2): outside them, Cedar is not asked.
    if (token !== undefined && !token.scopes.includes(c.action.id)) {
      return refuse('credential', `action ${JSON.stringify(c.action.id)} is outside the token's scopes`);
    }
    if (active === null) return refuse('policy', 'no policy set is active (default deny)');
    const request = await buildRequest(deps, c, own, ident);
    const r = evaluate(active.set, request);
    const allow = r.decision === 'allow';
    // An obligation holds at request time too: a token whose grant no human approved (nor break-glass
    // waived) does not carry an action a policy has since put under @approval (DESIGN.md "Policy model").
    const approved =
      token === undefined ||
      (token.approval === 'human' && (token.approvals ?? 1) >= (r.obligations.approvals ?? 1)) ||
      (token.approval === 'break_glass' && r.obligations.breakGlass);
    if (allow && own.phase === 'request' && r.obligations.approval && !approved) {
      const reason = `approval is required for ${JSON.stringify(c.action.id)} and this token's grant was not approved: exchange again`;
      return { allow: false, stage: 'policy', reasons: { policies: r.policies, errors: r.errors, reason, approval_required: r.obligations.approvals ?? 1 }, obligations: NO_OBLIGATIONS, policyVersion: version };
    }
    return { allow, stage: 'policy', reasons: { policies: r.policies, errors: r.errors }, obligations: allow ? r.obligations : NO_OBLIGATIONS, policyVersion: version };
  };

  /** Detection's approval hold is an obligation of issuance no policy can waive. */
  const withHold = (v: Verdict, input: DecideInput, ident: IdentityEntity | null): { verdict: Verdict; held: boolean } => {
    if (!v.allow || input.phase !== 'issue' || ident === null || v.obligations.approval) return { verdict: v, held: false };
    if (!deps.risk?.requireApproval(ident.id, [input.action.name])) return { verdict: v, held: false };
    return { verdict: { ...v, obligations: { ...v.obligations, approval: true } }, held: true };
  };

  /** Everything of a live decision but its record: input checks, caches, gate, context, Cedar, holds. */
  const run = async (input: DecideInput, counted = true) => {
    const c = checkInput(input);
    if (deps.isCurrent && !deps.isCurrent()) {
      throw new TetherError('unavailable', 'this instance may have missed policy or revocation changes; refusing to decide');
    }
    await deps.policies.ensureFresh();
    await deps.entities.ensureFresh();
    const ident = await principalIdentity(deps, c.principal);
    const at = deps.clock();
    const own = ownContextOf(input, at, ident && deps.risk ? deps.risk.riskOf(ident.id) : 0, ident?.environment);
    const { verdict: v, held } = withHold(await judge(c, own, ident, input.token, deps.policies.current()), input, ident);
    const output = { decision: v.allow, stage: v.stage, obligations: v.obligations, heldForApproval: held, reasons: v.reasons, policyVersion: v.policyVersion };
    const count = () => deps.metrics?.decisions.inc({ entry: input.entry, decision: v.allow ? 'allow' : 'deny' });
    if (counted) count();
    return { at, own, ident, output, record: decisionRecord(input, c, own, v, held), count };
  };

  return {
    async decide(input, opts) {
      const { at, own, ident, output: o, record, count } = await run(input, false);
      // Fail closed: append rejects with 503 `unavailable` when the record cannot be made durable.
      let rec;
      try {
        rec = await deps.audit.append(record, opts?.claims?.length ? { claims: opts.claims } : undefined);
      } catch (e) {
        // The proof was used before (here or on another instance, RFC 9449 §11.1): no decision was
        // made on this request, so none is counted or observed; the caller refuses the credential.
        if (e instanceof ClaimTaken) throw replayedProof();
        count();
        throw e;
      }
      count();
      const output: DecideOutput = { ...o, auditSeq: rec.seq };
      // Every decision: detection learns issued tokens from the token.issued feed and takes from the
      // issue phase what that feed lacks (refusals, approvals requested, break-glass; detect/feed.ts).
      observers.emit({ at, input, output, own, identity: ident });
      return output;
    },
    async decideUnrecorded(input) {
      if (input.phase !== 'issue') throw new TypeError('decideUnrecorded: request-time decisions are recorded by decide');
      const { at, own, ident, output, record } = await run(input);
      // Observers learn it once the caller made the record durable (detect/feed.ts reads issue-phase
      // refusals, approvals requested and break-glass from here).
      return { output, record, committed: (auditSeq: number) => observers.emit({ at, input, output: { ...output, auditSeq }, own, identity: ident }) };
    },
    async preview(input) {
      if (input.phase === 'issue') throw new TypeError('preview: request-time decisions only');
      return (await run(input)).output;
    },
    onDecision: (cb) => observers.add(cb),
    async verdict(input, own, set) {
      const c = checkInput(input);
      const ident = await principalIdentity(deps, c.principal);
      return judge(c, own, ident, input.token, set);
    },
  };
}
