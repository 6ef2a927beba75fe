import type { JWTPayload } from 'jose';
import { TetherError } from '../errors.js';

/**
 * Subject tokens vouch for a workload for minutes (GitHub Actions: 5-10 min, Kubernetes projected
 * tokens: 1 h by default, JWT-SVIDs: minutes). A token valid for years is a standing credential in
 * disguise and one whose `iat` lies ahead was minted with a broken or hostile clock: both are
 * refused (RFC 7519 §4.1.4, §4.1.6 leave the bounds to the recipient; RFC 8725 §3.10 asks for them).
 *
 * - `exp` is required (jwtVerify checks it is present and not past);
 * - `iat`, when present, is not ahead of now by more than the skew;
 * - the lifetime, `exp − iat` (or `exp − now` without `iat`), is at most the issuer's
 *   `max_token_lifetime` (seconds; default 24 h).
 */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;

export function checkLifetime(claims: JWTPayload, now: number, skewSeconds: number, maxSeconds: number): void {
  const { exp, iat } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new TetherError('invalid_grant', 'subject token exp must be a number');
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) throw new TetherError('invalid_grant', 'subject token iat must be a number');
  if (iat !== undefined && iat > now + skewSeconds) throw new TetherError('invalid_grant', 'subject token iat is in the future');
  const lifetime = exp - (iat ?? now);
  if (lifetime > maxSeconds + skewSeconds) {
    throw new TetherError('invalid_grant', `subject token lifetime (exp − iat) is over the issuer's maximum of ${maxSeconds} s`);
  }
}
