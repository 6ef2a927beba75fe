import { createLocalJWKSet, decodeJwt, errors, jwtVerify } from 'jose';
import type { CryptoKey, JWTPayload, JWTVerifyOptions } from 'jose';
import { TetherError, isTetherError } from '../errors.js';
import { DEFAULT_JWS_ALGORITHMS, describeJoseError } from '../tokens/index.js';
import { epochSeconds, type Clock } from '../clock.js';
import type { ReplayGuard, VerifiedJwtCache } from '../tokens/index.js';
import { createVerifiedJwtCache } from '../tokens/index.js';
import { checkClaimConstraints, renderIdentity } from './claims.js';
import type { IssuerConfig } from './issuer-config.js';
import type { JwksCache, JwksKeyResolver } from './jwks-cache.js';
import { checkAssertionClaims, claimAssertionJti } from './private-key-jwt.js';
import { checkLifetime, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from './token-lifetime.js';
import { publicKeysOnly } from './public-keys.js';
import { spiffeTrustDomain } from './spiffe-id.js';

export interface VerifySubjectTokenOptions {
  jwks: JwksCache;
  clock: Clock;
  /** Tolerance on `exp`, `nbf` (and `iat` where checked). Default 30 s. */
  skewSeconds?: number;
  /** Larger tokens are refused before any parsing. Default 16 KiB. */
  maxTokenBytes?: number;
  /** Single use of private_key_jwt assertions; required when such an issuer is configured. */
  replayGuard?: ReplayGuard;
}

export interface VerifiedSubjectToken {
  issuer: IssuerConfig;
  /** The verified claims. */
  claims: JWTPayload;
  /** The Identity id the issuer's template maps these claims to. */
  identityId: string;
}

const refuse = (description: string): TetherError => new TetherError('invalid_grant', description);

/**
 * Verifies an RFC 8693 `subject_token` (type `urn:ietf:params:oauth:token-type:jwt`) against the
 * configured issuers and maps it to an identity id.
 *
 * The unverified `iss` only routes the token to candidate issuer configs (several may share an
 * `iss`, e.g. one per GitHub organisation); nothing else is read before the signature is checked.
 * For each candidate: signature with that issuer's keys only, `alg` in its asymmetric allowlist,
 * `iss`, `aud`, `exp` required, `nbf` honoured, with `skewSeconds`; a bounded lifetime
 * (token-lifetime.ts); then the kind-specific rules,
 * the claim constraints, the identity template. The first candidate that passes wins.
 *
 * Every refusal is `invalid_grant` (RFC 8693 §2.2.2) with a reason and never the token.
 * Left to the caller: whether the identity exists and is active, and policy.
 */
export async function verifySubjectToken(
  token: string,
  issuers: readonly IssuerConfig[],
  options: VerifySubjectTokenOptions,
): Promise<VerifiedSubjectToken> {
  const { skewSeconds = 30, maxTokenBytes = 16384 } = options;
  if (typeof token !== 'string' || token.length === 0) throw refuse('subject_token is missing');
  if (Buffer.byteLength(token, 'utf8') > maxTokenBytes) throw refuse(`subject token is larger than ${maxTokenBytes} bytes`);
  if (token.split('.').length !== 3) throw refuse('subject token must be a signed JWT in compact form (JWS), not a JWE or opaque token');

  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token); // routing only: nothing read here is trusted
  } catch {
    throw refuse('subject token is not a well-formed JWT');
  }

  const candidates = issuers.filter((c) => routesTo(c, unverified));
  if (candidates.length === 0) {
    const iss = typeof unverified.iss === 'string' ? ` "${printable(unverified.iss)}"` : '';
    throw refuse(`no trusted issuer matches the subject token's iss${iss}`);
  }

  if (options.replayGuard === undefined && candidates.some((c) => c.kind === 'private_key_jwt')) {
    // A wiring mistake, not a client error: surface it as one (500), never as a token refusal.
    throw new TypeError('verifySubjectToken: a replayGuard is required for private_key_jwt issuers');
  }

  let firstError: unknown;
  for (const issuer of candidates) {
    try {
      return await verifyWith(token, issuer, options, skewSeconds);
    } catch (e) {
      // Token refusals move on to the next candidate; anything else is a bug or a wiring mistake.
      if (!isTetherError(e) && !(e instanceof errors.JOSEError)) throw e;
      firstError ??= e;
    }
  }
  if (isTetherError(firstError)) throw firstError;
  throw refuse(describeJoseError(firstError, 'subject token'));
}

function routesTo(c: IssuerConfig, t: JWTPayload): boolean {
  // Exactly the configured issuer identifier, for every kind: an issuer's `name` is a label in our
  // config, never something a token may claim to be (RFC 7523 §3 item 1: iss identifies the issuer).
  if (t.iss !== undefined) return t.iss === c.issuer;
  // JWT-SVIDs may omit iss (JWT-SVID spec §3): route by the sub's trust domain instead.
  return c.kind === 'spiffe' && spiffeTrustDomain(t.sub) === c.issuer;
}

async function verifyWith(
  token: string,
  issuer: IssuerConfig,
  options: VerifySubjectTokenOptions,
  skewSeconds: number,
): Promise<VerifiedSubjectToken> {
  const now = epochSeconds(options.clock);
  const kind = issuer.kind ?? 'oidc';
  const spiffeByTrustDomain = kind === 'spiffe' && issuer.issuer.startsWith('spiffe://');
  const verifyOptions: JWTVerifyOptions = {
    issuer: spiffeByTrustDomain ? undefined : issuer.issuer,
    audience: issuer.audience,
    algorithms: [...(issuer.algorithms ?? DEFAULT_JWS_ALGORITHMS)],
    requiredClaims: ['exp'],
    currentDate: new Date(now * 1000),
    clockTolerance: skewSeconds,
  };
  const claims = await verifyJwt(token, keysFor(issuer, options.jwks), verifyOptions, verifiedTokens(issuer), now, skewSeconds);
  checkLifetime(claims, now, skewSeconds, issuer.max_token_lifetime ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS);

  if (kind === 'spiffe') {
    const td = spiffeTrustDomain(claims.sub);
    if (td === undefined) throw refuse('JWT-SVID sub must be a SPIFFE ID (spiffe://trust-domain/path)');
    if (spiffeByTrustDomain && (td !== issuer.issuer || (claims.iss !== undefined && claims.iss !== issuer.issuer))) {
      throw refuse('JWT-SVID sub is not in the issuer\'s trust domain');
    }
  }
  if (kind === 'private_key_jwt') checkAssertionClaims(claims, now, skewSeconds);
  checkClaimConstraints(issuer.claims, claims);
  const identityId = renderIdentity(issuer.identity, claims);
  if (kind === 'private_key_jwt' && options.replayGuard !== undefined) {
    await claimAssertionJti(issuer, claims, options.replayGuard, skewSeconds);
  }
  return { issuer, claims, identityId };
}

/**
 * Platform tokens verified before, per issuer config (a changed config is a new object, so a fresh
 * cache): a workload presents one platform token for several exchanges (tokens/verified-jwt-cache.ts
 * says what is and is not remembered). Everything after the signature (lifetime, kind rules, claim
 * constraints, assertion replay) runs on every exchange.
 */
const verifiedByIssuer = new WeakMap<IssuerConfig, VerifiedJwtCache>();

function verifiedTokens(issuer: IssuerConfig): VerifiedJwtCache {
  let cache = verifiedByIssuer.get(issuer);
  if (cache === undefined) {
    cache = createVerifiedJwtCache({ max: 4096, maxTokenChars: 4096 });
    verifiedByIssuer.set(issuer, cache);
  }
  return cache;
}

/**
 * jwtVerify with jose's documented handling of a kid-less token that matches several keys: try each
 * candidate, accept the first valid signature (jose's createLocalJWKSet example). A token this
 * issuer's single matching key verified before is answered from `cache` while that key is still the
 * one the issuer's key set gives for it (a refetched or rotated set misses) and it is in its time window.
 */
async function verifyJwt(token: string, keys: JwksKeyResolver, options: JWTVerifyOptions, cache: VerifiedJwtCache, now: number, skewSeconds: number): Promise<JWTPayload> {
  const scope = JSON.stringify([options.issuer ?? null, options.audience ?? null, options.algorithms ?? null, options.requiredClaims ?? null]);
  const earlier = cache.peek(token);
  if (earlier !== undefined) {
    const [protectedPart = '', payloadPart = '', signature = ''] = token.split('.');
    const keyNow = await keys(earlier.protectedHeader, { protected: protectedPart, payload: payloadPart, signature }).catch(() => undefined);
    const hit = cache.get(token, scope, () => keyNow, now, skewSeconds);
    if (hit !== undefined) return hit.payload;
  }
  let used: CryptoKey | undefined;
  const capturing: JwksKeyResolver = async (h, t) => (used = await keys(h, t));
  try {
    const { payload, protectedHeader } = await jwtVerify(token, capturing, options);
    return used === undefined ? payload : cache.set(token, scope, used, { payload, protectedHeader }).payload;
  } catch (e) {
    if (!(e instanceof errors.JWKSMultipleMatchingKeys)) throw e;
    for await (const key of e) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** Inline key sets are compiled once per config object. */
const inlineKeys = new WeakMap<IssuerConfig, JwksKeyResolver>();

function keysFor(issuer: IssuerConfig, cache: JwksCache): JwksKeyResolver {
  if (issuer.jwks_uri !== undefined) return cache.keyResolver(issuer.jwks_uri);
  let resolver = inlineKeys.get(issuer);
  if (resolver === undefined) {
    resolver = createLocalJWKSet(publicKeysOnly(issuer.jwks?.keys ?? []));
    inlineKeys.set(issuer, resolver);
  }
  return resolver;
}

/** For error messages: an unverified string from the token, trimmed and stripped of control characters. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}
