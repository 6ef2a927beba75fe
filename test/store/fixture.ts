import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Store } from '../../src/store/index.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
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

/**
 * A real broker for the enclosing describe, with one identity `svc/a` that may do anything: AuthZEN
 * evaluations about it are allowed and recorded. Started before, stopped after.
 */
export function useOpenBroker(kind: 'pg' | 'pglite'): { readonly b: RunningBroker } {
  const holder = {} as { b: RunningBroker };
  before(async () => {
    holder.b = await startBroker(kind);
    const r = await holder.b.admin('POST', '/admin/v1/apply', {
      identities: [{ id: 'svc/a', kind: 'service_account', owner: 'team' }],
      policies: { 'p.cedar': 'permit (principal == Identity::"svc/a", action, resource);' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await holder.b?.stop();
  });
  return holder;
}
