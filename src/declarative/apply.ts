import { invalidRequest } from '../errors.js';
import type { AuditInput } from '../audit/index.js';
import type { Inventory } from '../inventory/identities.js';
import type { Queryable } from '../store/index.js';
import type { ApplyBundle } from './bundle.js';

/**
 * One section of a bundle (issuers, routes, policies, ...), applied inside the apply transaction.
 * Returns a line per change; an empty list means the section was already as declared. Under a
 * dry-run the transaction is rolled back at the end: a section records nothing outside it.
 */
export type ApplySection = (q: Queryable, emit: (e: AuditInput) => void, bundle: ApplyBundle, opts: { dryRun: boolean; actor: string }) => Promise<string[]>;

/** Identities: create what is missing, patch what differs, leave the rest (apply never deletes). */
export function identitiesSection(inventory: Pick<Inventory, 'createIn' | 'patchIn'>): ApplySection {
  return async (q, emit, bundle, opts) => {
    const changes: string[] = [];
    const ids = bundle.identities.map((i) => i.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup) throw invalidRequest(`identities: ${JSON.stringify(dup)} is declared twice`);
    const existing = new Set(
      (await q.query<{ id: string }>('SELECT id FROM identities WHERE id = ANY($1::text[])', [ids])).rows.map((r) => r.id),
    );
    for (const decl of bundle.identities) {
      if (!existing.has(decl.id)) {
        await inventory.createIn(q, emit, decl, opts.actor);
        changes.push(`identity ${decl.id} created`);
      } else {
        const { id, ...patch } = decl;
        const { changed } = await inventory.patchIn(q, emit, id, patch, opts.actor);
        if (changed.length) changes.push(`identity ${id} updated (${changed.join(', ')})`);
      }
    }
    return changes;
  };
}
