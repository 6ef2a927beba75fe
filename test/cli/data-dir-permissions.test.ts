import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { spawnServe, type ServeProcess } from '../helpers/process.js';

/** Every entry under `dir` whose mode lets group or others in (directories must be 0700, files 0600 or less). */
function loose(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory() ? (st.mode & 0o777) !== 0o700 : (st.mode & 0o077) !== 0) out.push(`${(st.mode & 0o777).toString(8)} ${p}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

describe('the embedded data dir is for the serving user only, whatever the secrets\' source', () => {
  const root = mkdtempSync(join(tmpdir(), 'tether-perm-'));
  let serve: ServeProcess | undefined;
  after(async () => {
    await serve?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('tether serve with TETHER_ADMIN_TOKEN and TETHER_MASTER_KEY in env: every directory 0700, every file 0600', async () => {
    const dataDir = join(root, 'data');
    // A pre-existing, too-open data dir is narrowed too.
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const token = randomBytes(24).toString('base64url');
    // A first PGlite start lays out a whole database: allow for a loaded machine.
    serve = await spawnServe(['--data-dir', dataDir], { TETHER_ADMIN_TOKEN: token, TETHER_MASTER_KEY: randomBytes(32).toString('base64url') }, 120_000);
    // Write something that reaches PGlite's WAL (an identity and its audit event).
    const res = await fetch(`${serve.url}/admin/v1/identities`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'svc/perm-check', kind: 'service_account', owner: 'team-sec', purpose: 'break-glass justification lives here' }),
    });
    assert.equal(res.status, 201);
    assert.ok(readdirSync(dataDir).includes('pgdata'));
    assert.deepEqual(loose(dataDir), [], 'while serving');
    assert.equal(await serve.stop(), 0);
    serve = undefined;
    assert.deepEqual(loose(dataDir), [], 'after shutdown');
    assert.ok(!readdirSync(dataDir).includes('admin-token'), 'no secret written when it came from the environment');
  });
});
