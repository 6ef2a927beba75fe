/**
 * Retention: archive and prune 100k events in sealed segments (events + the checkpoint that covers
 * them), then verify the whole history from the archives plus what is left in the database.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startBroker } from '../helpers/broker.js';
import { runCliAsync } from '../helpers/process.js';
import { createTestDb } from '../helpers/stores.js';

const MASTER = Buffer.alloc(32, 7).toString('base64url');
const TOTAL = 100_000;

describe('audit archive --prune', () => {
  test('100k events archived in two sealed segments and pruned; archives + database verify end to end', async () => {
    const db = await createTestDb('pg');
    const cpDir = mkdtempSync(join(tmpdir(), 'tether-arch-cp-'));
    const out = mkdtempSync(join(tmpdir(), 'tether-arch-'));
    const b = await startBroker('pg', { checkpointDir: cpDir, checkpointEvery: 10_000, checkpointInterval: 1 }, { db });
    try {
      for (let i = 0; i < TOTAL; i += 2000) {
        await Promise.all(Array.from({ length: 2000 }, (_, k) => b.broker.audit.append({ type: 'decision', identity: `ci/x${k % 7}`, data: { entry: 'authzen', phase: 'request', n: i + k, decision: 'allow' } })));
      }
    } finally {
      await b.stop();
    }
    try {
      const env = { TETHER_MASTER_KEY: MASTER };
      const store = ['--database-url', db.databaseUrl!];
      const a1 = await runCliAsync(['audit', 'archive', ...store, '--before', '40001', '--out', out, '--prune'], env);
      assert.equal(a1.code, 0, a1.stdout + a1.stderr);
      const a2 = await runCliAsync(['audit', 'archive', ...store, '--before', '95001', '--out', out, '--prune'], env);
      assert.equal(a2.code, 0, a2.stdout + a2.stderr);
      const seals = readdirSync(out).filter((f) => f.endsWith('.seal.json')).sort();
      assert.equal(seals.length, 2);
      const last = JSON.parse(readFileSync(join(out, seals[1]!), 'utf8')) as { to: number; from: number };
      assert.ok(last.to > 80_000 && last.to <= 95_000, `sealed up to a checkpoint: ${last.to}`);

      const s = await db.open();
      const left = Number((await s.query<{ n: number }>('SELECT count(*)::int AS n, min(seq) AS m FROM audit_events')).rows[0]!.n);
      const min = Number((await s.query<{ m: number }>('SELECT min(seq) AS m FROM audit_events')).rows[0]!.m);
      await s.close();
      assert.equal(min, last.to + 1, 'pruned exactly what the checkpoints sealed');
      assert.ok(left < TOTAL - 80_000);

      // The database alone verifies from its archive anchor, and says what it does not cover.
      const dbOnly = await runCliAsync(['audit', 'verify', ...store], env);
      assert.equal(dbOnly.code, 0, dbOnly.stdout + dbOnly.stderr);
      assert.match(dbOnly.stdout, new RegExp(`from the archive anchor at seq ${last.to}`));

      const whole = await runCliAsync(['audit', 'verify', ...store, '--archive', out, '--checkpoint', cpDir, '--json'], env);
      assert.equal(whole.code, 0, whole.stdout + whole.stderr);
      const r = JSON.parse(whole.stdout) as { ok: boolean; events: number; head: { seq: number }; archive: { segments: number } };
      // + the two audit.archived events the prunes recorded
      assert.ok(r.head.seq >= TOTAL + 2, `every event: ${r.head.seq}`);
      assert.equal(r.events, r.head.seq);
      assert.equal(r.archive.segments, 2);

      // An archived event altered afterwards is found, naming its seq.
      const seg = join(out, JSON.parse(readFileSync(join(out, seals[0]!), 'utf8')).file as string);
      chmodSync(seg, 0o600);
      const lines = readFileSync(seg, 'utf8').split('\n');
      lines[1233] = lines[1233]!.replace('"allow"', '"deny"');
      writeFileSync(seg, lines.join('\n'));
      const bad = await runCliAsync(['audit', 'verify', ...store, '--archive', out, '--checkpoint', cpDir], env);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /BROKEN at seq 1234:/);
    } finally {
      await db.drop();
    }
  });
});
