/**
 * A new instance starts with baselines: it learns from the audited decisions and issuances of the
 * last 14 days, in the background, before judging live traffic. Here: traffic on one broker, then a
 * second broker on the same store (PGlite) learns it at start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker.js';
import { createTestDb } from '../helpers/stores.js';
import { client, createDpopKey, eventually, ID, setupOrders } from './fixture.js';

test('a restarted broker learns the audited history into its baselines', async () => {
  const db = await createTestDb('pglite');
  try {
    const first = await startBroker('pglite', {}, { db });
    const gha = await setupOrders((m, p, b) => first.admin(m, p, b));
    const c = client(first.url, first.url, gha);
    const key = await createDpopKey();
    const x = await c.exchange(key, { scope: 'orders:read orders:list' });
    assert.equal(x.status, 200, JSON.stringify(x.body));
    for (let i = 0; i < 5; i++) assert.equal(await c.call(x.token!, key, 'GET', `/orders/${i}`), 200);
    assert.equal(await c.call(x.token!, key, 'GET', '/orders'), 200);
    await first.stop();

    const second = await startBroker('pglite', {}, { db });
    try {
      const st = await eventually(async () => {
        const s = (await second.admin('GET', '/admin/v1/detection')).body as { history: { state: string; events: number } };
        return s.history.state === 'done' ? s : undefined;
      });
      // Two issue events (one per scope) and six request decisions.
      assert.equal(st.history.events, 8);
      const b = (await second.admin('GET', `/admin/v1/detection/baselines/${encodeURIComponent(ID)}`)).body as { events: number; actions: Array<[string, number]>; tokens: unknown[] };
      assert.equal(b.events, 8);
      assert.deepEqual(b.actions.map((a) => a[0]).sort(), ['orders:list', 'orders:read']);
      assert.equal(b.tokens.length, 1);
    } finally {
      await second.stop();
    }
  } finally {
    await db.drop();
  }
});
