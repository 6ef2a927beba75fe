import pg from 'pg';
import type { ListenHandlers, Queryable, QueryResult, Store } from './types.js';

// int8 (counts, seq) as JS numbers: our sequences stay far below 2^53.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export interface PgStoreOptions {
  /** How long to wait before reconnecting a dead listener. */
  reconnectDelayMs?: number;
  poolSize?: number;
}

/** PostgreSQL driver: a pool for queries plus one dedicated, keepalive'd connection for LISTEN. */
export async function openPgStore(url: string, opts: PgStoreOptions = {}): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    keepAlive: true,
    types,
    connectionTimeoutMillis: 5000,
  });
  // An idle client erroring (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  await pool.query('SELECT 1');

  const listeners: Array<{ stop: () => Promise<void>; healthy: () => boolean }> = [];
  const wrap = (c: { query: pg.Pool['query'] }): Queryable => ({
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const r = await c.query(sql, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
  });
  const base = wrap(pool);

  return {
    kind: 'pg',
    query: base.query,
    async tx(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn(wrap(client));
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    },
    exec: async (sql) => {
      await pool.query(sql);
    },
    async listen(channel, h) {
      const l = startListener(url, channel, h, opts.reconnectDelayMs ?? 250);
      await l.ready;
      listeners.push(l);
      return l.stop;
    },
    listenerHealthy: () => listeners.every((l) => l.healthy()),
    async close() {
      await Promise.all(listeners.map((l) => l.stop()));
      await pool.end();
    },
  };
}

function startListener(url: string, channel: string, h: ListenHandlers, delayMs: number) {
  let client: pg.Client | undefined;
  let stopped = false;
  let up = false;
  let first = true;
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: url, keepAlive: true, keepAliveInitialDelayMillis: 1000, types });
    client = c;
    const lost = (err: Error) => {
      if (!up || client !== c) return;
      up = false;
      h.onDisconnect?.(err);
      c.removeAllListeners();
      c.end().catch(() => {});
      setTimeout(() => void connect(), delayMs);
    };
    c.on('error', lost);
    c.on('end', () => lost(new Error('listener connection ended')));
    c.on('notification', (m) => {
      if (m.channel === channel) h.onMessage(m.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN "${channel.replace(/"/g, '')}"`);
      up = true;
      if (first) {
        first = false;
        resolveReady();
      } else {
        h.onReconnect();
      }
    } catch (err) {
      c.removeAllListeners();
      c.end().catch(() => {});
      if (first) h.onDisconnect?.(err as Error);
      setTimeout(() => void connect(), delayMs);
    }
  };
  void connect();
  return {
    ready,
    healthy: () => up,
    stop: async () => {
      stopped = true;
      up = false;
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners();
        await c.end().catch(() => {});
      }
    },
  };
}
