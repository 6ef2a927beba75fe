export { canonicalJson } from './canonical-json.js';
export { chainHash, GENESIS_HASH } from './chain.js';
export type { AuditInput, AuditRecord, AuditBody } from './chain.js';
export { createAuditWriter } from './writer.js';
export type { AuditWriter } from './writer.js';
export { verifyChain } from './verify.js';
export type { VerifyResult } from './verify.js';
export { listAuditEvents, iterateAuditEvents, AUDIT_PAGE_MAX } from './query.js';
export type { AuditQuery } from './query.js';
