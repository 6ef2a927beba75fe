/**
 * One decision against a compiled set. Never throws for anything Cedar says: a request Cedar refuses
 * (bad context, bad entity JSON) is a deny carrying Cedar's message, and the default is deny.
 *
 * One rule is stricter than Cedar: Cedar skips a policy whose evaluation errors, so a `forbid` that
 * errors (say, on an attribute a principal lacks) would let a permit through. Here an erroring forbid
 * denies: a guard that could not be evaluated is not taken as a guard that did not apply.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { isActionType, refKey } from './action-hierarchy.js';
import { formatCedarError } from './cedar-error.js';
import { stateOf, type CompiledState, type PreparsedPart } from './compiled-state.js';
import { combineObligations, NO_OBLIGATIONS } from './obligations.js';
import { leanInput } from './reads.js';
import type { CedarEntityJson, CompiledPolicySet, DecisionRequest, DecisionResult } from './types.js';

export function evaluate(set: CompiledPolicySet, request: DecisionRequest): DecisionResult {
  const state = stateOf(set);
  if (state.disposed) return deny([], [`policy set version ${set.version} was disposed`]);

  const actionKey = refKey(request.action);
  const chain = state.chains.get(actionKey);
  let part: PreparsedPart;
  let entities = request.entities;
  if (bringsActionEntities(request.entities)) {
    // The caller's action hierarchy may differ from the one we partitioned by: use every policy.
    part = state.full;
    entities = withMissing(request.entities, chain);
  } else {
    part = state.byAction.get(actionKey) ?? state.others;
    if (chain !== undefined) entities = [...request.entities, ...chain];
  }
  // No policy can apply: Cedar would answer the default deny.
  if (part.size === 0) return deny([], []);

  const ask = (context: DecisionRequest['context'], entities: readonly CedarEntityJson[]): cedar.AuthorizationAnswer | { thrown: unknown } => {
    try {
      return cedar.statefulIsAuthorized({
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        // Cedar JSON already (pdp/cedar-values.ts); cedar-wasm's own types are looser.
        context: context as cedar.Context,
        entities: entities as cedar.Entities,
        preparsedPolicySetId: part.cedarSetId,
      });
    } catch (e) {
      return { thrown: e };
    }
  };
  // Cedar sees only what these policies can read (reads.ts): the same answer, at a fraction of the
  // conversion cost. Anything but a clean answer is asked again with everything, so refusals and
  // errors (whose messages list the attributes an entity has) read exactly as Cedar gives them.
  // Pruning walks the caller's values: should that walk throw (a getter, a proxy), Cedar gets the whole
  // input and answers or refuses it as it would have, never a thrown decision.
  let lean: ReturnType<typeof leanInput>;
  try {
    lean = leanInput(part.reads, request, entities);
  } catch {
    lean = null;
  }
  let asked = lean === null ? ask(request.context, entities) : ask(lean.context, lean.entities);
  if (lean !== null && !('type' in asked && asked.type === 'success' && asked.response.diagnostics.errors.length === 0)) {
    asked = ask(request.context, entities);
  }
  if (!('type' in asked)) {
    // cedar-wasm throws, rather than answering `failure`, on input its JSON bridge cannot carry
    // (a lone UTF-16 surrogate, a BigInt, a missing member).
    const e = asked.thrown;
    return deny([], [`cedar refused the request: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const answer = asked;
  if (answer.type === 'failure') return deny([], answer.errors.map((e) => formatCedarError(e)));

  const { decision, diagnostics } = answer.response;
  const errors = diagnostics.errors.map((e) => `${e.policyId}: ${formatCedarError(e.error)}`);
  if (decision === 'allow') {
    const erroredForbids = diagnostics.errors.map((e) => e.policyId).filter((id) => state.forbids.has(id));
    if (erroredForbids.length > 0) return deny(erroredForbids, errors);
  }
  return {
    decision,
    policies: diagnostics.reason,
    errors,
    obligations: obligationsOf(state, diagnostics.reason),
  };
}

function obligationsOf(state: CompiledState, ids: readonly string[]): DecisionResult['obligations'] {
  if (ids.length === 0) return NO_OBLIGATIONS;
  return combineObligations(ids.map((id) => state.obligations.get(id)));
}

function deny(policies: readonly string[], errors: readonly string[]): DecisionResult {
  return { decision: 'deny', policies, errors, obligations: NO_OBLIGATIONS };
}

function bringsActionEntities(entities: readonly CedarEntityJson[]): boolean {
  for (const e of entities) if (isActionType(e.uid.type)) return true;
  return false;
}

function withMissing(
  entities: readonly CedarEntityJson[],
  chain: readonly CedarEntityJson[] | undefined,
): readonly CedarEntityJson[] {
  if (chain === undefined) return entities;
  const given = new Set(entities.map((e) => refKey(e.uid)));
  return [...entities, ...chain.filter((e) => !given.has(refKey(e.uid)))];
}
