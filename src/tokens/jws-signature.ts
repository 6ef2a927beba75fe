import { createPublicKey, verify, type KeyObject, type VerifyKeyObjectInput, type VerifyPublicKeyInput } from 'node:crypto';
import type { JWK } from 'jose';
import type { AsymmetricJwsAlgorithm } from './algorithms.js';

/**
 * Synchronous JWS signature verification with node:crypto (OpenSSL), for the one artefact that is
 * verified on every request and never twice: the DPoP proof (RFC 9449 §4.3 step 6).
 *
 * Why not jose here: jose 6 verifies through WebCrypto, whose every call is a libuv threadpool job.
 * On the gateway path that hop cost more than the verification itself (measured in
 * bench/ext-authz-nginx.bench.ts: ES256 through WebCrypto ~3× a synchronous verify, in CPU, counting
 * the wake-ups of both threads). The split of work is deliberate: jose still parses the header and
 * the claims (`decodeProtectedHeader`, `decodeJwt`) and computes the thumbprint; OpenSSL verifies the
 * signature; this module only maps the JWS algorithm to OpenSSL's parameters (RFC 7518 §3.1, RFC
 * 8037 §3.1) and refuses keys of the wrong type or size for it, as jose does (RFC 7518 §3.3: RSA
 * keys of at least 2048 bits; §3.4: the curve named by the algorithm), and RSA keys whose verification
 * would cost much more than a millisecond (see isRsa). test/tokens/jws-signature
 * checks it agrees with jose's `compactVerify` on every algorithm, key and tampering.
 */

type Params = { hash: string | null; padding?: number; saltLength?: number; ieee?: true };
const RSA_PSS_PADDING = 6; // crypto.constants.RSA_PKCS1_PSS_PADDING
const PARAMS: Record<AsymmetricJwsAlgorithm, Params & { key: (k: KeyObject) => boolean }> = {
  RS256: { hash: 'sha256', key: (k) => isRsa(k) },
  RS384: { hash: 'sha384', key: (k) => isRsa(k) },
  RS512: { hash: 'sha512', key: (k) => isRsa(k) },
  // RFC 7518 §3.5: PSS with MGF1 on the same hash and a salt as long as the hash output.
  PS256: { hash: 'sha256', padding: RSA_PSS_PADDING, saltLength: 32, key: (k) => isRsa(k) },
  PS384: { hash: 'sha384', padding: RSA_PSS_PADDING, saltLength: 48, key: (k) => isRsa(k) },
  PS512: { hash: 'sha512', padding: RSA_PSS_PADDING, saltLength: 64, key: (k) => isRsa(k) },
  // RFC 7518 §3.4: R || S, each the curve's size (IEEE P1363), not DER.
  ES256: { hash: 'sha256', ieee: true, key: (k) => isCurve(k, 'prime256v1') },
  ES384: { hash: 'sha384', ieee: true, key: (k) => isCurve(k, 'secp384r1') },
  ES512: { hash: 'sha512', ieee: true, key: (k) => isCurve(k, 'secp521r1') },
  EdDSA: { hash: null, key: (k) => k.asymmetricKeyType === 'ed25519' },
  Ed25519: { hash: null, key: (k) => k.asymmetricKeyType === 'ed25519' },
};

/**
 * RSA keys jose would use, bounded above too: the proof key is the client's choice (RFC 9449 §4.2)
 * and its verification now runs on the event loop, so its cost must not be the client's choice.
 * OpenSSL caps the public exponent only above 3072-bit moduli: a 3072-bit modulus with a 3072-bit
 * exponent costs ~20–30 ms per verify (a private-key operation without CRT), 200× an RS256 proof
 * with e = 65537. So: at least 2048 bits (RFC 7518 §3.3), at most 8192 (Go's crypto/tls cap for the
 * same attack, CVE-2023-29409), and an odd exponent of at most 32 bits (RFC 8017 §3.1: 3 ≤ e; every
 * real key uses 3 or 65537).
 */
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 8192;
const RSA_MAX_EXPONENT = 0xffff_ffffn;
const isRsa = (k: KeyObject) => {
  if (k.asymmetricKeyType !== 'rsa') return false;
  const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
  const e = k.asymmetricKeyDetails?.publicExponent ?? 0n;
  return bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS && e >= 3n && e <= RSA_MAX_EXPONENT && (e & 1n) === 1n;
};
const isCurve = (k: KeyObject, curve: string) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === curve;

/** The members an RFC 7638 thumbprint covers (§3.2), per key type. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = { RSA: ['kty', 'n', 'e'], EC: ['kty', 'crv', 'x', 'y'], OKP: ['kty', 'crv', 'x'] };

/**
 * The public key for `alg` from a JWK, or a thrown error when the JWK is not a public key usable with
 * that algorithm (wrong type, curve or size; private members are refused by the caller first).
 *
 * Also refused: a key not in its one canonical spelling. The thumbprint (`cnf.jkt`, RFC 9449 §6.1)
 * hashes the members as written, but OpenSSL reads them leniently (either base64 alphabet, padding,
 * junk characters skipped, leading zero octets), so one key would have many thumbprints. RFC 7518
 * §6.2.1.2 and §6.3.1.1 and RFC 7515 §2 allow one spelling, the one node:crypto exports. And a key
 * whose `key_ops` excludes verifying (jose refused it, through WebCrypto's key usages) or whose `use`
 * is not `sig` (RFC 7517 §4.2–4.3).
 */
export function publicKeyFor(alg: AsymmetricJwsAlgorithm, jwk: JWK): KeyObject {
  const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  if (key.type !== 'public' || !PARAMS[alg].key(key)) throw new TypeError(`the key is not usable with ${alg}`);
  const canonical = key.export({ format: 'jwk' }) as Record<string, unknown>;
  const sent = jwk as Record<string, unknown>;
  if ((THUMBPRINT_MEMBERS[String(canonical.kty)] ?? ['kty']).some((m) => sent[m] !== canonical[m])) {
    throw new TypeError('the key is not usable: its JWK members are not in their canonical base64url form');
  }
  if (sent.use !== undefined && sent.use !== 'sig') throw new TypeError('the key is not usable: its "use" is not "sig"');
  if (sent.key_ops !== undefined && !(Array.isArray(sent.key_ops) && sent.key_ops.includes('verify'))) {
    throw new TypeError('the key is not usable: its "key_ops" do not include "verify"');
  }
  return key;
}

/** base64url without padding (RFC 7515 §2): anything else in a segment makes the JWS malformed. */
const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Whether `compact` is a compact JWS (RFC 7515 §7.1) whose signature by `key` under `alg` verifies over
 * its signing input, ASCII(BASE64URL(header) || '.' || BASE64URL(payload)) (§5.2 step 8). The caller
 * has already checked the header's `alg` against its allowlist and refused `crit`; false for anything
 * malformed, never a throw.
 */
export function jwsSignatureVerifies(compact: string, alg: AsymmetricJwsAlgorithm, key: KeyObject): boolean {
  const parts = compact.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return false;
  const p = PARAMS[alg];
  if (!p.key(key)) return false;
  const input = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
  const signature = Buffer.from(parts[2]!, 'base64url');
  const options: VerifyKeyObjectInput | VerifyPublicKeyInput = {
    key,
    ...(p.ieee ? { dsaEncoding: 'ieee-p1363' as const } : {}),
    ...(p.padding !== undefined ? { padding: p.padding, saltLength: p.saltLength! } : {}),
  };
  try {
    return verify(p.hash, input, options, signature);
  } catch {
    return false;
  }
}
