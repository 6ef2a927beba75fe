import pg from 'pg';
import { driverCall, fromDriverError } from './errors.js';
import { guardPoolClients } from './pg-pool-guard.js';
import { pgTypes } from './pg-types.js';
import { startPgListener, type ListenerOptions } from './pg-listener.js';
import type { ListenHandlers, Queryable, QueryResult, Store } from './types.js';


/**
 * With a statement timeout, the client-side bound on top (`query_timeout`): when the server cannot
 * even cancel (a black-holed connection), the driver gives up this much later and the connection is
 * destroyed.
 */
export const QUERY_TIMEOUT_MARGIN_MS = 2_000;

export interface PgStoreOptions extends ListenerOptions {
  poolSize?: number;
  /**
   * Per-statement bound in ms (server-side statement_timeout, config.ts `statementTimeoutMs` says
   * why); unset = none (offline tools, migrations).
   */
  statementTimeoutMs?: number;
  /** Where the LISTEN connection goes, when not `url` (a transaction-mode pooler cannot LISTEN). */
  listenUrl?: string;
}

/**
 * PostgreSQL driver: a pool for queries plus one dedicated connection for LISTEN (pg-listener.ts).
 * A store outage must cost the requests it serves a 503 and nothing more: every client has an
 * 'error' listener for its whole life (an unhandled 'error' event would end the process, see
 * `guardPoolClients`), and every driver error is converted at this boundary (errors.ts).
 */
export async function openPgStore(url: string, opts: PgStoreOptions = {}): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    keepAlive: true,
    types: pgTypes,
    connectionTimeoutMillis: 5000,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs, query_timeout: opts.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS } : {}),
  });
  // An idle client erroring (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const broken = guardPoolClients(pool);
  await driverCall(() => pool.query('SELECT 1'));

  const listeners: Array<{ stop: () => Promise<void>; healthy: () => boolean }> = [];
  const wrap = (c: { query: pg.Pool['query'] }): Queryable => ({
    query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      return driverCall(async () => {
        const r = await c.query(sql, params as unknown[]);
        return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
      });
    },
  });
  const base = wrap(pool);

  return {
    kind: 'pg',
    query: base.query,
    async tx(fn) {
      const client = await driverCall(() => pool.connect());
      // A connection that failed (even before this transaction got it: see guardPoolClients) fails
      // the transaction's next statement; it is then discarded, never rolled back or reused.
      const lose = (err: unknown) => void (broken.has(client) || broken.set(client, err as Error));
      try {
        await driverCall(() => client.query('BEGIN'));
        const out = await fn(wrap(client));
        await driverCall(() => client.query('COMMIT'));
        return out;
      } catch (e) {
        // A client-side read timeout leaves the statement running on a connection nobody may reuse.
        if (isReadTimeout(e)) lose(e);
        if (!broken.has(client)) await client.query('ROLLBACK').catch(lose);
        throw e;
      } finally {
        // release(err) destroys the client instead of returning a dead connection to the pool.
        client.release(broken.get(client));
      }
    },
    exec: (sql) => driverCall(async () => void (await pool.query(sql))),
    async listen(channel, h) {
      const l = startPgListener(opts.listenUrl ?? url, channel, h, opts);
      await l.ready;
      listeners.push(l);
      return l.stop;
    },
    listenerHealthy: () => listeners.every((l) => l.healthy()),
    async close() {
      await Promise.all(listeners.map((l) => l.stop()));
      await pool.end().catch((e: unknown) => {
        throw fromDriverError(e);
      });
    },
  };
}

/** pg's `query_timeout` error (no SQLSTATE: the server never answered). */
const isReadTimeout = (e: unknown): boolean => {
  const cause = (e as { cause?: unknown })?.cause ?? e;
  return cause instanceof Error && cause.message === 'Query read timeout';
};
