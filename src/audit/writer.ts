import { TetherError } from '../errors.js';
import { isStorableText, type Queryable, type Store } from '../store/index.js';
import { appendBatch, appendIfHead, readHead } from './append.js';
import { prepare, type AuditInput, type AuditRecord, type PreparedEvent, type RawAuditInput } from './chain.js';
import { systemClock, type Clock } from '../clock.js';

export interface AuditWriterStats {
  queueDepth(): number;
}

export interface AuditWriterHooks {
  /** Called after each group commit with its size and duration, for metrics. */
  onCommit?(events: number, seconds: number): void;
  onError?(err: unknown): void;
}

/**
 * The one writer path. Domain code gets `AuditWriter` (typed events, audit/events.ts); the chain
 * itself is generic, so store tests may write events of any type with `AuditWriter<RawAuditInput>`.
 */
export interface AuditWriter<I extends RawAuditInput = AuditInput> extends AuditWriterStats {
  /** Resolves once the event is durable; rejects with 503 `unavailable` when it cannot be written. */
  append(input: I): Promise<AuditRecord>;
  /**
   * Runs a state change and its audit events in one transaction: the change happens only if its
   * record is written (fail closed), and both become visible together.
   */
  transact<T>(fn: (q: Queryable, emit: (e: I) => void) => Promise<T>): Promise<T>;
  /** Waits for everything queued so far to be committed. */
  flush(): Promise<void>;
  /**
   * Subscribe to group commits (metrics, checkpoints, notifications), from where the subscriber is
   * built; returns an unsubscribe function. Commits made before a subscriber exists are not replayed.
   */
  onCommit(cb: (events: number, seconds: number) => void): () => void;
  /** Subscribe to write failures (each failed group once); returns an unsubscribe function. */
  onError(cb: (err: unknown) => void): () => void;
}

interface Pending {
  event: PreparedEvent;
  resolve(r: AuditRecord): void;
  reject(e: unknown): void;
}

/** A store refusal caused by the event's content (bad characters, out of range): not an outage. */
const isEventFault = (e: unknown): e is TetherError => e instanceof TetherError && e.status < 500;

const unavailable = () => new TetherError('unavailable', 'the audit log cannot be written; the operation was not performed');

/**
 * Group commit: while one transaction is in flight, new events queue; the next transaction takes
 * them all (up to maxBatch). Under load this turns N fsyncs into one, which is what makes a
 * durable record of every decision affordable (DESIGN.md "Performance budget").
 */
export function createAuditWriter<I extends RawAuditInput = AuditInput>(store: Store, opts: { maxBatch?: number; clock?: Clock } & AuditWriterHooks = {}): AuditWriter<I> {
  const maxBatch = opts.maxBatch ?? store.maxGroupCommit ?? 2000;
  const clock = opts.clock ?? systemClock;
  let queue: Pending[] = [];
  const commitHooks: Array<(events: number, seconds: number) => void> = opts.onCommit ? [opts.onCommit] : [];
  const errorHooks: Array<(err: unknown) => void> = opts.onError ? [opts.onError] : [];
  const subscribe = <F>(list: F[], cb: F) => {
    list.push(cb);
    return () => {
      const i = list.indexOf(cb);
      if (i >= 0) list.splice(i, 1);
    };
  };
  const committed = (events: number, t0: bigint) => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const cb of commitHooks) cb(events, seconds);
  };
  const failed = (err: unknown) => {
    for (const cb of errorHooks) cb(err);
  };
  let running: Promise<void> | null = null;

  // Where this writer last left the chain head. A stale guess costs one retry, never a fork.
  let head: { seq: number; hash: string } | null = null;
  const commit = async (events: PreparedEvent[]): Promise<AuditRecord[]> => {
    for (let attempt = 0; attempt < 8; attempt++) {
      head ??= await readHead(store);
      const out = await appendIfHead(store, head, events, clock());
      if (out) {
        head = out.head;
        return out.records;
      }
      head = null; // someone else appended: re-read and link again
    }
    // Heavy contention from other writers: fall back to the locking path.
    const records = await store.tx((q) => appendBatch(q, events, clock()));
    head = null;
    return records;
  };

  const drain = async (): Promise<void> => {
    let first = true;
    while (queue.length > 0) {
      // Let the producers just released queue their next events first: otherwise batches alternate
      // between 1 and N-1 events under closed-loop load, and every other commit carries one event.
      if (!first) await new Promise<void>((r) => setImmediate(r));
      first = false;
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
      const t0 = process.hrtime.bigint();
      try {
        const records = await commit(batch.map((p) => p.event));
        committed(records.length, t0);
        batch.forEach((p, i) => p.resolve(records[i]!));
      } catch (e) {
        head = null;
        if (batch.length > 1 && isEventFault(e)) await isolate(batch);
        else fail(batch, e);
      }
    }
  };

  const fail = (batch: Pending[], e: unknown) => {
    failed(e);
    // The event's own fault (a value the store refuses) is the caller's 4xx; anything else is a 503.
    const err = isEventFault(e) ? e : unavailable();
    batch.forEach((p) => p.reject(err));
  };

  /**
   * One event the store refuses must not fail the group commit it happened to share: commit each
   * event of the failed group on its own, so only the offending one is refused. Only for faults of
   * an event (a 4xx from the store): when the store itself is down every event would fail again.
   */
  const isolate = async (batch: Pending[]) => {
    for (const p of batch) {
      const t0 = process.hrtime.bigint();
      try {
        const [record] = await commit([p.event]);
        committed(1, t0);
        p.resolve(record!);
      } catch (e) {
        head = null;
        fail([p], e);
      }
    }
  };

  const kick = (): void => {
    if (running) return;
    // Start after the current tick: events appended together (an issuance's decision records and its
    // token.issued) join one transaction instead of the first one going alone. A store that runs its
    // statements on this thread starts after the current I/O phase instead, so the events of every
    // request read in that phase join too: otherwise its commit, run from a microtask, would finish
    // before the next request of the phase was even parsed, one commit per request (measured: 1.8
    // events per commit at 64 concurrent token exchanges on the embedded store, 33 with this).
    const start = store.runsOnCallerThread ? new Promise<void>((r) => setImmediate(r)) : Promise.resolve();
    running = start.then(drain).finally(() => {
      running = null;
      if (queue.length > 0) kick();
    });
  };

  return {
    append(input) {
      let event: PreparedEvent;
      // Indexed columns are extracted from the event: one the store cannot hold must fail alone,
      // before it joins a group commit (store/text.ts).
      for (const v of [input.type, input.identity, input.actor]) {
        if (typeof v === 'string' && !isStorableText(v)) return Promise.reject(new TetherError('invalid_request', 'a value in the request cannot be recorded (NUL or malformed Unicode)'));
      }
      try {
        // Canonicalised now, off the serial commit path.
        event = prepare(input);
      } catch {
        return Promise.reject(new TetherError('invalid_request', 'audit event is not valid JSON'));
      }
      return new Promise<AuditRecord>((resolve, reject) => {
        queue.push({ event, resolve, reject });
        kick();
      });
    },
    async transact(fn) {
      try {
        return await store.tx(async (q) => {
          const events: I[] = [];
          const out = await fn(q, (e) => events.push(e));
          await appendBatch(q, events, clock());
          return out;
        });
      } catch (e) {
        if (isEventFault(e) || (e instanceof TetherError && e.code !== 'unavailable')) throw e;
        failed(e);
        throw unavailable();
      }
    },
    async flush() {
      while (running || queue.length) await (running ?? Promise.resolve());
    },
    queueDepth: () => queue.length,
    onCommit: (cb) => subscribe(commitHooks, cb),
    onError: (cb) => subscribe(errorHooks, cb),
  };
}
