import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { TetherError } from '../errors.js';
import type { ReplayGuard } from '../tokens/index.js';
import type { IssuerConfig } from './issuer-config.js';

/**
 * RFC 7523 §3 checks for a workload's self-signed assertion (issuer kind `private_key_jwt`), on top
 * of the signature, `iss`, `aud` and `exp` checks every subject token gets:
 *
 * - `sub` equals `iss` (§3 items 1-2: the workload asserts itself, it does not vouch for another);
 * - `exp` at most five minutes ahead, so a leaked assertion is short-lived even if never presented;
 * - `jti` present and used once (§3 item 7), through the caller's replay guard.
 */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const MAX_JTI_LENGTH = 256;

export function checkAssertionClaims(claims: JWTPayload, now: number, skewSeconds: number): void {
  if (typeof claims.sub !== 'string' || claims.sub !== claims.iss) {
    throw new TetherError('invalid_grant', 'private_key_jwt assertion sub must equal its iss');
  }
  if (typeof claims.exp !== 'number' || claims.exp > now + MAX_ASSERTION_LIFETIME_SECONDS + skewSeconds) {
    throw new TetherError('invalid_grant', `private_key_jwt assertion exp must be at most ${MAX_ASSERTION_LIFETIME_SECONDS} s ahead`);
  }
  if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > MAX_JTI_LENGTH) {
    throw new TetherError('invalid_grant', `private_key_jwt assertion needs a jti of 1 to ${MAX_JTI_LENGTH} characters`);
  }
}

/** Records the assertion's jti; call last, once everything else passed, so refusals burn nothing. */
export async function claimAssertionJti(
  issuer: IssuerConfig,
  claims: JWTPayload,
  replayGuard: ReplayGuard,
  skewSeconds: number,
): Promise<void> {
  const key = createHash('sha256').update(`pkjwt\0${issuer.name}\0${String(claims.jti)}`).digest('base64url');
  if (!(await replayGuard.claim(key, Number(claims.exp) + skewSeconds))) {
    throw new TetherError('invalid_grant', 'private_key_jwt assertion has already been used (jti replay)');
  }
}
