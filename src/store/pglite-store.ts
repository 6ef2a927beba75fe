import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { driverCall } from './errors.js';
import type { ListenHandlers, Queryable, QueryResult, Store } from './types.js';

/**
 * How the single embedded connection is shared. `fair` (the default): transactions (admin writes,
 * grants) and single statements (the audit group commits that decisions wait on, point reads) queue
 * in two lanes served alternately, so under any decision load a transaction waits for at most the
 * one statement running when it arrived, and group commits are kept short (FAIR_MAX_GROUP_COMMIT).
 * `fifo`: PGlite's own mutex alone, in arrival order, and the writer's default group size; kept only
 * as the baseline of bench/embedded-fair-share.bench.ts (TETHER_EMBEDDED_SCHEDULER=fifo).
 */
export type EmbeddedScheduling = 'fair' | 'fifo';

/**
 * A group commit holds the one connection for its whole statement, and a transaction that arrives
 * meanwhile waits for it: measured here, 2,000 events take ~430 ms (over 1 s on a loaded machine),
 * 1,000 ~170 ms. Smaller groups shorten that wait but cost decision throughput (256 cost ~35% in
 * bench/embedded-fair-share.bench.ts); 1,000 halves the longest wait and changes nothing below
 * 1,000 queued events.
 */
const FAIR_MAX_GROUP_COMMIT = 1000;

type Lane = 'tx' | 'statement';

function createScheduler(mode: EmbeddedScheduling) {
  const waiting: Record<Lane, Array<() => void>> = { tx: [], statement: [] };
  let busy = false;
  let last: Lane = 'statement';
  const next = () => {
    // The lane not served last goes first: with both lanes waiting, each gets every other turn.
    const order: Lane[] = last === 'tx' ? ['statement', 'tx'] : ['tx', 'statement'];
    for (const lane of order) {
      const go = waiting[lane].shift();
      if (go) {
        last = lane;
        go();
        return;
      }
    }
    busy = false;
  };
  return async function run<T>(lane: Lane, fn: () => Promise<T>): Promise<T> {
    if (mode === 'fifo') return fn();
    if (busy) await new Promise<void>((resolve) => waiting[lane].push(resolve));
    else {
      busy = true;
      last = lane;
    }
    try {
      return await fn();
    } finally {
      next();
    }
  };
}

/**
 * Embedded driver. PGlite is one Postgres backend in-process: a data dir serves one process only, so
 * "the cluster" is this process and notifications stay local. PGlite does not fsync: what it
 * acknowledged survives a killed process, not a power loss (see README).
 */
export async function openPgliteStore(dataDir: string | undefined, opts: { scheduling?: EmbeddedScheduling } = {}): Promise<Store> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create(`${dataDir}/pgdata`) : await PGlite.create();
  const scheduling = opts.scheduling ?? 'fair';
  const run = createScheduler(scheduling);
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
    ...(scheduling === 'fair' ? { maxGroupCommit: FAIR_MAX_GROUP_COMMIT } : {}),
    runsOnCallerThread: true,
    // Statements inside a transaction use its handle (`t`), which holds the connection already.
    query<T>(sql: string, params?: unknown[]) {
      return run('statement', () => base.query<T>(sql, params));
    },
    tx: (fn) => run('tx', () => db.transaction((t) => fn(wrap(t)))),
    exec: (sql) => run('tx', () => driverCall(async () => void (await db.exec(sql)))),
    async listen(channel: string, h: ListenHandlers) {
      const unsub = await db.listen(channel, (p) => h.onMessage(p));
      return async () => unsub();
    },
    listenerHealthy: () => !db.closed,
    close: () => db.close(),
  };
}
