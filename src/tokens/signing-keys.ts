import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { epochSeconds, systemClock, type Clock } from '../clock.js';

/** Algorithms Tether signs its own tokens with. EdDSA (Ed25519) is the default (DESIGN.md: Token). */
export type SigningAlgorithm = 'EdDSA' | 'ES256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256'];

export interface SigningKey {
  /** RFC 7638 SHA-256 thumbprint of the public key: stable, derived, and impossible to collide by accident. */
  kid: string;
  alg: SigningAlgorithm;
  /** Public JWK with `kid`, `alg` and `use: "sig"`, ready for the JWKS. */
  publicJwk: JWK;
  /** Private JWK; seal it with {@link sealPrivateKey} before it touches storage. */
  privateJwk: JWK;
  /** Epoch seconds. */
  createdAt: number;
}

/** Generates a fresh signing key pair (extractable, so it can be sealed and stored). */
export async function generateSigningKey(alg: SigningAlgorithm, options: { clock?: Clock } = {}): Promise<SigningKey> {
  if (!SIGNING_ALGORITHMS.includes(alg)) throw new TypeError(`generateSigningKey: unsupported alg ${String(alg)}`);
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const meta = { kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    publicJwk: { ...pub, ...meta },
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    createdAt: epochSeconds(options.clock ?? systemClock),
  };
}
