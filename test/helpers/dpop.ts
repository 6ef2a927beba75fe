import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** A workload's DPoP key that can sign proofs, including deliberately broken ones. */
export async function createDpopKey(alg: 'ES256' | 'EdDSA' = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(jwk);
  return {
    jwk,
    jkt,
    privateKey: privateKey as CryptoKey,
    async proof(
      htm: string,
      htu: string,
      o: { accessToken?: string; iat?: number; jti?: string; nonce?: string; typ?: string; headerJwk?: JWK; alg?: string; key?: CryptoKey } = {},
    ): Promise<string> {
      const claims: Record<string, unknown> = { htm, htu, jti: o.jti ?? randomUUID(), iat: o.iat ?? Math.floor(Date.now() / 1000) };
      if (o.accessToken) claims.ath = createHash('sha256').update(o.accessToken).digest('base64url');
      if (o.nonce) claims.nonce = o.nonce;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: o.alg ?? alg, typ: o.typ ?? 'dpop+jwt', jwk: o.headerJwk ?? jwk })
        .sign(o.key ?? (privateKey as CryptoKey));
    },
    async privateJwk(): Promise<JWK> {
      return exportJWK(privateKey);
    },
  };
}
