import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { ConnectorConfig } from '../../src/connectors/config.js';
import { postgresqlTarget } from '../../src/connectors/postgresql.js';
import { TargetError } from '../../src/connectors/target.js';
import { TetherError } from '../../src/errors.js';
import { openPgStore } from '../../src/store/pg-store.js';
import type { Store } from '../../src/store/index.js';
import { createPgDatabase, PG_ADMIN_URL } from '../helpers/stores.js';
import { startTcpProxy } from './tcp-proxy.js';

/*
 * A backend terminated at chosen points of a pooled connection's life, the client reaching
 * PostgreSQL through the TCP proxy. Each point must cost at most the operation that was using the
 * connection (a 503), never the process: a pg client that emits 'error' with no listener throws,
 * and in a test that is an uncaught exception failing the file.
 */

let db: Awaited<ReturnType<typeof createPgDatabase>>;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let admin: pg.Client;

before(async () => {
  db = await createPgDatabase();
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
  admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
});

/** Roles are cluster-wide: the ones a failed run may leave are dropped with the database. */
const accounts: string[] = [];

after(async () => {
  await proxy?.stop();
  await db?.drop();
  for (const a of accounts) await admin?.query(`DROP ROLE IF EXISTS ${a}`);
  await admin?.end();
});

/** The database URL through the proxy, its connections named so the test can find their backends. */
const viaProxy = (base: string, app: string) => {
  const u = new URL(base);
  u.host = `127.0.0.1:${proxy.port}`;
  u.searchParams.set('application_name', app);
  return u.toString();
};

interface Backend {
  pid: number;
  state: string | null;
  query: string;
}
const backends = async (app: string): Promise<Backend[]> =>
  (await admin.query('SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1 ORDER BY backend_start', [app])).rows as Backend[];

async function until<T>(what: string, probe: () => T | Promise<T>, ms = 5000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const terminate = async (pid: number) => {
  const r = await admin.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
  assert.equal((r.rows[0] as { ok: boolean }).ok, true);
};

const unavailable = (e: unknown) => e instanceof TetherError && e.code === 'unavailable';

/** Serves again: a transaction and a plain query both succeed. */
async function assertServes(s: Store) {
  assert.deepEqual((await s.tx((x) => x.query<{ n: number }>('SELECT 7 AS n'))).rows, [{ n: 7 }]);
  assert.deepEqual((await s.query<{ n: number }>('SELECT 8 AS n')).rows, [{ n: 8 }]);
}

/**
 * Terminates the backend `pick` chooses while its replies are held at the proxy, waits until its
 * FATAL and close have reached the proxy, then delivers everything held in one read.
 */
async function terminateCoalesced(app: string, pick: (b: Backend[]) => Backend | undefined) {
  const victim = await until(`the backend to pick among ${app}'s`, async () => pick(await backends(app)));
  await terminate(victim.pid);
  await until('the terminated backend to close', () => proxy.heldClosed() === 1);
  proxy.releaseReplies();
}

test('a pooled client handed to a waiting transaction in the same read as its last answer and its backend\'s FATAL: the query that had it succeeds, the transaction fails 503, the store serves again', async () => {
  const app = 'loss-handoff-idle';
  const s = await openPgStore(viaProxy(db.url, app), { poolSize: 1 });
  try {
    proxy.holdReplies();
    // The pool's only client answers this query; on that answer the pool hands it to the waiting
    // transaction, whose 'error' listener can only be attached after the promise resolves.
    const q = s.query<{ one: number }>('SELECT 1 AS one');
    const t = assert.rejects(s.tx((x) => x.query('SELECT 2')), unavailable);
    await terminateCoalesced(app, (b) => b.find((x) => x.state === 'idle' && x.query === 'SELECT 1 AS one'));
    assert.deepEqual((await q).rows, [{ one: 1 }]);
    await t;
    await assertServes(s);
  } finally {
    proxy.releaseReplies();
    await s.close();
  }
});

test('a new pooled client whose startup answer and its backend\'s FATAL arrive in one read, handed to a waiting transaction: that transaction fails 503, the one on the other client commits, the store serves again', async () => {
  const app = 'loss-handoff-new';
  const s = await openPgStore(viaProxy(db.url, app), { poolSize: 2 });
  try {
    proxy.holdReplies();
    // The idle client from open takes the first transaction (its BEGIN answer held); the second
    // needs a new connection, whose whole startup answer is held too.
    const first = s.tx((x) => x.query<{ n: number }>('SELECT 1 AS n'));
    await until('the first transaction to begin', async () => (await backends(app)).some((x) => x.query === 'BEGIN'));
    const second = assert.rejects(s.tx((x) => x.query('SELECT 2')), unavailable);
    await terminateCoalesced(app, (b) => (b.length === 2 ? b.find((x) => x.state === 'idle' && x.query === '') : undefined));
    assert.deepEqual((await first).rows, [{ n: 1 }]);
    await second;
    await assertServes(s);
  } finally {
    proxy.releaseReplies();
    await s.close();
  }
});

test('a transaction\'s backend terminated between its statements: the transaction fails 503, the store serves again', async () => {
  const app = 'loss-between';
  const s = await openPgStore(viaProxy(db.url, app), { poolSize: 1 });
  try {
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const t = s.tx(async (x) => {
      await x.query('SELECT 1');
      reached();
      await gate;
      return x.query('SELECT 2');
    });
    await atGate;
    const [b] = await backends(app);
    await terminate(b!.pid);
    await until('the connection to close', () => proxy.connections() === 0);
    open();
    await assert.rejects(t, unavailable);
    await assertServes(s);
  } finally {
    await s.close();
  }
});

test('the LISTEN connection\'s startup answer and its backend\'s FATAL in one read: the listener reconnects, reports the loss, and delivers notifications', async () => {
  const app = 'loss-listen';
  const s = await openPgStore(viaProxy(db.url, app), { poolSize: 1, reconnectDelayMs: 50 });
  try {
    // The pool's connection from open stays idle: the only replies held are the LISTEN connection's startup.
    const pooled = (await backends(app)).map((b) => b.pid);
    const got: string[] = [];
    const lost: Error[] = [];
    proxy.holdReplies();
    const listening = s.listen('loss_listen', { onMessage: (m) => got.push(m), onReconnect: () => {}, onDisconnect: (e) => lost.push(e) });
    await terminateCoalesced(app, (b) => b.find((x) => !pooled.includes(x.pid) && x.state === 'idle' && x.query === ''));
    const stop = await listening;
    try {
      assert.equal(lost.length, 1, 'the lost first connection is reported');
      assert.equal(s.listenerHealthy(), true);
      await s.query("SELECT pg_notify('loss_listen', 'after')");
      await until('the notification', () => got.includes('after'));
    } finally {
      await stop();
    }
  } finally {
    proxy.releaseReplies();
    await s.close();
  }
});

test('a connector target\'s backend terminated while a statement of its account transaction runs: the call fails with a target error, the target works again', async () => {
  const app = 'loss-target';
  const conn = { name: 'pg', kind: 'postgresql', url: viaProxy(db.url, app), max_ttl: 'PT1H', roles: {} } as unknown as ConnectorConfig;
  const target = postgresqlTarget(conn, undefined);
  const account = `loss_target_${randomBytes(4).toString('hex')}`;
  accounts.push(account);
  const lock = new pg.Client({ connectionString: db.url });
  await lock.connect();
  try {
    await lock.query('CREATE TABLE loss_target_t (x int)');
    // The grant (ALTER TABLE takes this lock too) waits, so the statement is still running when its
    // backend is terminated.
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE loss_target_t IN ACCESS EXCLUSIVE MODE');
    const role = { grants: ['ALTER TABLE loss_target_t OWNER TO {{name}}'] };
    const made = assert.rejects(target.create(account, 'pw-0123456789', role, new Date(Date.now() + 3600_000)), TargetError);
    const victim = await until('the grant to wait on the lock', async () => (await backends(app)).find((x) => x.query.startsWith('ALTER TABLE')));
    await terminate(victim.pid);
    // The call fails only once its ROLLBACK, queued behind the failed statement, has failed too:
    // when the connection's close (which pg also emits as 'error') has been handled.
    await made;
    await lock.query('ROLLBACK');
    await target.create(account, 'pw-0123456789', role, new Date(Date.now() + 3600_000));
    const ended = await target.end(account);
    assert.equal(ended.existed, true);
  } finally {
    await lock.end();
    await target.close();
  }
});
