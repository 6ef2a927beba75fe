import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Queryable } from '../store/index.js';
import { readHead } from './append.js';
import { GENESIS_HASH } from './chain.js';
import { signCheckpoint, type Checkpoint } from './checkpoint.js';
import type { CheckpointKey } from './checkpoint-key.js';
import { listCheckpoints } from './export-sources.js';
import type { JobLease } from './lease.js';
import { readArchiveAnchor } from './archive-anchor.js';
import type { Clock } from '../clock.js';

export interface CheckpointerOptions {
  db: Queryable;
  key: CheckpointKey;
  /** Only the lease holder signs, so a cluster writes one series of checkpoints. */
  lease: JobLease;
  instance: string;
  /** Sign once this many events were appended since the last checkpoint... */
  every: number;
  /** ...or this long after it, if anything was appended. */
  intervalMs: number;
  /** Append-only directory outside the database (one file per UTC day). */
  dir?: string | undefined;
  logger: Pick<Logger, 'warn' | 'error' | 'info'>;
  clock: Clock;
  onCheckpoint?(c: Checkpoint): void;
  onRefused?(): void;
}

export interface Checkpointer {
  start(): void;
  /** Appended events, as the writer reports commits: reaching `every` checks at once. */
  committed(n: number): void;
  /** Signs the current head now (if it moved). Used at shutdown, so a clean stop leaves no unanchored tail. */
  checkpointNow(): Promise<Checkpoint | null>;
  latest(): Promise<Checkpoint | null>;
  stop(): Promise<void>;
}

const LINK_PAGE = 20_000;

/**
 * Signs `{seq, hash, ts, instance}` of the chain head every N events or T seconds. Before signing it
 * checks that the stored chain still extends the previous checkpoint (the event at its seq carries
 * its hash, and every later event links to the one before): a history rewritten underneath is
 * never signed over, and the refusal is logged and counted.
 */
export function createCheckpointer(o: CheckpointerOptions): Checkpointer {
  let pending = 0;
  let last: Checkpoint | null = null;
  let lastLoaded = false;
  let stopped = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | undefined;
  let busy: Promise<Checkpoint | null> = Promise.resolve(null);

  const latest = async () => (await listCheckpoints(o.db, { latestOnly: true }))[0] ?? null;

  /** Does the stored chain run from `from` (a signed position) to `to` (the head) without a break? */
  const extends_ = async (from: { seq: number; hash: string }, to: { seq: number; hash: string }): Promise<string | null> => {
    let prev = from;
    const anchor = await readArchiveAnchor(o.db);
    if (anchor && anchor.seq > from.seq) prev = anchor; // the older part was archived, sealed by its own checkpoint
    else if (from.seq > 0) {
      const r = await o.db.query<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = $1', [from.seq]);
      const h = r.rows[0]?.hash ?? (anchor?.seq === from.seq ? anchor.hash : undefined);
      if (h !== from.hash) return `the event at the last checkpoint (seq ${from.seq}) no longer carries its signed hash`;
    }
    while (prev.seq < to.seq) {
      const r = await o.db.query<{ seq: number; prev_hash: string; hash: string }>(
        'SELECT seq, prev_hash, hash FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
        [prev.seq, to.seq, LINK_PAGE],
      );
      if (r.rows.length === 0) return `events after seq ${prev.seq} are missing`;
      for (const row of r.rows) {
        const seq = Number(row.seq);
        if (seq !== prev.seq + 1) return `event ${prev.seq + 1} is missing`;
        if (row.prev_hash !== prev.hash) return `event ${seq} does not link to event ${prev.seq}`;
        prev = { seq, hash: row.hash };
      }
    }
    return prev.hash === to.hash ? null : `the head (seq ${to.seq}) does not match the stored event`;
  };

  const appendToDir = async (c: Checkpoint) => {
    if (!o.dir) return;
    await mkdir(o.dir, { recursive: true, mode: 0o755 });
    const fh = await open(join(o.dir, `checkpoints-${c.ts.slice(0, 10)}.jsonl`), 'a', 0o644);
    try {
      await fh.write(JSON.stringify(c) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
  };

  const sign = async (force: boolean): Promise<Checkpoint | null> => {
    if ((await o.lease.acquire()) === null) return null;
    if (!lastLoaded) {
      last = await latest();
      lastLoaded = true;
    }
    const head = await readHead(o.db);
    const since = head.seq - (last?.seq ?? 0);
    if (since <= 0) return null;
    const due = force || since >= o.every || o.clock().getTime() - Date.parse(last?.ts ?? '1970-01-01T00:00:00Z') >= o.intervalMs;
    if (!due) return null;
    const problem = await extends_(last ?? { seq: 0, hash: GENESIS_HASH }, head);
    if (problem) {
      o.onRefused?.();
      o.logger.error({ seq: head.seq, last_checkpoint: last?.seq ?? 0, problem }, 'audit chain does not extend the last signed checkpoint: NOT signing (run `tether audit verify --checkpoint`)');
      return null;
    }
    const c = await signCheckpoint(o.key, { seq: head.seq, hash: head.hash, ts: o.clock().toISOString(), instance: o.instance });
    // Outside the database first: a checkpoint in the directory is the one the operator cannot take back.
    await appendToDir(c).catch((e: Error) => o.logger.error({ dir: o.dir, err: { message: e.message } }, 'could not write the checkpoint directory'));
    await o.db.query('INSERT INTO audit_checkpoints (seq, hash, ts, instance, jws) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING', [c.seq, c.hash, c.ts, c.instance, c.jws]);
    last = c;
    pending = 0;
    o.onCheckpoint?.(c);
    return c;
  };

  const serial = (force: boolean) => (busy = busy.catch(() => null).then(() => sign(force)));

  const run = async () => {
    const tickMs = Math.max(50, Math.min(1000, o.intervalMs));
    while (!stopped) {
      await new Promise<void>((r) => {
        const t = setTimeout(done, tickMs);
        function done() {
          clearTimeout(t);
          wake = undefined;
          r();
        }
        wake = done;
      });
      if (stopped) break;
      await serial(false).catch((e: Error) => o.logger.warn({ err: { message: e.message } }, 'checkpoint failed; retrying at the next tick'));
    }
  };

  return {
    start() {
      loop ??= run();
    },
    committed(n) {
      pending += n;
      if (pending >= o.every) wake?.();
    },
    checkpointNow: () => serial(true),
    latest,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await busy.catch(() => null);
    },
  };
}
