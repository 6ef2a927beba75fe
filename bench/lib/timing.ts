/**
 * Timing for benches: a monotonic clock, percentiles, and a closed-loop driver (C workers, each
 * awaiting one operation before starting the next), which is how callers of a broker behave.
 */

/** Milliseconds on the monotonic clock, sub-microsecond resolution. */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** The p-th percentile (0–100) of an ascending array, nearest-rank; NaN when empty. */
export function percentile(sortedAsc: ArrayLike<number>, p: number): number {
  const n = sortedAsc.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sortedAsc[rank]!;
}

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summarises samples (any order); sorts a copy as Float64Array (numeric, not lexicographic). */
export function summarize(samples: ArrayLike<number>): Summary {
  const s = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of s) sum += x;
  return {
    count: s.length,
    mean: s.length ? sum / s.length : Number.NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1]! : Number.NaN,
  };
}

export interface ClosedLoopOptions {
  /** Workers, each running `op` in a loop, awaiting each call. */
  concurrency: number;
  /** Stop starting new operations after this long (ms). */
  durationMs: number;
  /** ... or after this many were started, whichever comes first. */
  maxOps?: number;
  /** The operation; `i` is its global index (for varying inputs). */
  op: (i: number, worker: number) => Promise<unknown>;
}

export interface ClosedLoopResult {
  /** Operations completed. */
  ops: number;
  /** Wall time from the first start until the last completion. */
  seconds: number;
  opsPerSec: number;
  /** Latency of each operation, ms (start of call to settlement). */
  latency: Summary;
}

/**
 * Runs `op` from C concurrent workers until the time or count budget is spent, then waits for the
 * operations in flight (they count, and so does their time). A rejected op fails the run.
 */
export async function runClosedLoop(o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const maxOps = o.maxOps ?? Number.POSITIVE_INFINITY;
  const lat: number[] = [];
  let started = 0;
  const t0 = nowMs();
  const deadline = t0 + o.durationMs;
  const worker = async (w: number): Promise<void> => {
    while (started < maxOps && nowMs() < deadline) {
      const i = started++;
      const s = nowMs();
      await o.op(i, w);
      lat.push(nowMs() - s);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  const seconds = (nowMs() - t0) / 1000;
  return { ops: lat.length, seconds, opsPerSec: lat.length / seconds, latency: summarize(lat) };
}
