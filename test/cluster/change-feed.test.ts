import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createChangeFeed } from '../../src/cluster/index.js';
import type { ListenHandlers, Store } from '../../src/store/index.js';

/** A store whose notification connection the test can cut and restore (the feed is under test). */
function storeWithListener() {
  let handlers: ListenHandlers | null = null;
  let up = true;
  const store = {
    kind: 'pg',
    listen: async (_c: string, h: ListenHandlers) => {
      handlers = h;
      return async () => {};
    },
    listenerHealthy: () => up,
  } as unknown as Store;
  return {
    store,
    cut() {
      up = false;
      handlers!.onDisconnect?.(new Error('connection reset'), Date.now());
    },
    restore() {
      up = true;
      handlers!.onReconnect();
    },
    notify(payload: unknown) {
      handlers!.onMessage(JSON.stringify(payload));
    },
  };
}

test('the feed fails closed when notifications are down past the bound, and catches up from the tables on reconnect', async () => {
  const s = storeWithListener();
  let resyncs = 0;
  const seen: unknown[] = [];
  const feed = createChangeFeed(s.store, pino({ level: 'silent' }), { staleAfterMs: 50, resyncIntervalMs: 60000 });
  feed.onResync(async () => {
    resyncs++;
  });
  feed.on('revocation', (n) => void seen.push(n.value));
  await feed.start();
  assert.equal(resyncs, 1, 'state is read from the tables at start');
  assert.equal(feed.current(), true);

  s.notify({ kind: 'revocation', id: 1, rkind: 'jti', value: 'j1', at: 1 });
  assert.deepEqual(seen, ['j1']);

  s.cut();
  assert.equal(feed.current(), true, 'a short outage is tolerated');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(feed.current(), false, 'past the bound, callers must fail closed');

  s.restore();
  for (let i = 0; i < 50 && !feed.current(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(feed.current(), true);
  assert.equal(resyncs, 2, 'missed changes are re-read from the tables after the reconnect');
  await feed.stop();
});
