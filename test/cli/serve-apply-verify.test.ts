import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { REPO_ROOT } from '../helpers/repo.js';
import { runCli, spawnServe } from '../helpers/process.js';
import { createPgDatabase } from '../helpers/stores.js';

const TOKEN = 'cli-test-admin-token-0123456789';
const quickstart = join(REPO_ROOT, 'examples', 'quickstart');

async function adminGet(url: string, path: string, token = TOKEN) {
  const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('tether serve / apply / audit on the embedded store', () => {
  test('serve answers ops endpoints, apply is idempotent, data survives a restart, verify passes offline', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tether-cli-'));
    let s = await spawnServe(['--data-dir', dataDir], { TETHER_ADMIN_TOKEN: TOKEN });
    try {
      assert.equal((await fetch(s.url + '/healthz')).status, 200);
      assert.equal((await fetch(s.url + '/readyz')).status, 200);
      assert.match(await (await fetch(s.url + '/metrics')).text(), /tether_http_requests_total/);
      assert.equal((await adminGet(s.url, '/admin/v1/identities', 'wrong-token-wrong-token')).status, 401);

      const a1 = runCli(['apply', '-f', quickstart, '--url', s.url], { TETHER_ADMIN_TOKEN: TOKEN });
      assert.equal(a1.code, 0, a1.stderr);
      assert.match(a1.stdout, /identity ci\/acme\/api-deploy created/);
      const list = await adminGet(s.url, '/admin/v1/identities');
      assert.deepEqual(
        list.body.identities.map((i: { id: string; owner: string }) => [i.id, i.owner]),
        [['agent/support-triage', 'team-support'], ['ci/acme/api-deploy', 'team-payments'], ['k8s/orders/orders-api', 'team-orders']],
      );
      const auditBefore = await adminGet(s.url, '/admin/v1/audit?limit=10000');
      const a2 = runCli(['apply', '-f', quickstart, '--url', s.url], { TETHER_ADMIN_TOKEN: TOKEN });
      assert.equal(a2.code, 0, a2.stderr);
      assert.match(a2.stdout, /no changes/);
      assert.deepEqual((await adminGet(s.url, '/admin/v1/audit?limit=10000')).body, auditBefore.body);

      assert.equal(await s.stop(), 0, s.output());
      assert.match(s.output(), /shutting down/);
      s = await spawnServe(['--data-dir', dataDir], { TETHER_ADMIN_TOKEN: TOKEN });
      assert.equal((await adminGet(s.url, '/admin/v1/identities')).body.identities.length, 3);
    } finally {
      await s.stop();
    }
    const v = runCli(['audit', 'verify', '--data-dir', dataDir]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    // keys.created (first start), operator.auth_failed (the wrong token: failed admin authentications
    // are audited), three identity.created, config.applied
    assert.match(v.stdout, /intact: 6 events/);
    const ex = runCli(['audit', 'export', '--data-dir', dataDir]);
    assert.equal(ex.code, 0, ex.stderr);
    const lines = ex.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; hash: string });
    assert.deepEqual(lines.map((l) => l.seq), [1, 2, 3, 4, 5, 6]);
    assert.ok(ex.stdout.includes('"operator.auth_failed"') && !ex.stdout.includes('wrong-token-wrong-token'), 'the failure is audited, the presented secret is not');
    const oc = runCli(['audit', 'export', '--format', 'ocsf', '--data-dir', dataDir]);
    const ocsf = oc.stdout.trim().split('\n').map((l) => JSON.parse(l) as { class_uid: number; message: string; metadata: { tether_chain: { seq: number } } });
    const created = ocsf.find((e) => e.message === 'identity.created')!;
    assert.equal(created.class_uid, 3001);
    assert.equal(created.metadata.tether_chain.seq, 3);
  });

  test('first start without TETHER_ADMIN_TOKEN writes a working token to <data-dir>/admin-token, mode 0600, never to the log', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tether-cli-'));
    const s = await spawnServe(['--data-dir', dataDir]);
    try {
      const path = join(dataDir, 'admin-token');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const token = readFileSync(path, 'utf8').trim();
      assert.ok(token.length >= 40);
      assert.equal((await adminGet(s.url, '/admin/v1/identities', token)).status, 200);
      assert.ok(!s.output().includes(token), 'the generated token must not be logged');
    } finally {
      await s.stop();
    }
  });

  test('apply names the file and field of an unknown key or an invalid value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-apply-'));
    writeFileSync(join(dir, 'tether.yaml'), 'identities:\n  - id: a/b\n    kind: ci_job\n    owner: x\n    ownr: y\n');
    let r = runCli(['apply', '-f', dir, '--url', 'http://127.0.0.1:9'], { TETHER_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tether\.yaml: identities\[0\]: unknown field\(s\) "ownr"/);
    writeFileSync(join(dir, 'tether.yaml'), 'identities:\n  - id: a/b\n    kind: robot\n    owner: x\n');
    r = runCli(['apply', '-f', dir, '--url', 'http://127.0.0.1:9'], { TETHER_ADMIN_TOKEN: TOKEN });
    assert.match(r.stderr, /tether\.yaml: identities\[0\]\.kind: /);
    writeFileSync(join(dir, 'tether.yaml'), 'identitties: []\n');
    r = runCli(['apply', '-f', dir], { TETHER_ADMIN_TOKEN: TOKEN });
    assert.match(r.stderr, /tether\.yaml: .*unknown field\(s\) "identitties"/);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'tether.yaml'), 'identities: [\n');
    r = runCli(['apply', '-f', dir], { TETHER_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tether\.yaml/);
  });

  test('--help is there for every command', () => {
    const top = runCli(['--help']);
    assert.equal(top.code, 0);
    for (const c of ['serve', 'apply', 'audit']) assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
    const serve = runCli(['serve', '--help']);
    assert.match(serve.stdout, /--database-url/);
    assert.match(serve.stdout, /TETHER_ADMIN_TOKEN/);
    assert.match(runCli(['audit', 'verify', '--help']).stdout, /--data-dir/);
  });
});

describe('tether serve / audit verify on PostgreSQL', () => {
  test('apply through a PostgreSQL-backed broker; altering one stored event is detected', async () => {
    const db = await createPgDatabase();
    try {
      const s = await spawnServe(['--database-url', db.url, '--data-dir', mkdtempSync(join(tmpdir(), 'tether-cli-pg-'))], { TETHER_ADMIN_TOKEN: TOKEN });
      try {
        const a = runCli(['apply', '-f', quickstart, '--url', s.url], { TETHER_ADMIN_TOKEN: TOKEN });
        assert.equal(a.code, 0, a.stderr);
        assert.equal((await adminGet(s.url, '/admin/v1/identities?owner=team-orders')).body.identities.length, 1);
      } finally {
        assert.equal(await s.stop(), 0);
      }
      assert.equal(runCli(['audit', 'verify', '--database-url', db.url]).code, 0);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const hit = await c.query<{ seq: number }>(`UPDATE audit_events SET body = replace(body, 'team-orders', 'team-evil') WHERE body LIKE '%team-orders%' RETURNING seq::int`);
      assert.equal(hit.rows.length, 1);
      await c.end();
      const v = runCli(['audit', 'verify', '--database-url', db.url]);
      assert.equal(v.code, 1);
      assert.match(v.stdout, new RegExp(`BROKEN at seq ${hit.rows[0]!.seq}:`));
    } finally {
      await db.drop();
    }
  });
});
