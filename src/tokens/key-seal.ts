import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import type { JWK } from 'jose';
import { TetherError } from '../errors.js';

/**
 * Private signing keys at rest: AES-256-GCM under the cluster's master key (TETHER_MASTER_KEY).
 *
 * Sealed form: `v1.<kid>.<iv>.<ciphertext>.<tag>`, each part base64url. The 12-byte IV is random per
 * seal (NIST SP 800-38D §8.2.2; at a handful of keys per rotation the collision bound is irrelevant).
 * The kid is authenticated as AAD, so a sealed blob cannot be moved onto another key's row, and after
 * decryption the key's own thumbprint must equal the kid, so a blob cannot claim a kid it is not.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64U = /^[A-Za-z0-9_-]+$/;

/** Decodes and checks the 32-byte master key (base64url, padding tolerated). */
export function parseMasterKey(base64url: string): Buffer {
  const text = typeof base64url === 'string' ? base64url.trim().replace(/=+$/, '') : '';
  if (!B64U.test(text)) throw new TetherError('invalid_request', 'master key must be base64url-encoded');
  const key = Buffer.from(text, 'base64url');
  if (key.length !== 32) {
    throw new TetherError('invalid_request', `master key must be 32 bytes (got ${key.length}); generate one with: openssl rand 32 | basenc --base64url`);
  }
  return key;
}

export async function sealPrivateKey(privateJwk: JWK, masterKey: Buffer): Promise<string> {
  checkMasterKey(masterKey);
  if (typeof privateJwk.d !== 'string') throw new TypeError('sealPrivateKey: expected a private JWK');
  const kid = await calculateJwkThumbprint(privateJwk, 'sha256');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(privateJwk), 'utf8'), cipher.final()]);
  return [VERSION, kid, iv, ciphertext, cipher.getAuthTag()]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/**
 * Opens a sealed key. Fails closed with `unavailable` (the broker cannot sign) when the master key is
 * wrong, the blob was altered, or `expectedKid` (the row's kid) differs from the sealed one.
 */
export async function openPrivateKey(sealed: string, masterKey: Buffer, expectedKid?: string): Promise<JWK> {
  checkMasterKey(masterKey);
  const fail = (why: string): TetherError => new TetherError('unavailable', `cannot open signing key: ${why}`);
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  const [version, kid, iv, ciphertext, tag] = parts;
  if (parts.length !== 5 || version !== VERSION || kid === undefined || iv === undefined || ciphertext === undefined || tag === undefined) {
    throw fail('not a v1 sealed key');
  }
  if (![kid, iv, ciphertext, tag].every((p) => B64U.test(p))) throw fail('not a v1 sealed key');
  if (expectedKid !== undefined && kid !== expectedKid) throw fail('sealed kid does not match the stored kid');
  const ivBytes = Buffer.from(iv, 'base64url');
  const tagBytes = Buffer.from(tag, 'base64url');
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw fail('not a v1 sealed key');

  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, ivBytes, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(tagBytes);
    plaintext = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw fail('wrong master key or the sealed key was altered');
  }
  const jwk = JSON.parse(plaintext) as JWK;
  if ((await calculateJwkThumbprint(jwk, 'sha256')) !== kid) throw fail('key thumbprint does not match its kid');
  return jwk;
}

function checkMasterKey(masterKey: Buffer): void {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== 32) throw new TypeError('master key must be a 32-byte Buffer');
}
