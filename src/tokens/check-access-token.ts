import { TetherError } from '../errors.js';
import type { RevocationSet } from '../revocation/index.js';
import { verifyAccessToken, type AccessTokenClaims } from './access-token.js';
import type { KeyStore } from './key-store.js';

/**
 * The resource side's token check, shared by introspection and every decision entry point:
 * signature with our own keys only, `typ: at+jwt`, issuer, expiry, optional audience, then the
 * in-memory revocation set. What it does not check: the DPoP proof (the caller's next step).
 */
export async function checkAccessToken(
  deps: { keys: Pick<KeyStore, 'ring'>; revocations: Pick<RevocationSet, 'check'>; issuerUrl: () => string; clock: () => Date },
  token: string,
  audience?: string,
): Promise<AccessTokenClaims> {
  if (token.length > 8192) throw new TetherError('invalid_token', 'access token is too large');
  const claims = await verifyAccessToken(deps.keys.ring(), token, {
    issuer: deps.issuerUrl(),
    ...(audience ? { audience } : {}),
    clock: () => Math.floor(deps.clock().getTime() / 1000),
  });
  const dead = deps.revocations.check({ jti: claims.jti, grant: claims.grant, sub: claims.sub, iat: claims.iat });
  if (dead) throw new TetherError('invalid_token', `access token is no longer valid: ${dead}`);
  return claims;
}
