/**
 * Failed admin authentications, per client address (README "Operators"): after `limit` failures in
 * `windowMs` an address is refused (429 with Retry-After) until its window ends, even with a right
 * token, so guessing cannot go faster than `limit` per window; other addresses are unaffected. Keyed by
 * outside input, so bounded: the least recently failing addresses are forgotten first.
 */
export interface AuthFailureLimiter {
  /** Seconds until this address may try again, or 0. */
  retryAfter(source: string, now: number): number;
  /** Records a failure; returns the seconds until the address may try again (0 while under the limit). */
  fail(source: string, now: number): number;
}

export function createAuthFailureLimiter(o: { limit?: number; windowMs?: number; maxSources?: number } = {}): AuthFailureLimiter {
  const limit = o.limit ?? 10;
  const windowMs = o.windowMs ?? 60_000;
  const maxSources = o.maxSources ?? 10_000;
  const bySource = new Map<string, { start: number; count: number }>(); // insertion order = least recent first

  const current = (source: string, now: number) => {
    const e = bySource.get(source);
    if (e === undefined || now - e.start >= windowMs) return undefined;
    return e;
  };
  const wait = (e: { start: number; count: number } | undefined, now: number) => (e !== undefined && e.count >= limit ? Math.max(1, Math.ceil((e.start + windowMs - now) / 1000)) : 0);

  return {
    retryAfter: (source, now) => wait(current(source, now), now),
    fail(source, now) {
      const e = current(source, now) ?? { start: now, count: 0 };
      e.count++;
      bySource.delete(source);
      bySource.set(source, e);
      if (bySource.size > maxSources) bySource.delete(bySource.keys().next().value as string);
      return wait(e, now);
    },
  };
}
