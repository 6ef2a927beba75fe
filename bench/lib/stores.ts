/**
 * Throwaway stores for benches: a fresh PostgreSQL database on the machine's server (trust auth)
 * or a PGlite data dir in a temp folder, each removed afterwards, also on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Queryable, type Store, type StoreKind } from '../../src/store/index.js';

/** Where to create throwaway databases: any database on the server will do as the admin connection. */
export const PG_ADMIN_URL = process.env.TETHER_BENCH_PG_URL ?? process.env.TETHER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const cleanups = new Set<() => Promise<void>>();
let signalsHooked = false;
function track(fn: () => Promise<void>): () => Promise<void> {
  if (!signalsHooked) {
    signalsHooked = true;
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        console.error(`\n${sig}: removing throwaway databases`);
        void Promise.allSettled([...cleanups].map((f) => f())).then(() => process.exit(130));
      });
    }
  }
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    cleanups.delete(once);
    await fn();
  };
  cleanups.add(once);
  return once;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** True when the server answers; benches skip their PostgreSQL half otherwise. */
export async function pgAvailable(): Promise<boolean> {
  return admin(async () => true).catch(() => false);
}

/** Creates `<prefix>_<random>`; drop() removes it even with connections still open. */
export async function createPgDatabase(prefix = 'tether_bench'): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  const drop = track(() => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}));
  return { name, url: u.toString(), drop };
}

/**
 * Settings as a session sees them, e.g. to print that commits really are durable (fsync,
 * synchronous_commit). Pass the store under test: per-database and per-role values apply there.
 */
export async function pgSettings(names: readonly string[], on?: Queryable): Promise<Record<string, string>> {
  const sql = 'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)';
  type Row = { name: string; setting: string; unit: string | null };
  const rows = on ? (await on.query<Row>(sql, [names])).rows : await admin(async (c) => (await c.query<Row>(sql, [names])).rows);
  return Object.fromEntries(rows.map((x) => [x.name, x.unit ? `${x.setting}${x.unit}` : x.setting]));
}

export interface BenchStore {
  kind: StoreKind;
  store: Store;
  /** Database name or data dir, for the output. */
  where: string;
  /** Closes the store and removes the database or directory. */
  dispose(): Promise<void>;
}

/** Opens a migrated store on a throwaway database (pg) or temp dir (pglite). */
export async function openBenchStore(kind: StoreKind): Promise<BenchStore> {
  if (kind === 'pg') {
    const db = await createPgDatabase();
    const store = await openStore({ databaseUrl: db.url }).catch(async (e) => {
      await db.drop();
      throw e;
    });
    return { kind, store, where: db.name, dispose: async () => {
      await store.close().catch(() => {});
      await db.drop();
    } };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
  const rm = track(async () => rmSync(dir, { recursive: true, force: true }));
  const store = await openStore({ dataDir: dir }).catch(async (e) => {
    await rm();
    throw e;
  });
  return { kind, store, where: dir, dispose: async () => {
    await store.close().catch(() => {});
    await rm();
  } };
}
