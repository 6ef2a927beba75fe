import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';

export { fakeClock, rejectsWith } from '../tokens/helpers.js';

/** An in-test token issuer with real keys (a GitHub, Kubernetes or SPIRE stand-in). */
export interface TestIssuer {
  kid: string;
  alg: string;
  jwk: JWK;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function testIssuer(alg = 'ES256', kid = 'key-1'): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    jwk,
    privateKey,
    publicKey,
    sign: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(privateKey),
  };
}
