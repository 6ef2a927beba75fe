import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createIdentityCache } from '../../src/inventory/identity-cache.js';
import { useTestStore } from '../store/fixture.js';

describe('identity cache bounds (made-up subjects are the caller\'s choice)', () => {
  const s = useTestStore('pglite', async (store) => {
    for (const id of ['svc/a', 'svc/b', 'svc/c']) {
      await store.query("INSERT INTO identities (id, kind, status, created_at, updated_at) VALUES ($1, 'service_account', 'active', now(), now())", [id]);
    }
  });

  test('unknown ids are cached in their own smaller LRU and never push out known identities', async () => {
    const cache = createIdentityCache({ db: s.store, max: 3, unknownMax: 10 });
    for (const id of ['svc/a', 'svc/b', 'svc/c']) assert.equal((await cache.get(id))?.id, id);
    for (let i = 0; i < 200; i++) assert.equal(await cache.get(`made-up/${i}`), null);
    assert.equal(cache.size(), 3 + 10);
    // The known identities are still answered from memory; the newest unknown ones too.
    for (const id of ['svc/a', 'svc/b', 'svc/c']) assert.equal(cache.peek(id)?.id, id);
    assert.equal(cache.peek('made-up/199'), null);
    assert.equal(cache.peek('made-up/0'), undefined);
  });

  test('an identity created after its id was cached as unknown is seen once invalidated', async () => {
    const cache = createIdentityCache({ db: s.store, max: 3, unknownMax: 10 });
    assert.equal(await cache.get('svc/late'), null);
    await s.store.query("INSERT INTO identities (id, kind, status, created_at, updated_at) VALUES ('svc/late', 'service_account', 'active', now(), now())");
    assert.equal(cache.peek('svc/late'), null);
    cache.invalidate('svc/late');
    assert.equal((await cache.get('svc/late'))?.id, 'svc/late');
  });

  test('a change during a load keeps the stale read out of the cache', async () => {
    const cache = createIdentityCache({ db: s.store });
    const loading = cache.get('svc/a');
    cache.invalidate('svc/a');
    await loading;
    assert.equal(cache.peek('svc/a'), undefined);
  });
});
