import type { TetherError } from '../errors.js';
import { DPOP_SIGNING_ALGORITHMS } from './dpop-proof.js';
import { TokenRefusal } from './token-refusal.js';

/**
 * The one builder of the resource-side DPoP challenge (RFC 9449 §7.1, §9; RFC 6750 §3).
 *
 * At the token endpoint a bad proof is a 400 with `error=invalid_dpop_proof` in the body. At a
 * protected resource (ext-authz) a credential problem is a 401 carrying
 * `WWW-Authenticate: DPoP error="…", error_description="…", algs="…"`, and a required nonce a 401 with
 * `error="use_dpop_nonce"` plus a `DPoP-Nonce` header. A request with no credential at all gets the
 * challenge without an error code (RFC 6750 §3.1). `algs` is the same list the metadata advertises
 * as `dpop_signing_alg_values_supported` (DPOP_SIGNING_ALGORITHMS), so a client learns one truth.
 */
export interface ResourceServerChallenge {
  status: 401;
  /** Value for the `WWW-Authenticate` response header. */
  wwwAuthenticate: string;
  /** Value for the `DPoP-Nonce` response header, when the failure asks for a nonce. */
  dpopNonce?: string;
}

/** Builds the challenge for a refusal, or undefined if the error is not a credential problem. */
export function dpopChallengeFor(error: TetherError): ResourceServerChallenge | undefined {
  if (error.code !== 'invalid_dpop_proof' && error.code !== 'use_dpop_nonce' && error.code !== 'invalid_token') {
    return undefined;
  }
  const algs = `algs="${DPOP_SIGNING_ALGORITHMS.join(' ')}"`;
  const bare = error instanceof TokenRefusal && error.reason === 'credential_missing';
  const params = bare ? [algs] : [`error="${error.code}"`, `error_description="${quote(error.message)}"`, algs];
  const nonce = error.extra?.dpop_nonce;
  return {
    status: 401,
    wwwAuthenticate: `DPoP ${params.join(', ')}`,
    ...(typeof nonce === 'string' ? { dpopNonce: nonce } : {}),
  };
}

/**
 * RFC 9110 §5.6.4 quoted-string: escape backslash and DQUOTE; control characters become spaces and
 * anything outside printable ASCII a "?" (RFC 6750 §3 keeps error_description to printable ASCII).
 */
function quote(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[^\x20-\x7e]/g, '?').replace(/(["\\])/g, '\\$1');
}
