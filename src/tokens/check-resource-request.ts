import type { SingleUseClaim } from '../audit/claims.js';
import { TetherError } from '../errors.js';
import type { AccessTokenClaims } from './access-token.js';
import { checkAccessToken, type TokenCheckDeps } from './check-access-token.js';
import { singleDpopHeader } from './dpop-header.js';
import { DpopProofError, verifyDpopProof, type DpopProofFailure } from './dpop-proof.js';
import type { ReplayGuard } from './replay-guard.js';
import { TokenRefusal, type TokenRefusalReason } from './token-refusal.js';

export interface ResourceCheckDeps extends TokenCheckDeps {
  /** Single use of DPoP proof ids across the cluster (RFC 9449 §11.1). */
  replay: ReplayGuard;
}

/** The request as the resource server received it. */
export interface ResourceRequest {
  /** The request method, compared exactly with the proof's `htm`. */
  method: string;
  /** The URI the client addressed (the proof's `htu`); query and fragment are ignored (RFC 9449 §4.3). */
  url: string;
  /** Every `Authorization` field of the request (exactly one is allowed, RFC 9110 §11.6.2). */
  authorization: string | readonly string[] | undefined;
  /** Every `DPoP` header field of the request (exactly one is allowed). */
  dpop: string | readonly string[] | undefined;
  /** The resource's audience: the token's `aud` must include it. */
  audience: string;
}

/** How the caller wants the check made. */
export interface ResourceCheckOptions {
  /**
   * Return the proof's cluster-wide single-use claim (RFC 9449 §11.1) as `pendingClaim` instead of
   * waiting for it: the caller makes it in the same statement as its decision record (the kernel's
   * `decide(input, { claims })`, audit/claims.ts), one round trip instead of two per request
   * (DESIGN.md "Performance budget"). The caller MUST make it before acting on the request: until
   * then only this instance knows the proof was used. The local claim is made here either way.
   */
  deferSharedClaim?: boolean;
}

/** What the check proved: the token's claims and, for a DPoP-bound token, the key that proved possession. */
export interface VerifiedAccess {
  claims: AccessTokenClaims;
  token: string;
  /** Null for a Bearer token (only issued where policy allows unbound tokens). */
  binding: { jkt: string; proofJti: string } | null;
  /** With `deferSharedClaim` on a shared store: the proof's single-use claim, still to be made. */
  pendingClaim?: SingleUseClaim;
}

export type ResourceCheck = { ok: true; access: VerifiedAccess } | { ok: false; refusal: TokenRefusal };

const AUTHORIZATION = /^(DPoP|Bearer) +([A-Za-z0-9\-._~+/]+=*)$/i;

const PROOF_REASON: Record<DpopProofFailure, TokenRefusalReason> = {
  invalid: 'dpop_proof_invalid',
  key_mismatch: 'dpop_key_mismatch',
  replayed: 'dpop_proof_replayed',
};

/**
 * THE resource-server check (the model is oauth4webapi's `validateJwtAccessToken`): every entry
 * point that accepts a Tether access token on a request goes through it. In order:
 *   1. `Authorization` is `DPoP <token>` or `Bearer <token>` (RFC 9449 §7.1, RFC 6750 §2.1);
 *   2. the token: signature by our own keys, typ, iss, exp, audience, revocation, and fail closed
 *      when the revocation state may be stale (check-access-token.ts);
 *   3. a token with `cnf.jkt` needs the DPoP scheme; one without needs Bearer (RFC 9449 §7.1);
 *   4. exactly one `DPoP` header (RFC 9449 §4.3 step 1, the token endpoint's rule too);
 *   5. the proof (RFC 9449 §4.3): typ, alg, public jwk, signature, `htm` = method, `htu` = url,
 *      `iat` window, `ath` = hash of this token, key thumbprint = `cnf.jkt`, `jti` single use.
 *
 * Returns the verified claims and key binding, or a TokenRefusal whose `reason` says which step
 * failed. A refusal carries the token's claims only once its signature verified: a token that did
 * not verify names nobody.
 *
 * Does NOT check: that `method` and `url` are the request the client really made (the caller
 * takes them from trusted gateway configuration, never from client-settable headers); identity
 * status, scopes, route rules or policy (the decision kernel's job); DPoP server nonces (only the
 * token endpoint requires them); anything about the request body.
 */
export async function checkResourceRequest(deps: ResourceCheckDeps, req: ResourceRequest, opts: ResourceCheckOptions = {}): Promise<ResourceCheck> {
  const refuse = (reason: TokenRefusalReason, why: string, facts: TokenRefusal['facts'] = {}): ResourceCheck => ({ ok: false, refusal: new TokenRefusal(reason, why, facts) });
  if (req.authorization === undefined || req.authorization === '') return refuse('credential_missing', 'a DPoP-bound access token is required');
  if (typeof req.authorization !== 'string') {
    if (req.authorization.length !== 1) return refuse('authorization_malformed', 'exactly one Authorization header is allowed');
  }
  const m = AUTHORIZATION.exec(typeof req.authorization === 'string' ? req.authorization : req.authorization[0]!);
  if (!m) return refuse('authorization_malformed', 'malformed Authorization header');
  const dpopScheme = m[1]!.toLowerCase() === 'dpop';
  const token = m[2]!;

  const checked = await checkAccessToken(deps, token, req.audience);
  if (!checked.ok) return checked;
  const claims = checked.claims;

  if (!claims.cnf) {
    if (dpopScheme) return refuse('scheme_bearer_required', 'this token is not DPoP-bound: use the Bearer scheme', { claims });
    return { ok: true, access: { claims, token, binding: null } };
  }
  if (!dpopScheme) return refuse('scheme_dpop_required', 'this token is DPoP-bound: use the DPoP authorization scheme', { claims });
  let proof: string | undefined;
  try {
    proof = singleDpopHeader(req.dpop);
  } catch (e) {
    return refuse('dpop_proof_multiple', (e as Error).message, { claims });
  }
  if (proof === undefined) return refuse('dpop_proof_missing', 'exactly one DPoP proof is required', { claims });
  try {
    const p = await verifyDpopProof(proof, {
      htm: req.method,
      htu: req.url,
      accessToken: token,
      expectedJkt: claims.cnf.jkt,
      replayGuard: deps.replay,
      deferSharedClaim: opts.deferSharedClaim === true,
      clock: deps.clock,
    });
    return { ok: true, access: { claims, token, binding: { jkt: p.jkt, proofJti: p.jti }, ...(p.pendingClaim ? { pendingClaim: p.pendingClaim } : {}) } };
  } catch (e) {
    if (e instanceof DpopProofError) return { ok: false, refusal: proofRefusal(e, claims) };
    if (e instanceof TetherError && e.status < 500) return refuse('dpop_proof_invalid', e.message, { claims });
    throw e;
  }
}

const proofRefusal = (e: DpopProofError, claims: AccessTokenClaims, presentedJkt = e.jkt): TokenRefusal =>
  new TokenRefusal(PROOF_REASON[e.failure], e.message, { claims, ...(presentedJkt ? { presentedJkt } : {}) });

/**
 * The refusal the check would have given had it waited for the deferred shared claim: for the
 * kernel's replay refusal (a `replayed` DpopProofError, pdp/decide.ts) after `deferSharedClaim`, the
 * same `dpop_proof_replayed` refusal, with the same facts (the token's claims, the proof key). Any
 * other error: undefined.
 */
export function deferredClaimRefusal(e: unknown, access: VerifiedAccess): TokenRefusal | undefined {
  if (!(e instanceof DpopProofError) || e.failure !== 'replayed') return undefined;
  return proofRefusal(e, access.claims, e.jkt ?? access.binding?.jkt);
}
