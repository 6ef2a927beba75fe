export { createRevocationSet, MAX_TOKEN_LIFETIME_SECONDS } from './revocation-set.js';
export type { RevocationSet, RevocationEntry, TokenFacts } from './revocation-set.js';
export { revokeIn } from './revoke.js';
export type { RevokeRequest, RevokeOptions } from './revoke.js';
export { restoreIssuerIn, stoppedIssuers } from './issuer-stop.js';
export type { IssuerStop } from './issuer-stop.js';
export { pruneExpiredRevocations, schedulePruning, REVOCATION_RETENTION_SECONDS } from './prune.js';
