import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/index.js';

/** The machine's PostgreSQL (trust auth). Each test run makes its own throwaway database. */
export const PG_ADMIN_URL = process.env.TETHER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDb {
  kind: 'pg' | 'pglite';
  /** For pg: a fresh database URL; for pglite: a fresh data dir. */
  databaseUrl?: string;
  dataDir?: string;
  open(): Promise<Store>;
  drop(): Promise<void>;
}

export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tether_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function createTestDb(kind: 'pg' | 'pglite'): Promise<TestDb> {
  if (kind === 'pg') {
    const d = await createPgDatabase();
    return { kind, databaseUrl: d.url, open: () => openStore({ databaseUrl: d.url }), drop: d.drop };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tether-test-'));
  return {
    kind,
    dataDir: dir,
    open: () => openStore({ dataDir: dir }),
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const STORE_KINDS = ['pglite', 'pg'] as const;
