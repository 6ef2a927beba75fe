import { TetherError } from '../errors.js';
import { DPOP_SIGNING_ALGORITHMS } from './dpop-proof.js';

/**
 * Resource-side rendering of DPoP failures (RFC 9449 §7.1, §9; RFC 6750 §3).
 *
 * At the token endpoint a bad proof is a 400 with `error=invalid_dpop_proof` in the body. At a
 * protected resource (ext-authz, the SDK) the same failure is a 401 carrying a
 * `WWW-Authenticate: DPoP error="invalid_dpop_proof"` challenge, and a required nonce is a 401 with
 * `error="use_dpop_nonce"` plus a `DPoP-Nonce` header. Token problems (`invalid_token`) also get a
 * DPoP challenge there, so the client learns the scheme and algorithms.
 */
export interface ResourceServerChallenge {
  status: 401;
  /** Value for the `WWW-Authenticate` response header. */
  wwwAuthenticate: string;
  /** Value for the `DPoP-Nonce` response header, when the failure asks for a nonce. */
  dpopNonce?: string;
}

/** Builds the `WWW-Authenticate: DPoP ...` challenge for a refusal, or undefined if it is not a 401 kind. */
export function dpopChallengeFor(
  error: TetherError,
  algorithms: readonly string[] = DPOP_SIGNING_ALGORITHMS,
): ResourceServerChallenge | undefined {
  if (error.code !== 'invalid_dpop_proof' && error.code !== 'use_dpop_nonce' && error.code !== 'invalid_token') {
    return undefined;
  }
  const params = [
    `error="${error.code}"`,
    `error_description="${quote(error.message)}"`,
    `algs="${algorithms.join(' ')}"`,
  ];
  const nonce = error.extra?.dpop_nonce;
  return {
    status: 401,
    wwwAuthenticate: `DPoP ${params.join(', ')}`,
    ...(typeof nonce === 'string' ? { dpopNonce: nonce } : {}),
  };
}

/**
 * Re-issues a DPoP refusal with the resource-server status (401) and the challenge in
 * `extra.www_authenticate`, so one error renderer can serve both surfaces. Other errors pass through.
 */
export function toResourceServerError(error: TetherError, algorithms?: readonly string[]): TetherError {
  const challenge = dpopChallengeFor(error, algorithms);
  if (challenge === undefined) return error;
  return new TetherError(
    error.code,
    error.message,
    { ...error.extra, www_authenticate: challenge.wwwAuthenticate },
    challenge.status,
  );
}

/** RFC 9110 §5.6.4 quoted-string: escape backslash and DQUOTE, drop control characters. */
function quote(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/(["\\])/g, '\\$1');
}
