/**
 * DecideInput → the Cedar request (DESIGN.md "Policy model", contract): `T::"I"` entities whose attributes
 * are the stored ones overlaid by the request's `properties`, except for inventory identities
 * (`Identity`), whose stored attributes win: a PEP must not raise its own privileges. Only the
 * entities this decision needs are passed (principal, resource, their stored ancestors), since Cedar
 * converts every entity on every call (DESIGN.md "Performance budget").
 */
import type { EntityCache } from '../entities/index.js';
import { invalidRequest } from '../errors.js';
import type { IdentityCache, IdentityEntity } from '../inventory/identity-cache.js';
import { refKey } from '../policy/action-hierarchy.js';
import type { CedarEntityJson, DecisionRequest, EntityRef } from '../policy/index.js';
import { overlayRecord, toCedarRecord, toEntityRef, valueBudget, type CedarRecord } from './cedar-values.js';
import type { DecideInput, DecisionEntityInput } from './decision-types.js';
import { cedarContext, type OwnContext } from './own-context.js';

export const INVENTORY_TYPE = 'Identity';

export interface BuildDeps {
  readonly identities: Pick<IdentityCache, 'get' | 'peek'>;
  readonly entities: Pick<EntityCache, 'get' | 'ancestors'>;
}

/** The checked, converted parts of an input: everything that can be a 400 happens here. */
export interface CheckedInput {
  readonly principal: EntityRef;
  readonly resource: EntityRef;
  readonly action: EntityRef;
  readonly principalProps: CedarRecord | undefined;
  readonly resourceProps: CedarRecord | undefined;
  /** Parents Tether itself names for the resource (an MCP tool's server); never from a PEP's input. */
  readonly resourceParents: readonly EntityRef[];
  readonly actionProps: CedarRecord;
  readonly callerContext: CedarRecord;
}

export function checkInput(input: DecideInput): CheckedInput {
  const subj = input.entry === 'authzen' ? 'subject' : 'principal';
  // One allowance for everything a caller hands to Cedar in this decision (cedar-values.ts MAX_VALUES).
  const budget = valueBudget();
  const props = (e: DecisionEntityInput, at: string) => (e.properties === undefined ? undefined : toCedarRecord(e.properties, `${at}.properties`, budget));
  if (typeof input.action?.name !== 'string' || input.action.name === '') throw invalidRequest('action.name must be a non-empty string');
  return {
    principal: toEntityRef(input.principal, subj),
    resource: toEntityRef(input.resource, 'resource'),
    action: toEntityRef({ type: 'Action', id: input.action.name }, 'action'),
    principalProps: props(input.principal, subj),
    resourceProps: props(input.resource, 'resource'),
    // AuthZEN input is a PEP's JSON: only Tether's own entry points may place a resource in a hierarchy.
    resourceParents: input.entry === 'authzen' ? [] : (input.resource.parents ?? []).map((p, i) => toEntityRef(p, `resource.parents[${i}]`)),
    actionProps: toCedarRecord(input.action.properties ?? {}, 'action.properties', budget),
    callerContext: toCedarRecord(input.context ?? {}, 'context', budget),
  };
}

/** Looks up the principal if it is an inventory identity (for status, risk and environment). */
export async function principalIdentity(deps: BuildDeps, principal: EntityRef): Promise<IdentityEntity | null> {
  if (principal.type !== INVENTORY_TYPE) return null;
  const hit = deps.identities.peek(principal.id);
  return hit !== undefined ? hit : deps.identities.get(principal.id);
}

/** A refusal the pipeline gives before Cedar, for an inventory principal that may not act at all. */
export function identityRefusal(principal: EntityRef, identity: IdentityEntity | null): string | undefined {
  if (principal.type !== INVENTORY_TYPE) return undefined;
  if (identity === null) return `identity ${JSON.stringify(principal.id)} is not in the inventory`;
  if (identity.status !== 'active') return `identity ${JSON.stringify(principal.id)} is ${identity.status}`;
  if (identity.owner === null) return `identity ${JSON.stringify(principal.id)} has no owner`;
  return undefined;
}

export async function buildRequest(
  deps: BuildDeps,
  c: CheckedInput,
  own: OwnContext,
  principalIdentityEntity: IdentityEntity | null,
): Promise<DecisionRequest> {
  const built = new Map<string, CedarEntityJson>();
  const place = async (ref: EntityRef, props: CedarRecord | undefined, inv: IdentityEntity | null | undefined, extraParents: readonly EntityRef[] = []) => {
    const k = refKey(ref);
    const stored = deps.entities.get(ref);
    if (ref.type === INVENTORY_TYPE) {
      const ident = inv !== undefined ? inv : await principalIdentity(deps, ref);
      // Inventory attributes over anything entities.json declares for it; request properties ignored.
      const attrs = ident ? (stored ? overlayRecord(stored.attrs as CedarRecord, ident.entity.attrs as CedarRecord) : ident.entity.attrs) : (stored?.attrs ?? {});
      built.set(k, { uid: ref, attrs, parents: stored?.parents ?? [] });
      return;
    }
    // What the operator declared (entities.json) is a fact; a PEP's properties may only add
    // attributes the store lacks, never override one (DESIGN.md trust model): the stored record goes
    // over the request's. Principal and resource may be one entity: it is placed over itself.
    const base = built.get(k) ?? stored;
    const attrs = props === undefined ? (base?.attrs ?? {}) : overlayRecord(props, (base?.attrs ?? {}) as CedarRecord);
    built.set(k, { uid: ref, attrs, parents: [...(base?.parents ?? []), ...extraParents.filter((p) => !(base?.parents ?? []).some((b) => refKey(b) === refKey(p)))] });
  };
  await place(c.principal, c.principalProps, principalIdentityEntity);
  await place(c.resource, c.resourceProps, undefined, c.resourceParents);
  const parents: EntityRef[] = [];
  for (const e of built.values()) parents.push(...e.parents);
  // A stored action entity with parents (action groups in entities.json) comes with its ancestors.
  const storedAction = deps.entities.get(c.action);
  if (storedAction !== undefined && storedAction.parents.length > 0) {
    built.set(refKey(c.action), storedAction);
    parents.push(...storedAction.parents);
  }
  const entities = [...built.values(), ...deps.entities.ancestors(parents, new Set(built.keys()))];
  return {
    principal: c.principal,
    action: c.action,
    resource: c.resource,
    context: cedarContext(c.callerContext, own, c.actionProps),
    entities,
  };
}
