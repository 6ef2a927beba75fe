import { createHash, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import type { SingleUseClaim } from '../audit/claims.js';
import { TetherError } from '../errors.js';
import type { AsymmetricJwsAlgorithm } from './algorithms.js';
import { DEFAULT_JWS_ALGORITHMS, hasPrivateMembers, isAsymmetricJwsAlgorithm } from './algorithms.js';
import { epochSeconds, type Clock } from '../clock.js';
import type { DpopNonces } from './dpop-nonce.js';
import { jwsSignatureVerifies, publicKeyFor } from './jws-signature.js';
import { normalizeHtu } from './htu.js';
import type { ReplayGuard } from './replay-guard.js';

/** Advertise these as `dpop_signing_alg_values_supported` (RFC 9449 §5.1). */
export const DPOP_SIGNING_ALGORITHMS: readonly AsymmetricJwsAlgorithm[] = DEFAULT_JWS_ALGORITHMS;

export interface VerifyDpopProofOptions {
  /** The request's method, compared exactly (RFC 9449 §4.3 step 8). */
  htm: string;
  /** The request URI as the client addressed it; compared after {@link normalizeHtu}. */
  htu: string;
  /** Resource side: the access token presented with the proof; `ath` is then required (§4.3 step 11). */
  accessToken?: string;
  /** Resource side: the token's `cnf.jkt`; the proof key must have this thumbprint (§6.1). */
  expectedJkt?: string;
  /** When set, a valid server nonce is required (§8, §9); a missing or stale one → `use_dpop_nonce`. */
  nonce?: Pick<DpopNonces, 'issue' | 'check'>;
  /** Single use of `jti` (§11.1). Required: a proof check without replay protection is not a proof check. */
  replayGuard: ReplayGuard;
  /**
   * Leave the guard's shared claim to the caller (when the guard can): the proof is returned with
   * `pendingClaim`, which the caller must make atomically with what the proof authorizes. The local
   * claim is still made here.
   */
  deferSharedClaim?: boolean;
  clock: Clock;
  /** How old `iat` may be (§4.3 step 11, §11.1). Default 60. */
  iatWindowSeconds?: number;
  /** How far in the future `iat` may be, for clients whose clock runs ahead. Default 5. */
  skewSeconds?: number;
  /** Accepted proof algorithms; asymmetric only. Default {@link DPOP_SIGNING_ALGORITHMS}. */
  algorithms?: readonly AsymmetricJwsAlgorithm[];
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof key: what `cnf.jkt` binds a token to. */
  jkt: string;
  jti: string;
  iat: number;
  /** The public key from the proof header. */
  jwk: JWK;
  /** With `deferSharedClaim`: the shared single-use claim of this proof's `jti`, not yet made. */
  pendingClaim?: SingleUseClaim;
}

/** A compact proof is three base64url segments and a small header; anything this big is not a proof. */
const MAX_PROOF_BYTES = 8192;
const MAX_JTI_LENGTH = 256;

/**
 * What went wrong with a proof, for callers that must tell a copied token (`key_mismatch`) or a
 * replay apart from a broken proof without reading prose.
 */
export type DpopProofFailure = 'invalid' | 'key_mismatch' | 'replayed';

/** A refused proof: `invalid_dpop_proof`, with the failure kind and, once the signature verified, the key. */
export class DpopProofError extends TetherError {
  readonly failure: DpopProofFailure;
  /** RFC 7638 thumbprint of the proof key, set only when the proof's signature by that key verified. */
  readonly jkt: string | undefined;
  constructor(description: string, failure: DpopProofFailure = 'invalid', jkt?: string) {
    super('invalid_dpop_proof', description);
    this.name = 'DpopProofError';
    this.failure = failure;
    this.jkt = jkt;
  }
}

const refuse = (description: string): DpopProofError => new DpopProofError(description);

/**
 * A proof whose `jti` was already used (§11.1). Also what the kernel throws when a deferred shared
 * claim turns out taken at the audit append (pdp/decide.ts), where the key is not known.
 */
export const replayedProof = (jkt?: string): DpopProofError => new DpopProofError('DPoP proof has already been used (jti replay)', 'replayed', jkt);

/**
 * Verifies a DPoP proof JWT per RFC 9449 §4.3, in the order listed there.
 *
 * Checks: `typ` is `dpop+jwt`; `alg` is in the asymmetric allowlist; no `crit`; the `jwk` header is a
 * public key of the type `alg` needs and verifies the signature (jws-signature.ts: OpenSSL, synchronously,
 * since this runs on every gateway request); `exp`/`nbf` when present; `jti` (≤ 256 chars), `htm`, `htu`, `iat` present;
 * `htm` exact; `htu` equal after normalisation; `iat` within the window; `ath` when an access token
 * is given; the key thumbprint equals `expectedJkt`; the server nonce when required; single use of
 * `jti` per key through the replay guard (claimed last, so a refused proof does not burn its jti).
 *
 * Left to the caller: that the request carried exactly one `DPoP` header (§4.3 step 1); that the
 * access token itself is valid and its `cnf.jkt` is what is passed as `expectedJkt`.
 *
 * Every refusal is `invalid_dpop_proof` (400 at the token endpoint), except a missing or stale nonce,
 * which is `use_dpop_nonce` with a fresh nonce in `extra.dpop_nonce` for the `DPoP-Nonce` header.
 * Refusals are {@link DpopProofError}s; resource servers turn them into 401s (check-resource-request.ts).
 */
export async function verifyDpopProof(proof: string, options: VerifyDpopProofOptions): Promise<VerifiedDpopProof> {
  const {
    htm,
    htu,
    accessToken,
    expectedJkt,
    nonce,
    replayGuard,
    deferSharedClaim = false,
    clock,
    iatWindowSeconds = 60,
    skewSeconds = 5,
    algorithms = DPOP_SIGNING_ALGORITHMS,
  } = options;

  if (typeof proof !== 'string' || proof.length === 0) throw refuse('DPoP proof is missing');
  if (Buffer.byteLength(proof, 'utf8') > MAX_PROOF_BYTES) throw refuse('DPoP proof is too large');

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw refuse('DPoP proof is not a well-formed JWS');
  }
  if (proof.split('.').length !== 3) throw refuse('DPoP proof must be a compact JWS');
  if (header.typ !== 'dpop+jwt') throw refuse('DPoP proof typ header must be "dpop+jwt"');
  if (!isAsymmetricJwsAlgorithm(header.alg) || !algorithms.includes(header.alg)) {
    throw refuse('DPoP proof alg must be one of the supported asymmetric algorithms');
  }
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw refuse('DPoP proof has no jwk header');
  // §4.3 step 7: "the jwk header does not contain a private key". jose refuses private keys too;
  // checking by member names first also refuses symmetric (`k`) keys with a clear reason.
  if (hasPrivateMembers(jwk) || jwk.kty === 'oct') throw refuse('DPoP proof jwk header must be a public key');

  // RFC 7515 §4.1.11: an extension we do not understand must not be ignored; we understand none.
  if (header.crit !== undefined || 'b64' in header) throw refuse('DPoP proof uses a JWS extension (crit, b64) this server does not support');

  const now = epochSeconds(clock);
  // Any JWK a client can write must end in a 400, never a 500: the thumbprint (RFC 7638 §3.2 needs
  // the key type's required members) and the import run inside the same refusal as the signature.
  let jkt: string;
  let key: KeyObject;
  try {
    ({ jkt, key } = await proofKey(header.alg, jwk as JWK));
  } catch {
    throw refuse('DPoP proof jwk header is not a usable public key');
  }
  if (!jwsSignatureVerifies(proof, header.alg, key)) throw refuse('DPoP proof signature is invalid');
  let payload: JWTPayload;
  try {
    payload = decodeJwt(proof);
  } catch {
    throw refuse('DPoP proof payload is not a JSON object');
  }
  // RFC 7519 §4.1.4–4.1.5: not defined for proofs (RFC 9449 §4.2), but honoured when a client sets them.
  if (payload.exp !== undefined && (typeof payload.exp !== 'number' || payload.exp <= now - skewSeconds)) throw refuse('DPoP proof has expired (exp is in the past)');
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now + skewSeconds)) throw refuse('DPoP proof is not yet valid (nbf is in the future)');

  for (const c of ['jti', 'htm', 'htu', 'iat'] as const) if (payload[c] === undefined) throw refuse(`DPoP proof is missing the required "${c}" claim`);
  const { jti, iat } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw refuse(`DPoP proof jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
  }
  if (payload.htm !== htm) throw refuse('DPoP proof htm does not match the request method');
  const proofHtu = typeof payload.htu === 'string' ? normalizeHtu(payload.htu) : undefined;
  if (proofHtu === undefined) throw refuse('DPoP proof htu is not a valid http(s) URI');
  if (proofHtu !== normalizeHtu(htu)) throw refuse('DPoP proof htu does not match the request URI');

  if (typeof iat !== 'number') throw refuse('DPoP proof iat must be a number');
  if (iat > now + skewSeconds) throw refuse('DPoP proof iat is in the future');
  if (iat < now - iatWindowSeconds) throw refuse('DPoP proof iat is too old');

  if (accessToken !== undefined) {
    // §4.3 step 11 / §4.2: ath = base64url(SHA-256(ASCII(access token))).
    if (typeof payload.ath !== 'string') throw refuse('DPoP proof must carry ath when an access token is presented');
    const expected = createHash('sha256').update(accessToken, 'ascii').digest();
    const given = Buffer.from(payload.ath, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw refuse('DPoP proof ath does not match the access token');
    }
  }

  const publicJwk = jwk as JWK;
  if (expectedJkt !== undefined && !sameString(jkt, expectedJkt)) {
    throw new DpopProofError('DPoP proof key does not match the key the access token is bound to', 'key_mismatch', jkt);
  }

  if (nonce !== undefined) {
    if (typeof payload.nonce !== 'string' || !nonce.check(payload.nonce)) {
      const reason = payload.nonce === undefined ? 'a DPoP nonce is required' : 'the DPoP nonce is stale or unknown';
      throw new TetherError('use_dpop_nonce', `${reason}; retry with the nonce from the DPoP-Nonce header`, {
        dpop_nonce: nonce.issue(),
      });
    }
  }

  // §11.1: a jti is single use for as long as the proof could be accepted. Keyed per proof key so one
  // client cannot burn another's jti values, and hashed so the store holds fixed-size keys.
  const replayKey = createHash('sha256').update(`dpop\0${jkt}\0${jti}`).digest('base64url');
  const until = iat + iatWindowSeconds + skewSeconds;
  if (deferSharedClaim && replayGuard.claimDeferred) {
    const pending = await replayGuard.claimDeferred(replayKey, until);
    if (pending === false) throw replayedProof(jkt);
    return { jkt, jti, iat, jwk: publicJwk, ...(pending ? { pendingClaim: pending } : {}) };
  }
  if (!(await replayGuard.claim(replayKey, until))) throw replayedProof(jkt);

  return { jkt, jti, iat, jwk: publicJwk };
}

/**
 * Proof keys' RFC 7638 thumbprints and imported forms, keyed by a SHA-256 of the `jwk` header exactly
 * as sent and the algorithm (the same members give the same thumbprint and key): an LRU that admits a
 * key only on its second sighting. Workloads sign every proof with the same key, so a cached key saves
 * the thumbprint (a WebCrypto digest) and the key parse on every proof. But the key in a proof is the
 * client's choice (RFC 9449 §4.2), and an imported key holds native memory outside the V8 heap (some
 * KB each): a cache of every key ever seen grows without bound, and a client minting a key per proof
 * fills it. A key seen once costs one thumbprint and one import; the
 * seen-once set holds only digests.
 */
export function createImportedKeyCache(o: { max: number; seenOnceMax: number }) {
  const cache = new Map<string, { jkt: string; key: KeyObject }>();
  const seenOnce = new Set<string>();
  return {
    async get(alg: AsymmetricJwsAlgorithm, jwk: JWK): Promise<{ jkt: string; key: KeyObject }> {
      const id = createHash('sha256').update(alg).update('\0').update(JSON.stringify(jwk)).digest('base64url');
      const hit = cache.get(id);
      if (hit) {
        cache.delete(id);
        cache.set(id, hit);
        return hit;
      }
      // The key first: an unusable one (wrong type, size, spelling) is refused before its digest.
      const key = publicKeyFor(alg, jwk);
      const entry = { jkt: await calculateJwkThumbprint(jwk, 'sha256'), key };
      if (!seenOnce.delete(id)) {
        seenOnce.add(id);
        if (seenOnce.size > o.seenOnceMax) seenOnce.delete(seenOnce.values().next().value as string);
        return entry;
      }
      cache.set(id, entry);
      if (cache.size > o.max) cache.delete(cache.keys().next().value as string);
      return entry;
    },
    sizes: () => ({ cached: cache.size, seenOnce: seenOnce.size }),
  };
}

const keyCache = createImportedKeyCache({ max: 1000, seenOnceMax: 10000 });
const proofKey = keyCache.get;

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
