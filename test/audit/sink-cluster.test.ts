/**
 * Two brokers on one PostgreSQL database with the same sink: a lease row per sink makes exactly one
 * of them export (no event is sent twice by two exporters), and the other takes over when it stops.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createTestDb } from '../helpers/stores.js';
import { applyPermitAll, decisions, ndjsonReceiver } from './fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function caughtUp(b: RunningBroker, seqs: number[]) {
  for (let i = 0; i < 300; i++) {
    const head = Number((await b.broker.store.query<{ seq: number }>('SELECT seq FROM audit_head')).rows[0]!.seq);
    if (new Set(seqs).size === head) return head;
    await sleep(100);
  }
  throw new Error(`sink did not catch up: ${new Set(seqs).size}`);
}

describe('export in a cluster', () => {
  test('one exporter per sink across two instances; the other takes over when it stops', async () => {
    const db = await createTestDb('pg');
    const seqs: number[] = [];
    const rx = await ndjsonReceiver(0, seqs, 200);
    const overrides = { auditSinks: [`http://127.0.0.1:${(rx.address() as AddressInfo).port}/x`], checkpointEvery: 50, checkpointInterval: 0.3 };
    const a = await startBroker('pg', overrides, { db });
    const b = await startBroker('pg', overrides, { db });
    try {
      await applyPermitAll(a);
      await sleep(300); // b learns the policy by notification
      await Promise.all([decisions(a, 150), decisions(b, 150)]);
      const head = await caughtUp(a, seqs);
      assert.equal(seqs.length, head, 'no event was sent by two exporters');
      const st = [(await a.admin('GET', '/admin/v1/audit/sinks')).body.sinks[0], (await b.admin('GET', '/admin/v1/audit/sinks')).body.sinks[0]];
      assert.equal(st.filter((s) => s.exporting).length, 1, JSON.stringify(st));
      const cps = (await a.admin('GET', '/admin/v1/audit/checkpoints')).body.checkpoints as Array<{ instance: string }>;
      assert.ok(cps.length >= 2);
      assert.equal(new Set(cps.map((c) => c.instance)).size, 1, 'one instance signs the checkpoints');

      // The exporter stops (its lease is released); the other one continues from the stored cursor.
      const [gone, stays] = st[0].exporting ? [a, b] : [b, a];
      await gone.stop();
      assert.deepEqual([...new Set(await decisions(stays, 100))], [200]);
      const head2 = await caughtUp(stays, seqs);
      assert.ok(head2 > head);
      assert.equal(new Set(seqs).size, head2);
      let max = 0;
      for (const s of seqs) {
        assert.ok(s <= max + 1, `seq ${s} before ${max + 1}`);
        max = Math.max(max, s);
      }
    } finally {
      await a.stop().catch(() => {});
      await b.stop().catch(() => {});
      await new Promise<void>((r) => rx.close(() => r()));
      await db.drop();
    }
  });
});
