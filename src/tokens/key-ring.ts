import { KeyObject, sign as signBytes } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import type { CryptoKey, JSONWebKeySet, JWK, JWTHeaderParameters, JWTPayload } from 'jose';
import { TetherError } from '../errors.js';
import { hasPrivateMembers } from './algorithms.js';
import { epochSeconds, type Clock } from '../clock.js';
import { describeJoseError } from './jose-reason.js';
import { openPrivateKey } from './key-seal.js';
import type { SigningAlgorithm } from './signing-keys.js';
import { SIGNING_ALGORITHMS } from './signing-keys.js';
import { createVerifiedJwtCache } from './verified-jwt-cache.js';

/** A signing key as the store keeps it: the private half only ever sealed. */
export interface StoredSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JWK;
  /** Output of sealPrivateKey. */
  sealed: string;
  /** Epoch seconds. A key whose createdAt is in the future is published but not yet used to sign. */
  createdAt: number;
  /** Epoch seconds. From then on the key no longer signs; it stays published while its tokens can live. */
  retiredAt?: number | null;
}

export interface KeyRingOptions {
  masterKey: Buffer;
  clock: Clock;
  /**
   * The longest lifetime of any token this ring signs. A retired key stays in the JWKS this long after
   * retirement so every token it signed can still be verified; `sign` refuses longer-lived tokens.
   */
  maxTokenLifetimeSeconds: number;
}

export interface KeyRingVerifyOptions {
  issuer: string;
  audience?: string | string[];
  /** Required `typ` header, e.g. `at+jwt` (RFC 9068 §4). */
  typ?: string;
  clock: Clock;
  skewSeconds?: number;
}

export interface KeyRing {
  readonly maxTokenLifetimeSeconds: number;
  /** The key that signs now: the newest one created and not retired. */
  activeKey(): { kid: string; alg: SigningAlgorithm };
  /** The public JWKS to serve at `jwks_uri`: upcoming, active, and recently retired keys. */
  jwks(): JSONWebKeySet;
  /** Signs `claims` with the active key. `exp` is required and bounded by maxTokenLifetimeSeconds. */
  sign(claims: JWTPayload, header: { typ: string }): Promise<string>;
  /**
   * Verifies a JWT this broker signed, with local keys only: the header's `kid` selects one published
   * key, `jku`/`x5u`/`jwk` headers are ignored, an unknown `kid` is `invalid_token`. Requires `exp`,
   * `iat`, `jti`, `sub`. Every refusal is `invalid_token`.
   */
  verifyJwt(token: string, options: KeyRingVerifyOptions): Promise<{ payload: JWTPayload; protectedHeader: JWTHeaderParameters }>;
}

interface RingKey {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JWK;
  publicKey: CryptoKey;
  /** Only keys that may still sign are unsealed; a retired key's private half stays sealed. */
  privateKey: KeyObject | undefined;
  createdAt: number;
  retiredAt: number | undefined;
}

const MAX_TOKEN_BYTES = 16384;

const b64json = (v: object): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/**
 * Builds a key ring from stored keys. Rebuild it when the key table changes (rotation is a row
 * insert plus a `retiredAt` update, announced by notification).
 */
export async function createKeyRing(stored: readonly StoredSigningKey[], options: KeyRingOptions): Promise<KeyRing> {
  const { masterKey, clock, maxTokenLifetimeSeconds } = options;
  if (!Number.isFinite(maxTokenLifetimeSeconds) || maxTokenLifetimeSeconds <= 0) {
    throw new TypeError('createKeyRing: maxTokenLifetimeSeconds must be positive');
  }
  const now0 = epochSeconds(clock);
  const keys: RingKey[] = [];
  for (const s of stored) {
    if (!SIGNING_ALGORITHMS.includes(s.alg)) throw new TypeError(`createKeyRing: key ${s.kid} has unsupported alg`);
    if (hasPrivateMembers(s.publicJwk)) throw new TypeError(`createKeyRing: key ${s.kid} publicJwk holds private members`);
    if ((await calculateJwkThumbprint(s.publicJwk, 'sha256')) !== s.kid) {
      throw new TypeError(`createKeyRing: key ${s.kid} publicJwk does not match its kid`);
    }
    const retiredAt = s.retiredAt ?? undefined;
    const mayStillSign = retiredAt === undefined || retiredAt > now0;
    let privateKey: KeyObject | undefined;
    if (mayStillSign) {
      const privateJwk = await openPrivateKey(s.sealed, masterKey, s.kid);
      // jose imports and checks the key for its algorithm; node:crypto signs with it (see sign).
      privateKey = KeyObject.from((await importJWK(privateJwk, s.alg, { extractable: false })) as CryptoKey);
    }
    const { kty, crv, x, y, n, e } = s.publicJwk;
    const publicJwk: JWK = Object.fromEntries(
      Object.entries({ kty, crv, x, y, n, e, kid: s.kid, alg: s.alg, use: 'sig' }).filter(([, v]) => v !== undefined),
    );
    const publicKey = (await importJWK(publicJwk, s.alg)) as CryptoKey;
    keys.push({ kid: s.kid, alg: s.alg, publicJwk, publicKey, privateKey, createdAt: s.createdAt, retiredAt });
  }
  keys.sort((a, b) => b.createdAt - a.createdAt); // newest first

  // A workload presents one access token on many requests: its signature is checked once per ring
  // (the ring is rebuilt when the key table changes), its time window and key on every use.
  const verified = createVerifiedJwtCache({ max: 10_000, maxTokenChars: 4096 });

  const isRetired = (k: RingKey, now: number): boolean => k.retiredAt !== undefined && k.retiredAt <= now;
  const isPublished = (k: RingKey, now: number): boolean =>
    k.retiredAt === undefined || k.retiredAt + maxTokenLifetimeSeconds > now;

  function active(now: number): RingKey & { privateKey: KeyObject } {
    const key = keys.find((k) => k.createdAt <= now && !isRetired(k, now) && k.privateKey !== undefined);
    if (key === undefined || key.privateKey === undefined) {
      throw new TetherError('unavailable', 'no active signing key: generate one or un-retire a key');
    }
    return key as RingKey & { privateKey: KeyObject };
  }

  return {
    maxTokenLifetimeSeconds,

    activeKey() {
      const { kid, alg } = active(epochSeconds(clock));
      return { kid, alg };
    },

    jwks() {
      const now = epochSeconds(clock);
      return { keys: keys.filter((k) => isPublished(k, now)).map((k) => ({ ...k.publicJwk })) };
    },

    async sign(claims, header) {
      const now = epochSeconds(clock);
      const key = active(now);
      if (typeof claims.exp !== 'number') throw new TypeError('KeyRing.sign: claims.exp is required');
      if (claims.exp - now > maxTokenLifetimeSeconds) {
        throw new TypeError('KeyRing.sign: token lifetime exceeds maxTokenLifetimeSeconds');
      }
      // RFC 7515 §7.1 compact serialization of our own header and claims (nothing is parsed here),
      // signed synchronously: a WebCrypto sign is a thread-pool job and several promise turns per
      // token, which the token endpoint pays on every exchange. RFC 7518 §3.4: ES256 signatures are
      // R ‖ S (ieee-p1363), not DER; Ed25519 (RFC 8037 §3.1) takes no digest.
      const input = `${b64json({ typ: header.typ, alg: key.alg, kid: key.kid })}.${b64json(claims)}`;
      const sig = key.alg === 'ES256' ? signBytes('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }) : signBytes(null, Buffer.from(input), key.privateKey);
      return `${input}.${sig.toString('base64url')}`;
    },

    async verifyJwt(token, { issuer, audience, typ, clock: verifyClock, skewSeconds = 5 }) {
      const refuse = (why: string): TetherError => new TetherError('invalid_token', why);
      if (typeof token !== 'string' || token.length === 0) throw refuse('access token is missing');
      if (token.length > MAX_TOKEN_BYTES) throw refuse('access token is too large');
      const now = epochSeconds(verifyClock);
      const publishedKey = (kid: unknown) => (typeof kid === 'string' ? keys.find((k) => k.kid === kid && isPublished(k, now)) : undefined);
      const scope = JSON.stringify([issuer, audience ?? null, typ ?? null]);
      const seen = verified.get(token, scope, (r) => publishedKey(r.protectedHeader.kid)?.publicKey, now, skewSeconds);
      if (seen !== undefined) return seen;
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw refuse('access token is not a well-formed JWS');
      }
      // Local keys only: a `kid` we did not publish is refused outright, never fetched (RFC 8725 §3.10).
      const key = publishedKey(header.kid);
      if (key === undefined) throw refuse('access token kid is not one of this issuer\'s signing keys');
      if (header.alg !== key.alg) throw refuse('access token alg does not match its signing key');
      try {
        const { payload, protectedHeader } = await jwtVerify(token, key.publicKey, {
          issuer,
          audience,
          typ,
          algorithms: [key.alg],
          requiredClaims: ['exp', 'iat', 'jti', 'sub'],
          currentDate: new Date(now * 1000),
          clockTolerance: skewSeconds,
        });
        return verified.set(token, scope, key.publicKey, { payload, protectedHeader });
      } catch (e) {
        // The jose error rides along as `cause` so the resource check can tell an expired or
        // foreign-audience token (signature verified) from a forged one without reading prose.
        throw Object.assign(refuse(describeJoseError(e, 'access token')), { cause: e });
      }
    },
  };
}
