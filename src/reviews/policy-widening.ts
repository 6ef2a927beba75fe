/**
 * Which identities a policy change widened: the blast radius (posture/blast-radius.ts) of every
 * active identity under the old and the new set, over the same known actions and resources, and
 * whatever the new set reaches that the old did not. Identities share answers by class, so this
 * costs about as much as one posture report's blast radii, and runs once per activation cluster-wide.
 */
import { iterateIdentities } from '../posture/analyze.js';
import { buildAccessModel, loadEntitiesDoc, loadRouteFacts, type AccessModel, type PolicySource, type SeenInUse } from '../posture/access-model.js';
import { createBlastRadius } from '../posture/blast-radius.js';
import type { Queryable } from '../store/index.js';

export interface Widening {
  identity: string;
  added: Array<{ action: string; resource_type: string; audience: string | null }>;
}

export async function findWidenings(db: Queryable, before: PolicySource | null, after: PolicySource, now: Date): Promise<Widening[]> {
  const [entities, routes] = await Promise.all([loadEntitiesDoc(db), loadRouteFacts(db)]);
  const empty: SeenInUse = { actions: [], audiences: [], resources: new Map(), issueTypes: [] };
  // First pass learns each set's actions; the second asks both sets about the union of them.
  const probeOld = buildAccessModel(before, entities, routes, empty);
  const probeNew = buildAccessModel(after, entities, routes, empty);
  const seen: SeenInUse = { ...empty, actions: new Set([...probeOld.actions, ...probeNew.actions]) };
  probeOld.dispose();
  probeNew.dispose();
  const models: AccessModel[] = [];
  try {
    const oldModel = buildAccessModel(before, entities, routes, seen);
    models.push(oldModel);
    const newModel = buildAccessModel(after, entities, routes, seen);
    models.push(newModel);
    const reachOld = createBlastRadius(oldModel, now);
    const reachNew = createBlastRadius(newModel, now);
    const key = (e: { action: string; resource_type: string; audience: string | null }) => `${e.action}\u0000${e.resource_type}\u0000${e.audience ?? ''}`;
    const out: Widening[] = [];
    for await (const row of iterateIdentities(db)) {
      if (row.status !== 'active' && row.status !== 'unowned') continue;
      const had = new Set(reachOld(row).map(key));
      const added = reachNew(row)
        .filter((e) => !had.has(key(e)))
        .map((e) => ({ action: e.action, resource_type: e.resource_type, audience: e.audience }));
      if (added.length > 0) out.push({ identity: row.id, added });
    }
    return out;
  } finally {
    for (const m of models) m.dispose();
  }
}
