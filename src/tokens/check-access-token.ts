import { errors } from 'jose';
import { TetherError } from '../errors.js';
import type { RevocationSet } from '../revocation/index.js';
import { verifyAccessToken, type AccessTokenClaims } from './access-token.js';
import type { KeyStore } from './key-store.js';
import { TokenRefusal, type TokenRefusalFacts } from './token-refusal.js';
import type { Clock } from '../clock.js';

export interface TokenCheckDeps {
  keys: Pick<KeyStore, 'ring'>;
  revocations: Pick<RevocationSet, 'check'>;
  issuerUrl: () => string;
  clock: Clock;
  /** False while this instance may have missed revocations (change feed down): fail closed. */
  isCurrent: () => boolean;
}

export type TokenCheck = { ok: true; claims: AccessTokenClaims } | { ok: false; refusal: TokenRefusal };

const MAX_TOKEN_CHARS = 8192;
const REVOKED = /^(token|grant|identity|issuer) revoked$/;

/**
 * The token half of the resource-server check (check-resource-request.ts is the whole of it):
 * signature by one of our own published keys, `typ: at+jwt`, `iss`, `exp`/`iat`, the expected
 * audience when given, then the revocation set. The revocation set is only consulted, and only
 * trusted, while this instance is current; otherwise a token that verified is refused with
 * `state_may_be_stale` (DESIGN.md Storage: an instance that cannot tell fails closed).
 *
 * Does NOT check: how the token was presented (scheme, DPoP proof), identity status, or whether
 * the scope or policy allow anything. Introspection and RFC 7009 revocation use it as it is.
 */
export async function checkAccessToken(deps: TokenCheckDeps, token: string, audience?: string): Promise<TokenCheck> {
  const refuse = (r: TokenRefusal): TokenCheck => ({ ok: false, refusal: r });
  if (token.length > MAX_TOKEN_CHARS) return refuse(new TokenRefusal('token_invalid', 'access token is too large'));
  let claims: AccessTokenClaims;
  try {
    claims = await verifyAccessToken(deps.keys.ring(), token, {
      issuer: deps.issuerUrl(),
      ...(audience !== undefined ? { audience } : {}),
      clock: deps.clock,
    });
  } catch (e) {
    if (!(e instanceof TetherError)) throw e;
    const cause = (e as { cause?: unknown }).cause;
    // jose checks claims only after the signature verified: these two are our tokens, just unusable here.
    if (cause instanceof errors.JWTExpired) return refuse(new TokenRefusal('token_expired', e.message));
    if (cause instanceof errors.JWTClaimValidationFailed && cause.claim === 'aud') return refuse(new TokenRefusal('token_wrong_audience', e.message));
    return refuse(new TokenRefusal('token_invalid', e.message));
  }
  if (!deps.isCurrent()) return refuse(new TokenRefusal('state_may_be_stale', 'revocation state may be stale on this instance; try again', { claims }));
  let dead = deps.revocations.check({ jti: claims.jti, grant: claims.grant, sub: claims.sub, iat: claims.iat });
  // A delegated token (RFC 8693 §4.1 `act`) dies with any identity in its actor chain, too.
  for (let a = claims.act, depth = 0; dead === null && a !== undefined && depth < 16; a = a.act, depth++) {
    const d = deps.revocations.check({ jti: '', grant: '', sub: a.sub, iat: claims.iat });
    if (d !== null) dead = d;
  }
  if (dead) {
    const kind = REVOKED.exec(dead)?.[1] as TokenRefusalFacts['revoked'];
    return refuse(new TokenRefusal('token_revoked', `access token is no longer valid: ${dead}`, { claims, ...(kind ? { revoked: kind } : {}) }));
  }
  return { ok: true, claims };
}
