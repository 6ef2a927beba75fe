import { TetherError, type ErrorCode } from '../errors.js';
import type { AccessTokenClaims } from './access-token.js';

/**
 * Why the resource-server check refused a request, as a closed set a `switch` can narrow
 * (callers, audit and detection read this, never the prose in `message`).
 */
export type TokenRefusalReason =
  /** No `Authorization` header (RFC 6750 §3.1: the challenge then carries no error code). */
  | 'credential_missing'
  /** `Authorization` is not `DPoP <token>` / `Bearer <token>` with a token68 value. */
  | 'authorization_malformed'
  /** Not a token of ours: bad signature, unknown kid, wrong typ/iss, malformed claims. */
  | 'token_invalid'
  /** Signed by us, but expired or not for this audience. */
  | 'token_expired'
  | 'token_wrong_audience'
  /** Signed by us, but revoked (by jti, grant, identity or issuer: see `revoked`). */
  | 'token_revoked'
  /** RFC 9449 §7.1: a DPoP-bound token presented with the Bearer scheme. */
  | 'scheme_dpop_required'
  /** A token that is not DPoP-bound presented with the DPoP scheme. */
  | 'scheme_bearer_required'
  /** RFC 9449 §4.3 step 1: no DPoP header, or more than one. */
  | 'dpop_proof_missing'
  | 'dpop_proof_multiple'
  /** The proof fails RFC 9449 §4.3 (typ, alg, jwk, signature, htm, htu, iat, ath). */
  | 'dpop_proof_invalid'
  /** The proof is valid but signed by another key than the token's `cnf.jkt` (§6.1): a copied token. */
  | 'dpop_key_mismatch'
  /** The proof's `jti` was already used (§11.1). */
  | 'dpop_proof_replayed'
  /**
   * This instance may have missed revocations (its change feed is down): it refuses rather than say
   * "valid" (DESIGN.md Storage). Not the client's fault: never evidence against it.
   */
  | 'state_may_be_stale';

/** Refusals that are the server's doing, not the caller's: audit them, never feed them to detection. */
export const FAIL_CLOSED_REASONS: ReadonlySet<TokenRefusalReason> = new Set(['state_may_be_stale']);

const ERROR_OF: Record<TokenRefusalReason, ErrorCode> = {
  credential_missing: 'invalid_token',
  authorization_malformed: 'invalid_token',
  token_invalid: 'invalid_token',
  token_expired: 'invalid_token',
  token_wrong_audience: 'invalid_token',
  token_revoked: 'invalid_token',
  scheme_dpop_required: 'invalid_token',
  scheme_bearer_required: 'invalid_token',
  dpop_proof_missing: 'invalid_dpop_proof',
  dpop_proof_multiple: 'invalid_dpop_proof',
  dpop_proof_invalid: 'invalid_dpop_proof',
  dpop_key_mismatch: 'invalid_dpop_proof',
  dpop_proof_replayed: 'invalid_dpop_proof',
  state_may_be_stale: 'unavailable',
};

/** Facts a refusal may carry. Only signature-verified facts are ever put here. */
export interface TokenRefusalFacts {
  /** The token's claims, present only when its signature verified (it is one of our tokens). */
  claims?: AccessTokenClaims;
  /** Thumbprint of a DPoP key whose signature on the proof verified. */
  presentedJkt?: string;
  /** For `token_revoked`: what the revocation named. */
  revoked?: 'token' | 'grant' | 'identity' | 'issuer';
}

/**
 * A refusal of the resource-server check. It is a TetherError so a caller can throw it to the one
 * renderer: 401 with a DPoP challenge for credential problems, 503 (403 at ext-authz) when failing
 * closed. A resource endpoint answers every credential problem with 401 (RFC 6750 §3.1).
 */
export class TokenRefusal extends TetherError {
  readonly reason: TokenRefusalReason;
  readonly facts: TokenRefusalFacts;

  constructor(reason: TokenRefusalReason, description: string, facts: TokenRefusalFacts = {}) {
    super(ERROR_OF[reason], description, undefined, reason === 'state_may_be_stale' ? 503 : 401);
    this.name = 'TokenRefusal';
    this.reason = reason;
    this.facts = facts;
  }

  /** True when the refusal says nothing about the caller (see FAIL_CLOSED_REASONS). */
  get failClosed(): boolean {
    return FAIL_CLOSED_REASONS.has(this.reason);
  }
}
