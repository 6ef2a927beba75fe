import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAuditWriter, listAuditEvents, verifyChain, type RawAuditInput } from '../../src/audit/index.js';
import { TetherError } from '../../src/errors.js';
import { migrate, notifyChange, CHANGES_CHANNEL, MIGRATIONS, type Store } from '../../src/store/index.js';
import { createTestDb, STORE_KINDS, type TestDb } from '../helpers/stores.js';

for (const kind of STORE_KINDS) {
  describe(`store + audit on ${kind}`, () => {
    let db: TestDb;
    let store: Store;
    before(async () => {
      db = await createTestDb(kind);
      store = await db.open();
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    test('migrations are applied once and are idempotent', async () => {
      assert.equal(await migrate(store), 0);
      const r = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(r.rows[0]!.n, MIGRATIONS.length);
    });

    test('a transaction that throws is rolled back', async () => {
      await assert.rejects(
        store.tx(async (q) => {
          await q.query("INSERT INTO settings (key, value) VALUES ('rollback-me', '1')");
          throw new Error('boom');
        }),
        /boom/,
      );
      const r = await store.query("SELECT 1 FROM settings WHERE key = 'rollback-me'");
      assert.equal(r.rows.length, 0);
    });

    test('notifications sent in a transaction arrive at commit', async () => {
      const got: string[] = [];
      const stop = await store.listen(CHANGES_CHANNEL, { onMessage: (p) => got.push(p), onReconnect: () => {} });
      await store.tx((q) => notifyChange(q, { kind: 'routes' }));
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await stop();
      assert.deepEqual(got.map((p) => JSON.parse(p)), [{ kind: 'routes' }]);
    });

    test('concurrent appends are group-committed into one chain that verifies', async () => {
      const commits: number[] = [];
      const w = createAuditWriter<RawAuditInput>(store, { onCommit: (n) => commits.push(n) });
      const recs = await Promise.all(Array.from({ length: 500 }, (_, i) => w.append({ type: 'test.event', identity: `id-${i % 7}`, data: { i } })));
      const seqs = recs.map((r) => r.seq);
      assert.equal(new Set(seqs).size, 500);
      assert.ok(commits.length < 50, `500 events took ${commits.length} commits; group commit should batch them`);
      assert.equal(commits.reduce((a, b) => a + b, 0), 500);
      const v = await verifyChain(store);
      assert.equal(v.ok, true, JSON.stringify(v.broken));
      assert.equal(v.events, 500);
      const page = await listAuditEvents(store, { after: 10, limit: 5, identity: 'id-3' });
      assert.ok(page.every((e) => e.identity === 'id-3' && e.seq > 10));
      assert.deepEqual(page.map((e) => e.seq), [...page.map((e) => e.seq)].sort((a, b) => a - b));
    });

    test('two writers (two instances of a cluster) and transact interleave into one chain', async () => {
      // PGlite serves one process: two writers on one store stand in for two instances there.
      const other = kind === 'pg' ? await db.open() : store;
      try {
        const w1 = createAuditWriter<RawAuditInput>(store);
        const w2 = createAuditWriter<RawAuditInput>(other);
        await Promise.all([
          ...Array.from({ length: 300 }, (_, i) => (i % 2 ? w1 : w2).append({ type: 'interleave', data: { i } })),
          ...Array.from({ length: 10 }, (_, i) => w1.transact(async (q, emit) => {
            await q.query('SELECT 1');
            emit({ type: 'interleave.tx', data: { i } });
          })),
        ]);
        const v = await verifyChain(store);
        assert.equal(v.ok, true, JSON.stringify(v.broken));
        assert.equal((await listAuditEvents(store, { type: 'interleave', limit: 1000 })).length, 300);
      } finally {
        if (kind === 'pg') await other.close();
      }
    });

    test('transact commits the change and its events together', async () => {
      const w = createAuditWriter<RawAuditInput>(store);
      await w.transact(async (q, emit) => {
        await q.query("INSERT INTO settings (key, value) VALUES ('together', '1')");
        emit({ type: 'setting.changed', data: { key: 'together' } });
      });
      const ev = await listAuditEvents(store, { type: 'setting.changed' });
      assert.equal(ev.length, 1);
      assert.equal((await verifyChain(store)).ok, true);
    });

    test('fail closed: when the audit insert fails, the operation does not happen (503)', async () => {
      await store.exec(`CREATE FUNCTION tether_test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit disk full'; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER tether_test_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION tether_test_fail();`);
      try {
        const w = createAuditWriter<RawAuditInput>(store);
        await assert.rejects(w.append({ type: 'x' }), (e: unknown) => e instanceof TetherError && e.status === 503);
        await assert.rejects(
          w.transact(async (q, emit) => {
            await q.query("INSERT INTO settings (key, value) VALUES ('must-not-exist', '1')");
            emit({ type: 'setting.changed' });
          }),
          (e: unknown) => e instanceof TetherError && e.code === 'unavailable',
        );
        assert.equal((await store.query("SELECT 1 FROM settings WHERE key = 'must-not-exist'")).rows.length, 0);
      } finally {
        await store.exec('DROP TRIGGER tether_test_fail ON audit_events; DROP FUNCTION tether_test_fail();');
      }
      assert.equal((await verifyChain(store)).ok, true);
    });

    test('verification names the first altered, removed or reordered event', async () => {
      const w = createAuditWriter<RawAuditInput>(store);
      for (let i = 0; i < 5; i++) await w.append({ type: 'tamper.target', data: { i } });
      const rows = (await listAuditEvents(store, { type: 'tamper.target' })).map((e) => e.seq);
      const [a, b, c] = rows as [number, number, number];

      // altered body
      const orig = (await store.query<{ body: string }>('SELECT body FROM audit_events WHERE seq = $1', [b])).rows[0]!.body;
      await store.query('UPDATE audit_events SET body = $2 WHERE seq = $1', [b, orig.replace('"i":1', '"i":9')]);
      let v = await verifyChain(store);
      assert.equal(v.ok, false);
      assert.equal(v.broken!.seq, b);
      await store.query('UPDATE audit_events SET body = $2 WHERE seq = $1', [b, orig]);
      assert.equal((await verifyChain(store)).ok, true);

      // altered indexed column
      await store.query("UPDATE audit_events SET type = 'benign' WHERE seq = $1", [a]);
      v = await verifyChain(store);
      assert.equal(v.broken!.seq, a);
      await store.query("UPDATE audit_events SET type = 'tamper.target' WHERE seq = $1", [a]);

      // reordered: swap two bodies and their hashes
      const two = (await store.query<{ seq: number; body: string; hash: string; prev_hash: string }>('SELECT seq, body, hash, prev_hash FROM audit_events WHERE seq IN ($1, $2) ORDER BY seq', [b, c])).rows;
      await store.query('UPDATE audit_events SET body = $2, hash = $3 WHERE seq = $1', [b, two[1]!.body, two[1]!.hash]);
      await store.query('UPDATE audit_events SET body = $2, hash = $3 WHERE seq = $1', [c, two[0]!.body, two[0]!.hash]);
      v = await verifyChain(store);
      assert.equal(v.broken!.seq, b);
      await store.query('UPDATE audit_events SET body = $2, hash = $3 WHERE seq = $1', [b, two[0]!.body, two[0]!.hash]);
      await store.query('UPDATE audit_events SET body = $2, hash = $3 WHERE seq = $1', [c, two[1]!.body, two[1]!.hash]);
      assert.equal((await verifyChain(store)).ok, true);

      // removed from the middle
      const saved = (await store.query<Record<string, unknown>>('SELECT * FROM audit_events WHERE seq = $1', [c])).rows[0]!;
      await store.query('DELETE FROM audit_events WHERE seq = $1', [c]);
      v = await verifyChain(store);
      assert.equal(v.broken!.seq, c);
      await store.query('INSERT INTO audit_events (seq, ts, type, identity, body, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7)', [saved.seq, saved.ts, saved.type, saved.identity, saved.body, saved.prev_hash, saved.hash]);
      assert.equal((await verifyChain(store)).ok, true);

      // removed from the end (truncation): the head no longer matches
      const last = rows[rows.length - 1]!;
      await store.query('DELETE FROM audit_events WHERE seq = $1', [last]);
      v = await verifyChain(store);
      assert.equal(v.ok, false);
      assert.equal(v.broken!.seq, last);
    });
  });
}
