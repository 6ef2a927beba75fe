/**
 * federation: verifying subject tokens from trusted issuers (RFC 8693 token exchange) and mapping
 * them to identities. Every export is listed by hand (STYLE.md §2).
 */
export type { IssuerConfig, IssuerKind } from './issuer-config.js';
export { assertUsableByBroker, issuerConfigSchema, jwksSchema, parseIssuerConfig, parseIssuerConfigs } from './issuer-config.js';
export { readClaim, renderIdentity, checkClaimConstraints } from './claims.js';
export type { JwksCache, JwksCacheOptions, JwksKeyResolver } from './jwks-cache.js';
export { createJwksCache, allowInsecureJwksUri } from './jwks-cache.js';
export type { VerifySubjectTokenOptions, VerifiedSubjectToken } from './subject-token.js';
export { verifySubjectToken } from './subject-token.js';
export { MAX_ASSERTION_LIFETIME_SECONDS } from './private-key-jwt.js';
export { spiffeTrustDomain } from './spiffe-id.js';
export { assertNoIdentityOverlap } from './identity-overlap.js';
export { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS } from './token-lifetime.js';
