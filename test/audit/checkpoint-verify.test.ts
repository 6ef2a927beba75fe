/**
 * Signed checkpoints against the database's own operator: a consistent rewrite after deleting events,
 * or a cut tail with the head row moved, passes the table-only check but not `verify --checkpoint`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { canonicalJson } from '../../src/audit/canonical-json.js';
import { chainHash, GENESIS_HASH } from '../../src/audit/chain.js';
import { startBroker } from '../helpers/broker.js';
import { runCliAsync } from '../helpers/process.js';
import { createTestDb, PG_ADMIN_URL, type TestDb } from '../helpers/stores.js';
import { applyPermitAll, decisions } from './fixture.js';

const MASTER = Buffer.alloc(32, 7).toString('base64url'); // the test brokers' master key (helpers/broker.ts)

/** Runs a broker with checkpoints every 25 events into a directory, makes ~300 events, stops it. */
async function anchoredChain(db: TestDb, n = 300) {
  const cpDir = mkdtempSync(join(tmpdir(), 'tether-cp-'));
  const b = await startBroker(db.kind, { checkpointDir: cpDir, checkpointEvery: 25, checkpointInterval: 0.2 }, { db });
  try {
    await applyPermitAll(b);
    const st = await decisions(b, n);
    assert.ok(st.every((s) => s === 200));
    const keys = await fetch(b.url + '/.well-known/tether-audit-keys');
    assert.equal(keys.status, 200);
    const jwks = (await keys.json()) as { keys: Array<{ kty: string; crv: string; x: string; d?: string }> };
    assert.equal(jwks.keys[0]!.crv, 'Ed25519');
    assert.equal(jwks.keys[0]!.d, undefined);
    await new Promise((r) => setTimeout(r, 600)); // one interval: the checkpointer catches up with the head
    const latest = await b.admin('GET', '/admin/v1/audit/checkpoint');
    assert.equal(latest.status, 200);
    assert.ok(latest.body.checkpoint.seq > n - 50, JSON.stringify(latest.body));
    assert.match(latest.body.checkpoint.jws, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const pkFile = join(cpDir, '..', `pk-${Date.now()}.json`);
    writeFileSync(pkFile, JSON.stringify(jwks));
    return { cpDir, pkFile, jwks };
  } finally {
    await b.stop(); // signs a final checkpoint of the head
  }
}

const anchors = (cpDir: string) =>
  readdirSync(cpDir)
    .flatMap((f) => readFileSync(join(cpDir, f), 'utf8').trim().split('\n'))
    .map((l) => JSON.parse(l) as { seq: number; hash: string })
    .sort((a, b) => a.seq - b.seq);

/** As an insider with write access would: delete `seqs`, renumber and re-hash everything after, move the head. */
async function rewriteWithout(url: string, from: number, count: number) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    const prev = (await c.query<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = $1', [from - 1])).rows[0]?.hash ?? GENESIS_HASH;
    const rest = (await c.query<{ seq: string; body: string }>('SELECT seq, body FROM audit_events WHERE seq >= $1 ORDER BY seq', [from + count])).rows;
    await c.query('DELETE FROM audit_events WHERE seq >= $1', [from]);
    let p = prev;
    let seq = from - 1;
    for (const r of rest) {
      seq++;
      const body = canonicalJson({ ...(JSON.parse(r.body) as object), seq });
      const h = chainHash(p, body);
      const o = JSON.parse(body) as { ts: string; type: string; identity: string | null };
      await c.query('INSERT INTO audit_events (seq, ts, type, identity, body, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7)', [seq, o.ts, o.type, o.identity, body, p, h]);
      p = h;
    }
    await c.query('UPDATE audit_head SET seq = $1, hash = $2', [seq, p]);
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

async function cutTail(url: string, n: number) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const head = Number((await c.query<{ seq: string }>('SELECT seq FROM audit_head')).rows[0]!.seq);
    await c.query('DELETE FROM audit_events WHERE seq > $1', [head - n]);
    const last = (await c.query<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = $1', [head - n])).rows[0]!;
    await c.query('UPDATE audit_head SET seq = $1, hash = $2', [head - n, last.hash]);
    return head;
  } finally {
    await c.end();
  }
}

/** A copy of a test database (CREATE DATABASE … TEMPLATE), so each tampering starts from the same chain. */
async function copyDb(url: string): Promise<{ url: string; drop(): Promise<void> }> {
  const src = new URL(url).pathname.slice(1);
  const name = `${src}_c${Math.floor(Math.random() * 1e6)}`;
  const a = new pg.Client({ connectionString: PG_ADMIN_URL });
  await a.connect();
  await a.query(`CREATE DATABASE ${name} TEMPLATE ${src}`);
  await a.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const d = new pg.Client({ connectionString: PG_ADMIN_URL });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}

const verify = (store: string[], extra: string[]) => runCliAsync(['audit', 'verify', ...store, ...extra], { TETHER_MASTER_KEY: MASTER });

describe('verify --checkpoint on PostgreSQL', () => {
  test('untouched → 0; three middle events deleted and re-chained → 1 naming the seq; last 20 deleted with the head row → 1', async () => {
    const db = await createTestDb('pg');
    try {
      const { cpDir, pkFile } = await anchoredChain(db);
      const cps = anchors(cpDir);
      const head = cps[cps.length - 1]!;
      const cli = ['--checkpoint', cpDir, '--public-key', pkFile];

      const plain = await verify(['--database-url', db.databaseUrl!], []);
      assert.equal(plain.code, 0, plain.stdout + plain.stderr);
      assert.match(plain.stdout, /internal consistency only/);
      const ok = await verify(['--database-url', db.databaseUrl!], cli);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, new RegExp(`anchored: ${cps.length} signed checkpoints verified .*latest at seq ${head.seq}`));

      // The evidence bundle carries the checkpoints and a verify command that works on the bundle alone.
      const ev = mkdtempSync(join(tmpdir(), 'tether-ev-'));
      const e = await runCliAsync(['evidence', '--database-url', db.databaseUrl!, '--out', ev], { TETHER_MASTER_KEY: MASTER });
      assert.equal(e.code, 0, e.stdout + e.stderr);
      const headJson = JSON.parse(readFileSync(join(ev, 'chain-head.json'), 'utf8')) as { verify_command: string; checkpoints: { count: number } };
      assert.equal(headJson.checkpoints.count, cps.length);
      assert.match(headJson.verify_command, /^tether audit verify --events audit\.jsonl --checkpoint checkpoints\.jsonl --public-key audit-public-key\.json/);
      const args = headJson.verify_command.split('#')[0]!.trim().split(/\s+/).slice(1).map((a) => (a.endsWith('.jsonl') || a.endsWith('.json') ? join(ev, a) : a));
      const ve = await runCliAsync(args, {});
      assert.equal(ve.code, 0, ve.stdout + ve.stderr);
      assert.match(ve.stdout, /anchored: \d+ signed checkpoints verified/);

      const pk = await runCliAsync(['audit', 'public-key'], { TETHER_MASTER_KEY: MASTER });
      assert.deepEqual(JSON.parse(pk.stdout), JSON.parse(readFileSync(pkFile, 'utf8')));

      // 1. Delete seqs 100..102, renumber and re-hash the rest, move the head: the table alone says intact.
      const a = await copyDb(db.databaseUrl!);
      try {
        await rewriteWithout(a.url, 100, 3);
        assert.equal((await verify(['--database-url', a.url], [])).code, 0, 'a consistent rewrite passes the table-only check');
        const r = await verify(['--database-url', a.url], cli);
        assert.equal(r.code, 1, r.stdout);
        const hit = cps.find((c) => c.seq >= 100)!;
        const before = [...cps].reverse().find((c) => c.seq < 100)!;
        assert.match(r.stdout, new RegExp(`BROKEN at seq ${hit.seq}: the stored chain differs from the checkpoint .* rewritten in seqs ${before.seq + 1}\\.\\.${hit.seq}`));
      } finally {
        await a.drop();
      }

      // 2. Delete the last 20 events and move the head row back.
      const t = await copyDb(db.databaseUrl!);
      try {
        const h = await cutTail(t.url, 20);
        assert.equal(h, head.seq, 'the final checkpoint covers the head');
        assert.equal((await verify(['--database-url', t.url], [])).code, 0);
        const r = await verify(['--database-url', t.url], cli);
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stdout, new RegExp(`BROKEN at seq ${h - 19}: the chain ends at seq ${h - 20} but the checkpoint .* is at seq \\d+: events ${h - 19}\\.\\.\\d+ were removed`));
      } finally {
        await t.drop();
      }

      // 3. A checkpoint whose clear hash was edited, or one signed by another key, fails verification.
      const forged = mkdtempSync(join(tmpdir(), 'tether-cp-forged-'));
      const line = readFileSync(join(cpDir, readdirSync(cpDir)[0]!), 'utf8').split('\n')[0]!;
      writeFileSync(join(forged, 'checkpoints-x.jsonl'), JSON.stringify({ ...JSON.parse(line), hash: 'f'.repeat(64) }) + '\n');
      const f = await verify(['--database-url', db.databaseUrl!], ['--checkpoint', forged, '--public-key', pkFile]);
      assert.equal(f.code, 1);
      assert.match(f.stdout, /clear hash differs from the signed one/);
      const other = await verify(['--database-url', db.databaseUrl!], ['--checkpoint', cpDir, '--public-key', JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })]);
      assert.equal(other.code, 1);
      assert.match(other.stdout, /not among the given public keys/);
    } finally {
      await db.drop();
    }
  });
});

describe('verify --checkpoint on PGlite', () => {
  test('untouched → 0; tail cut with the head moved → 1', async () => {
    const db = await createTestDb('pglite');
    try {
      const { cpDir, pkFile } = await anchoredChain(db, 100);
      const cli = ['--checkpoint', cpDir, '--public-key', pkFile];
      const ok = await verify(['--data-dir', db.dataDir!], cli);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const store = await db.open();
      const head = Number((await store.query<{ seq: number }>('SELECT seq FROM audit_head')).rows[0]!.seq);
      await store.query('DELETE FROM audit_events WHERE seq > $1', [head - 5]);
      await store.query('UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_events WHERE seq = $1)', [head - 5]);
      await store.close();
      const r = await verify(['--data-dir', db.dataDir!], cli);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stdout, new RegExp(`BROKEN at seq ${head - 4}:`));
    } finally {
      await db.drop();
    }
  });
});
