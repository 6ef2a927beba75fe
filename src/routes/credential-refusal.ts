/**
 * A domain type, so detection depends on it without depending on the ext-authz HTTP handler.
 */
import type { TokenRefusalReason } from '../tokens/token-refusal.js';

/**
 * A credential refused before policy (401), for detection. Every fact here is verified: `identity`,
 * `jti`, `grant` and `jkt` come from a token whose signature verified, `presentedJkt` from a proof
 * whose signature verified; a token that did not verify is anonymous. Refusals that are the
 * server's doing (`state_may_be_stale`) are never reported here.
 */
export interface CredentialRefusal {
  at: Date;
  route: string;
  /** Which step of the resource-server check refused. */
  code: TokenRefusalReason;
  /** Human-readable description (for logs; match on `code`). */
  reason: string;
  identity?: string;
  jti?: string;
  grant?: string;
  jkt?: string;
  presentedJkt?: string;
  sourceIp: string;
  method: string;
  path: string;
}
