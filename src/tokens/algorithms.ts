/**
 * JWS algorithms we accept on anything signed by someone else (subject tokens, DPoP proofs).
 *
 * Asymmetric only: `none` is absent (RFC 8725 §3.1), and so is every HMAC algorithm, so a token whose
 * `alg` says HS256 can never be verified with a public key used as an HMAC secret (RFC 8725 §2.1,
 * the classic algorithm-confusion attack). jose also refuses that, but we refuse it before jose runs.
 */
export const ASYMMETRIC_JWS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export type AsymmetricJwsAlgorithm = (typeof ASYMMETRIC_JWS_ALGORITHMS)[number];

/** The default allowlist when a config does not name one: the algorithms real issuers use. */
export const DEFAULT_JWS_ALGORITHMS: readonly AsymmetricJwsAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
];

export function isAsymmetricJwsAlgorithm(alg: unknown): alg is AsymmetricJwsAlgorithm {
  return typeof alg === 'string' && (ASYMMETRIC_JWS_ALGORITHMS as readonly string[]).includes(alg);
}

/**
 * JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
 * A key with any of them must never be accepted where a public key is expected.
 */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export function hasPrivateMembers(jwk: object): boolean {
  return PRIVATE_JWK_MEMBERS.some((m) => Object.hasOwn(jwk, m));
}
