import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

/**
 * The checkpoint signing key. Derived from TETHER_MASTER_KEY with HKDF-SHA-256 (RFC 5869) into an
 * Ed25519 seed (RFC 8032 §5.1.5), so it is never stored anywhere, least of all in the database whose
 * operator the checkpoints are meant to hold to account. Every instance of a cluster derives the
 * same key from the same master key.
 */
const INFO = 'tether/audit-checkpoint/v1';
// The fixed DER prefix of a PKCS #8 Ed25519 private key (RFC 8410 §7): the 32-byte seed follows.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface CheckpointKey {
  privateKey: KeyObject;
  publicJwk: JWK & { kid: string; alg: 'EdDSA'; use: 'sig' };
  kid: string;
}

export async function deriveCheckpointKey(masterKey: Buffer): Promise<CheckpointKey> {
  if (masterKey.length !== 32) throw new TypeError('master key must be 32 bytes');
  const seed = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), INFO, 32));
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint({ kty: pub.kty!, crv: pub.crv!, x: pub.x! });
  return { privateKey, kid, publicJwk: { kty: pub.kty!, crv: pub.crv!, x: pub.x!, kid, alg: 'EdDSA', use: 'sig' } };
}

/** The published form: a JWK Set (RFC 7517 §5), so a rotated master key can list old keys beside the new. */
export const checkpointJwks = (k: CheckpointKey) => ({ keys: [k.publicJwk] });

export type CheckpointVerifyKeys = Map<string, KeyObject>;

/**
 * Parses what an auditor passes as `--public-key`: a JWK, a JWK Set, or an SPKI PEM, as text.
 * Only Ed25519 public keys are accepted; a private member is refused (it must never be handed around).
 */
export async function parseCheckpointPublicKeys(text: string): Promise<CheckpointVerifyKeys> {
  const out: CheckpointVerifyKeys = new Map();
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) {
    const key = createPublicKey(t);
    const jwk = key.export({ format: 'jwk' }) as JWK;
    if (jwk.crv !== 'Ed25519') throw new Error('the checkpoint public key must be Ed25519');
    out.set(await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv, x: jwk.x! }), key);
    return out;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    throw new Error('the public key is neither a JWK, a JWK Set nor a PEM');
  }
  const list = (parsed as { keys?: unknown }).keys;
  const jwks = (Array.isArray(list) ? list : [parsed]) as JWK[];
  for (const j of jwks) {
    if (j.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.x !== 'string') throw new Error('the checkpoint public key must be an Ed25519 JWK (kty OKP)');
    if ('d' in j) throw new Error('refusing a private key: pass the public key only');
    const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: j.x });
    out.set(kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: j.x }, format: 'jwk' }));
  }
  if (out.size === 0) throw new Error('the JWK Set holds no key');
  return out;
}
