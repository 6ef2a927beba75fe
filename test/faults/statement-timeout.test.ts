import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { TetherError } from '../../src/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import { spawnServe, type ServeProcess } from '../helpers/process.js';
import { createPgDatabase } from '../helpers/stores.js';

/**
 * A statement stuck behind a lock another session holds must fail its request with 503 within the
 * statement timeout, not hang it (and a pool connection) for as long as the lock lives. The lock is
 * real: another connection holds ACCESS EXCLUSIVE on the table the statement needs.
 */
let db: Awaited<ReturnType<typeof createPgDatabase>>;
before(async () => {
  db = await createPgDatabase();
});
after(async () => {
  await db?.drop();
});

/** Holds ACCESS EXCLUSIVE on `table` from another session until the returned release is called. */
async function holdLock(table: string): Promise<() => Promise<void>> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query('BEGIN');
  await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return async () => {
    await c.query('ROLLBACK');
    await c.end();
  };
}

async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await p;
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

describe('store: statement timeout on the pool', () => {
  const TIMEOUT_MS = 300;
  let store: Store;
  before(async () => {
    store = await openStore({ databaseUrl: db.url, statementTimeoutMs: TIMEOUT_MS });
  });
  after(async () => {
    await store?.close();
  });

  test('a query and a transaction blocked by another session\'s lock fail with 503 within the bound; the pool serves again once it is released', async () => {
    const release = await holdLock('identities');
    try {
      const q = await timed(store.query('SELECT count(*) FROM identities'));
      const t = await timed(store.tx((x) => x.query("UPDATE identities SET owner = 'x' WHERE id = 'nobody'")));
      for (const r of [q, t]) {
        assert.ok(r.error instanceof TetherError, `expected a TetherError, got ${String(r.error)}`);
        assert.equal(r.error.status, 503);
        assert.equal(r.error.code, 'unavailable');
        assert.ok(r.ms >= TIMEOUT_MS * 0.9 && r.ms < TIMEOUT_MS + 1500, `failed after ${Math.round(r.ms)} ms`);
      }
    } finally {
      await release();
    }
    // Cancelled statements leave their connections usable: every pooled connection answers again.
    const again = await Promise.all(Array.from({ length: 12 }, () => store.query<{ n: number }>('SELECT count(*)::int AS n FROM identities')));
    assert.ok(again.every((r) => r.rows[0]?.n === 0));
    await store.tx((x) => x.query("UPDATE identities SET owner = 'x' WHERE id = 'nobody'"));
  });
});

describe('broker: a locked table costs its requests a 503, not a hang', () => {
  const ADMIN = 'timeout-admin-token-0123456789abcdef';
  const TIMEOUT_MS = 500;
  let serve: ServeProcess;
  before(async () => {
    serve = await spawnServe(['--database-url', db.url, '--data-dir', mkdtempSync(join(tmpdir(), 'tether-timeout-'))], {
      TETHER_ADMIN_TOKEN: ADMIN,
      TETHER_MASTER_KEY: randomBytes(32).toString('base64url'),
      TETHER_STATEMENT_TIMEOUT_MS: String(TIMEOUT_MS),
    });
  });
  after(async () => {
    await serve?.stop();
  });

  const createIdentity = (id: string) =>
    fetch(`${serve.url}/admin/v1/identities`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, kind: 'service_account', owner: 'team-timeout' }),
    });

  test(`an admin write blocked by a lock answers 503 within ${TIMEOUT_MS} ms + 2 s, and succeeds once the lock is gone`, async () => {
    const release = await holdLock('identities');
    let blocked: Awaited<ReturnType<typeof timed<Response>>>;
    try {
      blocked = await timed(createIdentity('timeout/blocked'));
    } finally {
      await release();
    }
    const res = blocked.value!;
    assert.equal(res.status, 503, await res.text());
    assert.ok(blocked.ms < TIMEOUT_MS + 2000, `answered after ${Math.round(blocked.ms)} ms`);
    assert.equal(serve.proc.exitCode, null);
    const ok = await createIdentity('timeout/after');
    assert.equal(ok.status, 201, await ok.text());
  });
});
