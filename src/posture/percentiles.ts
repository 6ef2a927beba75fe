/**
 * Exact percentiles in memory bounded by the number of *distinct* values, not of samples: token
 * lifetimes and latencies take few distinct values (TTLs are configured, latencies are rounded to
 * whole units), so a million samples fit in a small map. Nearest-rank method: the p-th percentile is
 * the smallest value with at least p% of samples at or below it, always a value that occurred.
 */
import type { Percentiles } from './report-types.js';

export class CountHistogram {
  private readonly counts = new Map<number, number>();
  private n = 0;

  add(value: number): void {
    const v = Math.round(value);
    this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
    this.n += 1;
  }

  get size(): number {
    return this.n;
  }

  percentile(p: number): number | null {
    if (this.n === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (const v of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(v)!;
      if (seen >= rank) return v;
    }
    return null;
  }

  summary(): Percentiles {
    return { median: this.percentile(50), p95: this.percentile(95) };
  }
}
