import type { JWTHeaderParameters, JWTPayload } from 'jose';

/** What jose's `jwtVerify` returned for a token: its verified payload and protected header. */
export interface VerifiedJwt {
  readonly payload: JWTPayload;
  readonly protectedHeader: JWTHeaderParameters;
}

export interface VerifiedJwtCacheOptions {
  /** Most tokens remembered (least recently used goes first). */
  max: number;
  /** Longer tokens are never remembered, so the cache's memory stays bounded by max × this. */
  maxTokenChars: number;
}

/**
 * jose `jwtVerify` results for token strings already verified, so the same bytes presented again are
 * not parsed and signature-checked again: a workload reuses one access token for many requests and
 * one platform token for several exchanges, and each check was a WebCrypto verify.
 *
 * Only what is a pure function of the inputs is remembered: the signature over these exact bytes by
 * this exact key object, and the claim checks against the same options (`scope` names them: issuer,
 * audience, typ, algorithms…). What depends on the time is checked again on every use by
 * {@link stillTimely} (`exp`, `nbf`, RFC 7519 §4.1.4–4.1.5), and the caller passes the key it would
 * verify with now, so a key rotated out (or a JWKS refetched) misses. Anything that fails those checks
 * is verified again in full, which gives jose's own refusal. Revocation, replay and every other check
 * outside `jwtVerify` stay with the caller, on every use.
 *
 * Only tokens that verified are admitted, so an attacker cannot fill it with garbage; the returned
 * objects are frozen, since every caller shares them.
 */
export function createVerifiedJwtCache(o: VerifiedJwtCacheOptions) {
  const entries = new Map<string, { scope: string; key: object; result: VerifiedJwt }>();
  return {
    /** The earlier result for this token, unchecked: only to learn which key to ask `get` about. */
    peek: (token: string): VerifiedJwt | undefined => entries.get(token)?.result,
    /**
     * The earlier result for this token, if it was verified under `scope`, `keyNow` (given that
     * result's header) is the very key object it was verified with, and it is still in its time window.
     */
    get(token: string, scope: string, keyNow: (r: VerifiedJwt) => object | undefined, now: number, toleranceSeconds: number): VerifiedJwt | undefined {
      const hit = entries.get(token);
      if (hit === undefined) return undefined;
      if (hit.scope !== scope || keyNow(hit.result) !== hit.key || !stillTimely(hit.result.payload, now, toleranceSeconds)) {
        entries.delete(token);
        return undefined;
      }
      entries.delete(token);
      entries.set(token, hit);
      return hit.result;
    },
    /** Remembers a result jose just gave for `token` verified under `scope` with `key`; returns it frozen. */
    set(token: string, scope: string, key: object, result: VerifiedJwt): VerifiedJwt {
      const frozen = deepFreeze({ payload: result.payload, protectedHeader: result.protectedHeader });
      if (token.length > o.maxTokenChars) return frozen;
      entries.delete(token);
      entries.set(token, { scope, key, result: frozen });
      if (entries.size > o.max) entries.delete(entries.keys().next().value as string);
      return frozen;
    },
    size: () => entries.size,
  };
}

export type VerifiedJwtCache = ReturnType<typeof createVerifiedJwtCache>;

/** jose's time checks (`exp` > now − tolerance, `nbf` ≤ now + tolerance), with its own rule that a non-number fails. */
export function stillTimely(payload: JWTPayload, now: number, toleranceSeconds: number): boolean {
  const { exp, nbf } = payload;
  if (exp !== undefined && (typeof exp !== 'number' || exp <= now - toleranceSeconds)) return false;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + toleranceSeconds)) return false;
  return true;
}

/** Freezes an object graph parsed from JSON (no cycles), so a shared verified result cannot be altered. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}
