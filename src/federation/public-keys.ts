import type { JSONWebKeySet, JWK } from 'jose';
import { hasPrivateMembers } from '../tokens/index.js';

/**
 * Keeps only public asymmetric verification keys from a JWKS. An `oct` key or a private key in an
 * issuer's set is never usable for verification here: dropping them means no configured `alg` list
 * can ever make an HMAC check against key material from a JWKS (RFC 8725 §2.1, §3.1).
 */
export function publicKeysOnly(keys: readonly JWK[]): JSONWebKeySet {
  return {
    keys: keys.filter(
      (k): k is JWK =>
        typeof k === 'object' &&
        k !== null &&
        (k.kty === 'RSA' || k.kty === 'EC' || k.kty === 'OKP') &&
        !hasPrivateMembers(k) &&
        (k.use === undefined || k.use === 'sig'),
    ),
  };
}
