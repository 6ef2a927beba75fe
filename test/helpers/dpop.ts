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

/**
 * One RFC 8693 token exchange with a DPoP proof, as a workload does it. `htuBase` is the broker URL
 * the client knows (its issuer URL), `endpointBase` where the request is sent (a node of a cluster).
 */
export async function exchangeForToken(o: {
  endpointBase: string;
  htuBase?: string;
  key: { proof(htm: string, htu: string): Promise<string> };
  subjectToken: string;
  scope: string;
  audience: string;
  authorizationDetails?: unknown[];
  /** More form parameters, as a client might send them (e.g. an unauthenticated `client_id`). */
  extra?: Record<string, string>;
}): Promise<{ status: number; body: { access_token?: string; error?: string; error_description?: string; grant_id?: string } }> {
  const htu = `${o.htuBase ?? o.endpointBase}/oauth/token`;
  const params = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: o.subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    scope: o.scope,
    audience: o.audience,
  });
  if (o.authorizationDetails) params.set('authorization_details', JSON.stringify(o.authorizationDetails));
  for (const [k, v] of Object.entries(o.extra ?? {})) params.set(k, v);
  const res = await fetch(`${o.endpointBase}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await o.key.proof('POST', htu) },
    body: params.toString(),
  });
  return { status: res.status, body: (await res.json()) as { access_token?: string } };
}
