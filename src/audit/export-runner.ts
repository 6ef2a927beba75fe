import type { Logger } from 'pino';
import type { JobLease } from './lease.js';

/** Something with a position in the chain: audit events, checkpoints. */
export interface Sequenced {
  seq: number;
}

export interface ExportSource<T extends Sequenced> {
  /** Items after `after`, in seq order, at most `limit`. */
  read(after: number, limit: number): Promise<T[]>;
  /** The newest seq there is (for the lag gauge). */
  head(): Promise<number>;
}

/** A destination. `send` resolves only once the batch is accepted; it throws to have it retried. */
export interface ExportSink<T> {
  readonly name: string;
  send(items: readonly T[]): Promise<void>;
  close(): Promise<void>;
}

export interface ExportStatus {
  sink: string;
  cursor: number;
  head: number;
  lag: number;
  exporting: boolean;
  failures: number;
  last_error: string | null;
}

export interface ExportRunner {
  start(): void;
  /** New items may be there: skip the idle wait. */
  kick(): void;
  stop(): Promise<void>;
  status(): ExportStatus;
}

export interface ExportRunnerOptions<T extends Sequenced> {
  source: ExportSource<T>;
  sink: ExportSink<T>;
  lease: JobLease;
  logger: Pick<Logger, 'warn' | 'info'>;
  batch?: number;
  /** Poll interval when idle: commits by other instances of a cluster arrive this way. */
  idleMs?: number;
  leaseSeconds?: number;
  backoff?: { initialMs: number; maxMs: number };
}

const sleep = (ms: number, signal: { wake?: () => void }) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.wake = undefined;
      resolve();
    }
    signal.wake = done;
  });

/**
 * Delivers every item of a source to one sink, in seq order, at least once, from a cursor kept in
 * the database: the cursor moves only after the sink accepted a batch, so a crash or an outage
 * resends from the last accepted seq (duplicates carry their seq and can be dropped by it). It runs
 * beside the request path and never in it: a sink that is down only makes its cursor lag.
 */
export function createExportRunner<T extends Sequenced>(o: ExportRunnerOptions<T>): ExportRunner {
  const batch = o.batch ?? 1000;
  const idleMs = o.idleMs ?? 250;
  const leaseSeconds = o.leaseSeconds ?? 15;
  const backoff = o.backoff ?? { initialMs: 200, maxMs: 30_000 };
  const signal: { wake?: () => void } = {};
  // Backoff sleeps wake on stop only: commits kick the idle wait, and must not hurry a retry.
  const halt: { wake?: () => void } = {};
  let stopped = false;
  let loop: Promise<void> | null = null;
  const st = { cursor: 0, head: 0, exporting: false, failures: 0, lastError: null as string | null };
  let leaseCheckedAt = 0;

  const holdLease = async (): Promise<boolean> => {
    // Renewed by every advance; re-taken here only when a third of the TTL passed without one.
    if (st.exporting && Date.now() - leaseCheckedAt < (leaseSeconds * 1000) / 3) return true;
    const c = await o.lease.acquire();
    st.exporting = c !== null;
    if (c !== null) {
      st.cursor = c;
      leaseCheckedAt = Date.now();
    } else st.cursor = await o.lease.cursor();
    return st.exporting;
  };

  const deliver = async (items: T[]): Promise<boolean> => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        await o.sink.send(items);
        st.lastError = null;
        return true;
      } catch (e) {
        st.failures++;
        const msg = (e as Error).message ?? String(e);
        if (st.lastError !== msg) o.logger.warn({ sink: o.sink.name, err: { message: msg } }, 'audit sink refused a batch: retrying with backoff (its cursor lags meanwhile)');
        st.lastError = msg;
        const ms = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 16)) * (0.5 + Math.random() / 2);
        await sleep(ms, halt);
        st.head = await o.source.head().catch(() => st.head);
        if (!(await holdLease().catch(() => false))) return false;
      }
    }
    return false;
  };

  const run = async (): Promise<void> => {
    while (!stopped) {
      try {
        if (!(await holdLease())) {
          st.head = await o.source.head();
          await sleep(idleMs * 4, signal);
          continue;
        }
        const items = await o.source.read(st.cursor, batch);
        if (items.length === 0) {
          st.head = await o.source.head();
          if (st.head <= st.cursor) await sleep(idleMs, signal);
          continue;
        }
        const last = items[items.length - 1]!.seq;
        st.head = Math.max(st.head, last);
        if (!(await deliver(items))) continue;
        if (await o.lease.advance(st.cursor, last)) {
          st.cursor = last;
          leaseCheckedAt = Date.now();
        } else {
          // Another instance took the sink over while we were sending: it resends from the stored cursor.
          st.exporting = false;
        }
      } catch (e) {
        st.lastError = (e as Error).message;
        await sleep(idleMs * 4, signal);
      }
    }
  };

  return {
    start() {
      loop ??= run();
    },
    kick() {
      signal.wake?.();
    },
    async stop() {
      stopped = true;
      signal.wake?.();
      halt.wake?.();
      await loop;
      if (st.exporting) await o.lease.release().catch(() => {});
      await o.sink.close().catch(() => {});
    },
    status: () => ({
      sink: o.sink.name,
      cursor: st.cursor,
      head: st.head,
      lag: Math.max(0, st.head - st.cursor),
      exporting: st.exporting,
      failures: st.failures,
      last_error: st.lastError,
    }),
  };
}
