/**
 * A small log-scale histogram of per-minute event counts. Percentiles of a rate are what the
 * rate_spike rule compares with, and a histogram gives them in bounded memory (64 numbers) without
 * keeping or sorting the minutes themselves; halving it now and then keeps it recent.
 */

export const RATE_BUCKETS = 64;

/** Exact buckets for 1..16 events/min, then four buckets per doubling up to 65536/min. */
export function rateBucket(count: number): number {
  if (count <= 16) return Math.max(0, Math.ceil(count) - 1);
  return Math.min(RATE_BUCKETS - 1, 15 + Math.ceil(4 * Math.log2(count / 16)));
}

/** Upper bound of a bucket: percentiles round up, so the rule errs towards silence. */
export function rateBucketUpper(i: number): number {
  return i < 16 ? i + 1 : 16 * 2 ** ((i - 15) / 4);
}

/** The p-th percentile (0 < p <= 1) of the recorded minutes; 0 when nothing is recorded. */
export function ratePercentile(hist: readonly number[], p: number): number {
  let total = 0;
  for (const c of hist) total += c;
  if (total <= 0) return 0;
  const target = p * total;
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i]!;
    if (acc >= target) return rateBucketUpper(i);
  }
  return rateBucketUpper(hist.length - 1);
}
