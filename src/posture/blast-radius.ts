/**
 * Blast radius: every (action, resource type, audience) an identity can obtain (phase `issue`) or
 * perform (phase `request`) right now, found by asking Cedar rather than by reading policy text, so
 * conditions, groups and forbids count exactly as they do at decision time.
 *
 * The context is the kernel's (pdp/own-context.ts), neutral: risk 0, the report's `now`, the
 * identity's own environment, no task or break-glass. What the
 * identity reaches on an ordinary day, not on its worst one. Policies that need context we cannot
 * know (a task, a request address) error and so do not count as permitting: the radius is a lower
 * bound for such policies, and the report says "now", not "ever".
 *
 * Cost: identities that no policy names literally and that share attributes and parents get the same
 * answers, so Cedar is asked once per such class; that is what keeps 10k identities in seconds.
 */
import { evaluate, type CedarEntityJson, type CedarJsonValue } from '../policy/index.js';
import { refKey } from '../policy/action-hierarchy.js';
import { toCedarRecord, type CedarRecord } from '../pdp/cedar-values.js';
import type { DecisionPhase } from '../pdp/decision-types.js';
import { cedarContext, neutralOwnContext } from '../pdp/own-context.js';

const NO_MEMBERS: CedarRecord = Object.freeze(Object.create(null) as CedarRecord);
import { withAncestors, type AccessModel } from './access-model.js';
import type { BlastRadiusEntry } from './report-types.js';

export interface IdentityFacts {
  readonly id: string;
  readonly kind: string;
  readonly owner: string | null;
  readonly environment: string | null;
  readonly status: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly purpose?: string | null;
  readonly review_by?: Date | null;
  readonly discovered_by?: string | null;
  /** Free-form inventory attributes (the `attributes` column). */
  readonly attributes?: Readonly<Record<string, unknown>> | null;
}

/** A blast radius entry plus what analysis needs: the phase and every permitting policy. */
export interface ReachEntry extends BlastRadiusEntry {
  readonly phase: 'issue' | 'request' | 'delegation';
  readonly policies: readonly string[];
}

/** What tokens issued *to others* with this identity as the actor (`act`) carried. */
export interface Delegation {
  readonly action: string;
  readonly audience: string | null;
}

export type BlastRadiusOf = (identity: IdentityFacts, delegated?: Iterable<Delegation>) => ReachEntry[];

export function createBlastRadius(model: AccessModel, now: Date): BlastRadiusOf {
  const cache = new Map<string, ReachEntry[]>();
  // The kernel's own context builder with a neutral own context: the members decisions carry, with
  // the values of an ordinary day.
  const context = (phase: DecisionPhase, env: string | null): Record<string, unknown> => cedarContext(NO_MEMBERS, neutralOwnContext(phase, now, env), NO_MEMBERS);

  const ask = (principal: CedarEntityJson[], identity: IdentityFacts): ReachEntry[] => {
    const set = model.set;
    if (!set) return [];
    const out: ReachEntry[] = [];
    const pRef = principal[0]!.uid;
    for (const action of model.actions) {
      const aRef = { type: 'Action', id: action };
      for (const type of model.issueTypes) {
        for (const aud of model.audiences) {
          const res = { type, id: aud };
          const r = evaluate(set, {
            principal: pRef,
            action: aRef,
            resource: res,
            context: context('issue', identity.environment),
            entities: [...principal, { uid: res, attrs: {}, parents: [] }],
          });
          if (r.decision === 'allow') out.push({ action, resource_type: type, audience: aud, via: r.policies[0] ?? 'policy', phase: 'issue', policies: r.policies });
        }
      }
      for (const [type, candidates] of model.resources) {
        for (const c of candidates) {
          const r = evaluate(set, {
            principal: pRef,
            action: aRef,
            resource: { type: c.type, id: c.id },
            context: context('request', identity.environment),
            entities: [...principal, ...c.entities],
          });
          if (r.decision !== 'allow') continue;
          const auds = model.audiencesByType.get(type);
          for (const audience of auds && auds.size > 0 ? [...auds] : [null]) {
            out.push({ action, resource_type: type, audience, via: r.policies[0] ?? 'policy', phase: 'request', policies: r.policies });
          }
          break; // one permitted resource of the type is enough to reach the type
        }
      }
    }
    return out;
  };

  return (identity, delegated = []) => {
    const principal = principalEntities(identity, model.entities);
    const key = model.namedPrincipals.has(identity.id) ? `id\u0000${identity.id}` : JSON.stringify([principal[0]!.attrs, principal.slice(1).map((e) => refKey(e.uid))]);
    let entries = cache.get(key);
    if (!entries) cache.set(key, (entries = ask(principal, identity)));
    const seen = new Set(entries.map(tripleKey));
    const out = [...entries];
    for (const d of delegated) {
      const e: ReachEntry = { action: d.action, resource_type: 'delegated', audience: d.audience, via: 'delegation', phase: 'delegation', policies: [] };
      if (!seen.has(tripleKey(e))) {
        seen.add(tripleKey(e));
        out.push(e);
      }
    }
    return out.sort((a, b) => a.action.localeCompare(b.action) || a.resource_type.localeCompare(b.resource_type) || String(a.audience).localeCompare(String(b.audience)));
  };
}

/** The report's view of an entry: contract fields plus the phase. */
export function toBlastRadiusEntry(e: ReachEntry): BlastRadiusEntry & { phase: string } {
  return { action: e.action, resource_type: e.resource_type, audience: e.audience, via: e.via, phase: e.phase };
}

function tripleKey(e: BlastRadiusEntry): string {
  return `${e.action}\u0000${e.resource_type}\u0000${e.audience ?? ''}`;
}

/**
 * `Identity::"id"` as the PDP builds it (inventory/identity-cache.ts): free-form attributes, then the
 * inventory's own fields, which win; absent fields left out (Cedar has no null). Attributes and
 * parents from the entities document come first of all.
 */
function principalEntities(identity: IdentityFacts, index: AccessModel['entities']): CedarEntityJson[] {
  const ref = { type: 'Identity', id: identity.id };
  const [doc, ...ancestors] = withAncestors(ref, index);
  const attrs: Record<string, CedarJsonValue> = { ...(doc?.attrs ?? {}) };
  if (identity.attributes) {
    try {
      Object.assign(attrs, toCedarRecord(identity.attributes, `identity ${identity.id} attributes`));
    } catch {
      /* left out, as the PDP does */
    }
  }
  attrs.kind = identity.kind;
  attrs.status = identity.status;
  if (identity.owner) attrs.owner = identity.owner;
  if (identity.purpose) attrs.purpose = identity.purpose;
  if (identity.environment) attrs.environment = identity.environment;
  if (identity.review_by) attrs.review_by = identity.review_by.toISOString();
  if (identity.discovered_by) attrs.discovered_by = identity.discovered_by;
  attrs.labels = { ...identity.labels };
  return [{ uid: ref, attrs, parents: doc?.parents ?? [] }, ...ancestors];
}
