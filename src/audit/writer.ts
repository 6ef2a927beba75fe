import { TetherError } from '../errors.js';
import { isStorableText, type Queryable, type Store } from '../store/index.js';
import { appendBatch, appendIfHead, claimKeys, readHead } from './append.js';
import { ClaimTaken, type SingleUseClaim } from './claims.js';
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

export interface AppendOptions {
  /**
   * Single-use keys (DPoP proof `jti`s, RFC 9449 §11.1) claimed in the shared `dpop_jti` table in the
   * same statement as the event: the event is written only if every key is new, else the append
   * rejects with {@link ClaimTaken} and nothing of this event is written.
   */
  claims?: readonly SingleUseClaim[];
}

/**
 * The one writer path. Domain code gets `AuditWriter` (typed events, audit/events.ts); the chain
 * itself is generic, so store tests may write events of any type with `AuditWriter<RawAuditInput>`.
 */

export interface AuditWriter<I extends RawAuditInput = AuditInput> extends AuditWriterStats {
  /**
   * Resolves once the event is durable; rejects with 503 `unavailable` when it cannot be written, and
   * with {@link ClaimTaken} when one of its claims was already taken (a replay).
   */
  append(input: I, opts?: AppendOptions): Promise<AuditRecord>;
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

/** A claim of a queued event; `done` once this writer's statement claimed it (committed). */
interface Claim extends SingleUseClaim {
  done: boolean;
}
const NO_CLAIMS: readonly Claim[] = [];

interface Pending {
  event: PreparedEvent;
  claims: readonly Claim[];
  /** Rejected already (its claim was taken): it takes no further part in the group. */
  settled: boolean;
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

  const taken = (p: Pending, keys: string[]) => {
    p.settled = true;
    p.reject(new ClaimTaken(keys));
  };
  /** One statement claims a key once: a later event of the batch holding the same key is a replay. */
  const distinct = (batch: Pending[]): Pending[] => {
    if (!batch.some((p) => p.claims.length > 0)) return batch;
    const seen = new Set<string>();
    return batch.filter((p) => {
      const dup = p.claims.filter((c) => !c.done && seen.has(c.key)).map((c) => c.key);
      for (const c of p.claims) seen.add(c.key);
      if (dup.length === 0) return true;
      taken(p, dup);
      return false;
    });
  };
  const open = (live: Pending[]) => live.flatMap((p) => p.claims.filter((c) => !c.done));
  /**
   * After a claiming statement committed: what it claimed is ours for good (a retry must not claim
   * it again, it would find its own row); an event with a key it could not claim is a replay and
   * leaves the group, the others stay.
   */
  const settle = (live: Pending[], tried: Claim[], claimed: ReadonlySet<string>): Pending[] => {
    if (tried.length === 0) return live;
    for (const c of tried) if (claimed.has(c.key)) c.done = true;
    return live.filter((p) => {
      const lost = p.claims.filter((c) => !c.done).map((c) => c.key);
      if (lost.length === 0) return true;
      taken(p, lost);
      return false;
    });
  };

  /** Writes the batch's events but those whose claims were taken (rejected here); returns the written ones. */
  const commit = async (batch: Pending[]): Promise<{ written: Pending[]; records: AuditRecord[] }> => {
    let live = distinct(batch);
    for (let attempt = 0; attempt < 8; attempt++) {
      if (live.length === 0) return { written: [], records: [] };
      head ??= await readHead(store);
      const tried = open(live);
      const out = await appendIfHead(store, head, live.map((p) => p.event), clock(), tried);
      const kept = settle(live, tried, out.claimed);
      if (out.written) {
        head = out.written.head;
        return { written: live, records: out.written.records };
      }
      // Only a taken claim held the head back: the rest links onto the same head. Otherwise someone
      // else appended: re-read and link again.
      if (kept.length === live.length) head = null;
      live = kept;
    }
    // Heavy contention from other writers: fall back to the locking path. Each fast-path attempt
    // settled every claim it carried, so claims are open here only if none ran; they are made in
    // the same transaction, before the head is locked (the fast path's order).
    const pass = live;
    const tried = open(pass);
    const out = await store.tx(async (q) => {
      const claimed = await claimKeys(q, tried);
      const keep = pass.filter((p) => p.claims.every((c) => c.done || claimed.has(c.key)));
      return { claimed, keep, records: await appendBatch(q, keep.map((p) => p.event), clock()) };
    });
    head = null;
    settle(pass, tried, out.claimed);
    return { written: out.keep, records: out.records };
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
        const { written, records } = await commit(batch);
        if (written.length > 0) committed(records.length, t0);
        written.forEach((p, i) => p.resolve(records[i]!));
      } catch (e) {
        head = null;
        // A replay already refused stays refused; its neighbours are retried or failed.
        const rest = batch.filter((p) => !p.settled);
        if (rest.length > 1 && isEventFault(e)) await isolate(rest);
        else fail(rest, e);
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
        // Its claims too: a replay found here is refused (settled), never written.
        const { written, records } = await commit([p]);
        if (written.length === 0) continue;
        committed(1, t0);
        p.resolve(records[0]!);
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
    append(input, opts) {
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
      // One key once per event; keys as given otherwise. Most events claim nothing: no allocation.
      const claims = opts?.claims?.length ? [...new Map(opts.claims.map((c) => [c.key, { key: c.key, expiresAt: c.expiresAt, done: false }])).values()] : NO_CLAIMS;
      return new Promise<AuditRecord>((resolve, reject) => {
        queue.push({ event, claims, settled: false, resolve, reject });
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
