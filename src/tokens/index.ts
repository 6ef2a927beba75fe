/**
 * tokens: Tether's own credentials (signing keys, access tokens) and DPoP (RFC 9449).
 * Every export is listed by hand (STYLE.md §2).
 */
export type { AsymmetricJwsAlgorithm } from './algorithms.js';
export { ASYMMETRIC_JWS_ALGORITHMS, DEFAULT_JWS_ALGORITHMS, isAsymmetricJwsAlgorithm, hasPrivateMembers } from './algorithms.js';
export { describeJoseError } from './jose-reason.js';
export { normalizeHtu, htuMatches } from './htu.js';
export type { ReplayGuard, MemoryReplayGuardOptions } from './replay-guard.js';
export { createMemoryReplayGuard } from './replay-guard.js';
export type { DpopNonces, DpopNoncesOptions } from './dpop-nonce.js';
export { createDpopNonces } from './dpop-nonce.js';
export type { VerifyDpopProofOptions, VerifiedDpopProof, DpopProofFailure } from './dpop-proof.js';
export { verifyDpopProof, DpopProofError, DPOP_SIGNING_ALGORITHMS, createImportedKeyCache } from './dpop-proof.js';
export { singleDpopHeader } from './dpop-header.js';
export type { TokenRefusalReason, TokenRefusalFacts } from './token-refusal.js';
export { TokenRefusal, FAIL_CLOSED_REASONS } from './token-refusal.js';
export type { TokenCheck, TokenCheckDeps } from './check-access-token.js';
export { checkAccessToken } from './check-access-token.js';
export type { ResourceCheck, ResourceCheckDeps, ResourceRequest, VerifiedAccess } from './check-resource-request.js';
export { checkResourceRequest } from './check-resource-request.js';
export type { ResourceServerChallenge } from './dpop-challenge.js';
export { dpopChallengeFor } from './dpop-challenge.js';
export type { SigningAlgorithm, SigningKey } from './signing-keys.js';
export { generateSigningKey, SIGNING_ALGORITHMS } from './signing-keys.js';
export { sealPrivateKey, openPrivateKey, parseMasterKey } from './key-seal.js';
export type { StoredSigningKey, KeyRing, KeyRingOptions, KeyRingVerifyOptions } from './key-ring.js';
export { createKeyRing } from './key-ring.js';
export type {
  AccessTokenClaims,
  Actor,
  TaskClaim,
  MintAccessTokenOptions,
  MintedAccessToken,
  VerifyAccessTokenOptions,
} from './access-token.js';
export { mintAccessToken, verifyAccessToken, ACCESS_TOKEN_TYP } from './access-token.js';
export type { VerifiedJwt, VerifiedJwtCache, VerifiedJwtCacheOptions } from './verified-jwt-cache.js';
export { createVerifiedJwtCache, stillTimely } from './verified-jwt-cache.js';
