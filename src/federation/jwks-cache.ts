import { createLocalJWKSet, errors } from 'jose';
import type { CryptoKey, FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters, JWK } from 'jose';
import { TetherError } from '../errors.js';
import type { Clock } from '../clock.js';
import { publicKeysOnly } from './public-keys.js';

/**
 * Risky knob, kept out of reach of JSON config (as oauth4webapi's `allowInsecureRequests`): set
 * `[allowInsecureJwksUri]: true` on the cache options to accept `http:` jwks_uri values. Without TLS
 * anyone on the path can substitute an issuer's keys and mint any workload identity. Tests only.
 */
export const allowInsecureJwksUri: unique symbol = Symbol('tether.allowInsecureJwksUri');

export interface JwksCacheOptions {
  /** Injected for tests and proxies; defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  clock: Clock;
  /** Least time between two fetches of one jwks_uri, whatever triggers them. Default 30 s. */
  minRefreshIntervalMs?: number;
  /** Keys older than this are refreshed on next use (rotated-out keys eventually disappear). Default 10 min. */
  maxAgeMs?: number;
  /** Per-fetch timeout. Default 5 s. */
  timeoutMs?: number;
  /** Largest JWKS response accepted. Default 512 KiB. */
  maxResponseBytes?: number;
  [allowInsecureJwksUri]?: boolean;
}

/** A jose key resolver: give it to jwtVerify as the key. */
export type JwksKeyResolver = (protectedHeader: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

export interface JwksCache {
  /** The resolver for one jwks_uri; resolvers for the same URI share one cached key set. */
  keyResolver(jwksUri: string): JwksKeyResolver;
}

interface Entry {
  resolve?: (h: JWSHeaderParameters, t: FlattenedJWSInput) => Promise<CryptoKey>;
  fetchedAtMs: number;
  lastAttemptMs: number;
  inflight?: Promise<void>;
}

/**
 * Caches issuer JWKS per jwks_uri.
 *
 * - Fetched once, then served from memory; refreshed when older than `maxAgeMs`.
 * - A token with an unknown `kid` triggers a refetch (the issuer may have rotated), but never more
 *   than once per `minRefreshIntervalMs`, so a flood of made-up kids cannot turn us into a
 *   request amplifier against the issuer.
 * - If a refresh fails, the last good keys keep serving: an issuer outage must not lock out every
 *   workload whose keys we already hold.
 * - Keys come only from the configured URI: `jku`, `x5u`, `x5c` and `jwk` headers in tokens are never
 *   followed (RFC 8725 §3.10); the resolver only reads `kid` and `alg`.
 * - Redirects are not followed and only `200` with a JSON JWKS is accepted.
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const {
    fetch: fetchImpl = globalThis.fetch,
    clock,
    minRefreshIntervalMs = 30_000,
    maxAgeMs = 600_000,
    timeoutMs = 5_000,
    maxResponseBytes = 512 * 1024,
  } = options;
  const insecureOk = options[allowInsecureJwksUri] === true;
  const entries = new Map<string, Entry>();
  const nowMs = (): number => clock().getTime();

  async function fetchJwks(uri: string): Promise<JSONWebKeySet> {
    const res = await fetchImpl(uri, {
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`jwks_uri answered HTTP ${res.status}`);
    }
    const body: unknown = JSON.parse(await readLimited(res, maxResponseBytes));
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { keys?: unknown }).keys)) {
      throw new Error('jwks_uri did not return a JSON Web Key Set');
    }
    const jwks = publicKeysOnly((body as { keys: JWK[] }).keys);
    if (jwks.keys.length === 0) throw new Error('jwks_uri returned no usable public keys');
    return jwks;
  }

  function load(uri: string, entry: Entry): Promise<void> {
    if (entry.inflight !== undefined) return entry.inflight;
    entry.lastAttemptMs = nowMs();
    entry.inflight = fetchJwks(uri)
      .then((jwks) => {
        entry.resolve = createLocalJWKSet(jwks);
        entry.fetchedAtMs = nowMs();
      })
      .finally(() => {
        entry.inflight = undefined;
      });
    return entry.inflight;
  }

  const mayFetch = (entry: Entry): boolean => nowMs() - entry.lastAttemptMs >= minRefreshIntervalMs;

  return {
    keyResolver(jwksUri) {
      const url = new URL(jwksUri);
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && insecureOk)) {
        // A stored config this cache cannot use (applied before https was enforced at apply): the
        // exchange fails as unavailable (503), never as a server error.
        throw new TetherError('unavailable', `the issuer's jwks_uri must use https (got ${url.protocol}); fix the issuer config`);
      }
      const key = url.href;
      let entry = entries.get(key);
      if (entry === undefined) {
        entry = { fetchedAtMs: -Infinity, lastAttemptMs: -Infinity };
        entries.set(key, entry);
      }
      const e = entry;

      return async (header, token) => {
        if (e.resolve === undefined) {
          if (e.inflight === undefined && !mayFetch(e)) {
            throw new TetherError('invalid_grant', 'the issuer\'s keys are unavailable (its jwks_uri failed recently); retry later');
          }
          try {
            await load(key, e);
          } catch {
            throw new TetherError('invalid_grant', 'the issuer\'s keys could not be fetched from its jwks_uri; retry later');
          }
        } else if (nowMs() - e.fetchedAtMs > maxAgeMs && mayFetch(e)) {
          await load(key, e).catch(() => undefined); // stale but good keys beat no keys
        }
        const current = e.resolve;
        if (current === undefined) throw new TetherError('invalid_grant', 'the issuer\'s keys are unavailable; retry later');
        try {
          return await current(header, token);
        } catch (err) {
          // Unknown kid: the issuer may have rotated. Refetch, rate-limited, then try once more.
          if (err instanceof errors.JWKSNoMatchingKey && (e.inflight !== undefined || mayFetch(e))) {
            await load(key, e).catch(() => undefined);
            if (e.resolve !== undefined && e.resolve !== current) return e.resolve(header, token);
          }
          throw err;
        }
      };
    },
  };
}

/** Reads a response body but stops at `limit` bytes, so a hostile endpoint cannot exhaust memory. */
async function readLimited(res: Response, limit: number): Promise<string> {
  const reader = res.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new Error('jwks_uri response is too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
