import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createAuditWriter } from '../../src/audit/writer.js';
import type { RawAuditInput } from '../../src/audit/chain.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * The bound this test holds the embedded store to, independent of machine speed: under any load, a
 * transaction (an admin write) waits for at most the one statement running when it arrived, and no
 * statement is a group commit of more than 1,000 events. (Wall-clock figures under load:
 * bench/embedded-fair-share.bench.ts, p50 67 ms and max 0.25 s vs 109 ms and 0.9 s in arrival order.)
 */
async function withStore(scheduling: 'fair' | 'fifo', fn: (s: Store) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-fair-'));
  const store = await openStore({ dataDir: dir, embeddedScheduling: scheduling });
  try {
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Queues 30 statements and a group commit of 3,000 decisions, then an admin-style transaction; returns the order they finished in. */
async function contend(store: Store): Promise<{ order: string[]; groups: number[] }> {
  const groups: number[] = [];
  const audit = createAuditWriter<RawAuditInput>(store, { onCommit: (n) => groups.push(n) });
  const order: string[] = [];
  const appends = Array.from({ length: 3000 }, (_, i) => audit.append({ type: 'decision', identity: 'ci/acme/api', data: { decision: 'allow', i } }));
  const statements = Array.from({ length: 30 }, (_, i) => store.query('SELECT count(*) FROM identities WHERE id = $1', [`x/${i}`]).then(() => order.push(`statement ${i}`)));
  const tx = store
    .tx(async (q) => {
      await q.query("INSERT INTO identities (id, kind, status, created_at, updated_at) VALUES ('admin/1', 'service_account', 'active', now(), now())");
      await q.query('SELECT pg_notify($1, $2)', ['tether_changes', '{}']);
    })
    .then(() => order.push('tx'));
  await Promise.all([...appends, ...statements, tx]);
  return { order, groups };
}

describe('embedded store: fair share of its one connection', () => {
  test('a transaction waits for at most the statement running when it arrived, however many are queued; group commits hold at most 1,000 events', async () => {
    await withStore('fair', async (store) => {
      const { order, groups } = await contend(store);
      assert.ok(order.indexOf('tx') <= 1, `the transaction finished after ${order.indexOf('tx')} queued statements: ${order.slice(0, 5).join(', ')}`);
      assert.equal(groups.reduce((a, b) => a + b, 0), 3000);
      assert.ok(Math.max(...groups) <= 1000, `group sizes ${groups.join(', ')}`);
    });
  });

  test('baseline: in arrival order (PGlite alone) the same transaction waits for every statement queued before it', async () => {
    await withStore('fifo', async (store) => {
      const { order } = await contend(store);
      assert.equal(order.indexOf('tx'), 30);
    });
  });
});
