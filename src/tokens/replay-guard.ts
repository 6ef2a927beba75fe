import type { SingleUseClaim } from '../audit/claims.js';
import { epochSeconds, systemClock, type Clock } from '../clock.js';

/**
 * Single-use enforcement for `jti` values (DPoP proofs, RFC 9449 §11.1; private_key_jwt assertions,
 * RFC 7523 §3 item 7). `claim` atomically records a key and answers whether it was new.
 *
 * Implementations must be atomic across every instance that accepts the same proofs: the in-memory
 * one below is correct for a single process only; a cluster needs a shared store (the PostgreSQL
 * guard is wired by the composition root).
 */
export interface ReplayGuard {
  /**
   * Records `key` until `expiresAt` (epoch seconds). Resolves `true` the first time a key is seen,
   * `false` if it was already recorded and has not expired (a replay).
   */
  claim(key: string, expiresAt: number): Promise<boolean>;
  /**
   * The same claim with its shared step left to the caller (guards with a shared store only): resolves
   * `false` for a repeat this instance has seen, else the shared claim still to be made, which the
   * caller must make atomically with what the proof authorizes (the decision's audit record,
   * audit/claims.ts), or `null` when there is no shared store.
   */
  claimDeferred?(key: string, expiresAt: number): Promise<false | SingleUseClaim | null>;
}

export interface MemoryReplayGuardOptions {
  /** Maximum number of live entries. Size it above (peak proofs per second × proof lifetime). */
  max: number;
  clock?: Clock;
}

/**
 * An in-process LRU replay guard. Expired entries are dropped first; when the map is still full the
 * least recently inserted entry is evicted, which re-opens a replay window for that one key — hence
 * `max` must exceed the number of proofs that can be live at once (see MemoryReplayGuardOptions).
 */
export function createMemoryReplayGuard({ max, clock = systemClock }: MemoryReplayGuardOptions): ReplayGuard {
  if (!Number.isInteger(max) || max < 1) throw new TypeError('createMemoryReplayGuard: max must be a positive integer');
  const seen = new Map<string, number>(); // key → expiresAt; insertion order ≈ expiry order

  function purgeExpired(now: number): void {
    for (const [key, exp] of seen) {
      if (exp > now) break; // entries expire in roughly insertion order, so stop at the first live one
      seen.delete(key);
    }
  }

  return {
    async claim(key, expiresAt) {
      const now = epochSeconds(clock);
      const existing = seen.get(key);
      if (existing !== undefined && existing > now) return false;
      purgeExpired(now);
      seen.delete(key);
      seen.set(key, expiresAt);
      while (seen.size > max) {
        const oldest = seen.keys().next();
        if (oldest.done === true) break;
        seen.delete(oldest.value);
      }
      return true;
    },
  };
}
