export { createRevocationSet, MAX_TOKEN_LIFETIME_SECONDS } from './revocation-set.js';
export type { RevocationSet, RevocationEntry, TokenFacts } from './revocation-set.js';
export { revokeIn } from './revoke.js';
export type { RevokeRequest } from './revoke.js';
export { pruneExpiredRevocations, schedulePruning, REVOCATION_RETENTION_SECONDS } from './prune.js';
