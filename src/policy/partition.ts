/**
 * Split a policy set by the action each policy's scope names, so one decision hands Cedar only the
 * policies that can apply to its action (DESIGN.md "Performance budget"). A policy whose scope names
 * no action (`action`, or a test inside `when`) goes into every partition. `action in G` reaches G and
 * every action known to be below G. Evaluating a partition gives the same answer as the whole set:
 * the policies left out have an action scope that is false for this action, so they are not satisfied
 * and cannot error (scope is checked before conditions).
 */
import { descendants, refKey, type ActionHierarchy } from './action-hierarchy.js';
import type { ParsedPolicy } from './split-policies.js';

export interface Partitions {
  /** Action key → the ids of the policies that can apply to it. */
  readonly byAction: ReadonlyMap<string, readonly string[]>;
  /** For actions no policy names: the unconstrained policies only. */
  readonly others: readonly string[];
}

export function partitionByAction(policies: readonly ParsedPolicy[], hierarchy: ActionHierarchy): Partitions {
  const everywhere: string[] = [];
  const specific = new Map<string, Set<string>>();
  const addTo = (key: string, id: string): void => {
    const set = specific.get(key) ?? new Set<string>();
    set.add(id);
    specific.set(key, set);
  };
  for (const p of policies) {
    const scope = p.actionScope;
    if (scope.kind === 'all') everywhere.push(p.id);
    else if (scope.kind === 'eq') addTo(refKey(scope.action), p.id);
    else {
      for (const group of scope.actions) {
        addTo(refKey(group), p.id);
        for (const below of descendants(hierarchy, group)) addTo(refKey(below), p.id);
      }
    }
  }
  // Keep the source order inside each partition: decisions do not depend on it, error lists read better.
  const order = new Map(policies.map((p, i) => [p.id, i]));
  const byAction = new Map<string, string[]>();
  for (const [key, ids] of specific) {
    const all = [...new Set([...ids, ...everywhere])];
    all.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    byAction.set(key, all);
  }
  return { byAction, others: everywhere };
}
