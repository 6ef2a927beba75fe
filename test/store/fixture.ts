import { after, before } from 'node:test';
import type { Store } from '../../src/store/index.js';
import { createTestDb, type TestDb } from '../helpers/stores.js';

/** A fresh store of the given kind for the enclosing describe: opened before, closed and dropped after. */
export function useTestStore(kind: 'pg' | 'pglite', setup?: (store: Store) => Promise<void>): { readonly store: Store } {
  let db: TestDb;
  const holder = {} as { store: Store };
  before(async () => {
    db = await createTestDb(kind);
    holder.store = await db.open();
    if (setup) await setup(holder.store);
  });
  after(async () => {
    await holder.store?.close();
    await db?.drop();
  });
  return holder;
}
