/**
 * Action groups (`action in Action::"readOnly"`), known at compile time from the schema's `memberOf`
 * and from the action entities given to compilePolicySet. Evaluation runs without a schema, so Cedar
 * only sees a group membership when the action entities are in the request: the engine adds the
 * requested action's chain itself, and partitions by it.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { invalidRequest } from '../errors.js';
import type { CedarEntityJson, EntityRef } from './types.js';
import { refuseDeepText, refuseManyCommonTypes } from './nesting.js';

/** Stable map key of an entity ref: `Type::"id"`, Cedar's own spelling. */
export function refKey(ref: EntityRef): string {
  return `${ref.type}::${JSON.stringify(ref.id)}`;
}

/** `Action` or `NS::Action`: the types Cedar uses for actions. */
export function isActionType(type: string): boolean {
  return type === 'Action' || type.endsWith('::Action');
}

export interface ActionHierarchy {
  /** Every action that has parents, keyed by refKey, with its direct parents. */
  readonly parents: ReadonlyMap<string, { readonly ref: EntityRef; readonly parents: readonly EntityRef[] }>;
}

export function buildActionHierarchy(
  entities: readonly CedarEntityJson[] | undefined,
  schema: string | undefined,
): ActionHierarchy {
  const parents = new Map<string, { ref: EntityRef; parents: EntityRef[] }>();
  const add = (ref: EntityRef, parent: EntityRef): void => {
    const key = refKey(ref);
    const entry = parents.get(key) ?? { ref: { type: ref.type, id: ref.id }, parents: [] };
    if (!entry.parents.some((p) => refKey(p) === refKey(parent))) entry.parents.push({ type: parent.type, id: parent.id });
    parents.set(key, entry);
  };
  if (schema !== undefined) {
    refuseDeepText(schema, 'schema');
    refuseManyCommonTypes(schema, 'schema');
    const json = cedar.schemaToJson(schema);
    // Unparsable schemas were refused by validation before we get here.
    if (json.type === 'success') {
      for (const [ns, def] of Object.entries(json.json)) {
        const actionType = ns === '' ? 'Action' : `${ns}::Action`;
        for (const [id, action] of Object.entries(def.actions)) {
          for (const m of action.memberOf ?? []) add({ type: actionType, id }, { type: m.type ?? actionType, id: m.id });
        }
      }
    }
  }
  for (const e of entities ?? []) {
    if (!isActionType(e.uid.type)) {
      throw invalidRequest(
        `entities: only action entities may be compiled with a policy set, got ${refKey(e.uid)}; pass principal and resource entities per decision`,
      );
    }
    for (const p of e.parents) add(e.uid, p);
  }
  return { parents };
}

/** The action itself and all its ancestors, as Cedar entities (empty when it has no parents). */
export function actionChain(hierarchy: ActionHierarchy, action: EntityRef): CedarEntityJson[] {
  const chain: CedarEntityJson[] = [];
  const seen = new Set<string>();
  const stack: EntityRef[] = [action];
  while (stack.length > 0) {
    const ref = stack.pop() as EntityRef;
    const key = refKey(ref);
    if (seen.has(key)) continue; // a cycle, or a diamond: each entity once
    seen.add(key);
    const entry = hierarchy.parents.get(key);
    if (entry === undefined) {
      if (chain.length > 0) chain.push({ uid: ref, attrs: {}, parents: [] });
      continue;
    }
    chain.push({ uid: entry.ref, attrs: {}, parents: entry.parents });
    stack.push(...entry.parents);
  }
  return chain;
}

/** Every known action below `group` (not `group` itself). */
export function descendants(hierarchy: ActionHierarchy, group: EntityRef): EntityRef[] {
  const children = new Map<string, EntityRef[]>();
  for (const { ref, parents } of hierarchy.parents.values()) {
    for (const p of parents) {
      const list = children.get(refKey(p)) ?? [];
      list.push(ref);
      children.set(refKey(p), list);
    }
  }
  const out: EntityRef[] = [];
  const seen = new Set<string>([refKey(group)]);
  const stack = [...(children.get(refKey(group)) ?? [])];
  while (stack.length > 0) {
    const ref = stack.pop() as EntityRef;
    if (seen.has(refKey(ref))) continue;
    seen.add(refKey(ref));
    out.push(ref);
    stack.push(...(children.get(refKey(ref)) ?? []));
  }
  return out;
}
