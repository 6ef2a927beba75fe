import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { driverCall } from './errors.js';
import type { ListenHandlers, Queryable, QueryResult, Store } from './types.js';

/**
 * Embedded driver. PGlite is one Postgres backend in-process: a data dir serves one process only, so
 * "the cluster" is this process and notifications stay local. PGlite does not fsync: what it
 * acknowledged survives a killed process, not a power loss (see README).
 */
export async function openPgliteStore(dataDir: string | undefined): Promise<Store> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create(`${dataDir}/pgdata`) : await PGlite.create();
  const wrap = (q: { query: PGlite['query'] }): Queryable => ({
    query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      return driverCall(async () => {
        const r = await q.query<T>(sql, params as unknown[] | undefined);
        return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
      });
    },
  });
  const base = wrap(db);
  return {
    kind: 'pglite',
    query: base.query,
    tx: (fn) => db.transaction((t) => fn(wrap(t))),
    exec: (sql) => driverCall(async () => void (await db.exec(sql))),
    async listen(channel: string, h: ListenHandlers) {
      const unsub = await db.listen(channel, (p) => h.onMessage(p));
      return async () => unsub();
    },
    listenerHealthy: () => !db.closed,
    close: () => db.close(),
  };
}
