/**
 * Typed errors with a stable `code`. Every surface (OAuth, AuthZEN, ext-authz, admin) maps a code to
 * its own status and body in one place (server/error-render.ts); anything that is not a TetherError
 * is rendered as an opaque 500 `server_error` with the request id only.
 */
export type ErrorCode =
  // generic request problems
  | 'invalid_request' // malformed input (400)
  | 'payload_too_large' // body over the limit (413)
  | 'unsupported_media_type' // wrong content type (400 on OAuth/AuthZEN, 415 on admin)
  | 'not_found' // unknown id (404)
  | 'conflict' // duplicate id or illegal state change (409)
  | 'unauthorized' // missing or wrong admin/PDP credential (401)
  | 'forbidden' // authenticated but not allowed (403)
  | 'too_many_requests' // throttled after repeated failures (429, Retry-After)
  | 'unavailable' // the store or the audit log cannot be written: fail closed (503)
  // OAuth 2.0 (RFC 6749 §5.2, RFC 8693, RFC 9449)
  | 'invalid_grant'
  | 'invalid_client'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'authorization_pending'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'invalid_token';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  forbidden: 403,
  too_many_requests: 429,
  unavailable: 503,
  invalid_grant: 400,
  invalid_client: 401,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 403,
  unsupported_grant_type: 400,
  unsupported_token_type: 400,
  authorization_pending: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  invalid_token: 401,
};

/**
 * Status on the OAuth surface (token, revocation, introspection endpoints): RFC 6749 §5.2 answers
 * every error of the grant with 400 (`access_denied` included), except failed authentication (401:
 * a client, an admin bearer, a presented token); RFC 9449 §7.1 keeps `use_dpop_nonce` at 400 there
 * too. Store failures, body limits and unknown paths keep their own status.
 */
export function oauthStatus(code: ErrorCode): number {
  const s = STATUS[code];
  if (s >= 500 || s === 413 || s === 401 || s === 404 || s === 429) return s;
  return 400;
}

/**
 * Status on the AuthZEN surface (the Authorization API's error responses are HTTP statuses: 400 for
 * a request it cannot evaluate, 401, 403, 500): a body of the wrong media type is a bad request
 * there, not a 415.
 */
export function authzenStatus(code: ErrorCode): number {
  const s = STATUS[code];
  return s === 415 ? 400 : s;
}

/**
 * The status of an error on a surface: the OAuth endpoints follow RFC 6749 §5.2, AuthZEN its own
 * rule above, the rest the code's own.
 */
export function statusOn(surface: 'oauth' | 'authzen' | 'other', e: TetherError): number {
  if (e.status !== STATUS[e.code]) return e.status; // a status given explicitly at construction
  if (surface === 'oauth') return oauthStatus(e.code);
  if (surface === 'authzen') return authzenStatus(e.code);
  return e.status;
}

/**
 * An AuthZEN batch item that could not be evaluated answers `decision: false` with this context
 * (Authorization API §7.1.2: the item fails, not the request): `code` is the HTTP status the same
 * error has on the surface (as the spec's examples write it, a string), `error` its class's code,
 * `reason` the description. The same rule as a whole-request error, from the same table.
 */
export function authzenItemError(e: TetherError): { code: string; error: ErrorCode; reason: string } {
  return { code: String(statusOn('authzen', e)), error: e.code, reason: e.message };
}

export class TetherError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra members for the error body (e.g. `grant_id`); never secrets. */
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, description: string, extra?: Record<string, unknown>, status?: number) {
    super(description);
    this.name = 'TetherError';
    this.code = code;
    this.status = status ?? STATUS[code];
    this.extra = extra;
  }
}

export function isTetherError(e: unknown): e is TetherError {
  return e instanceof TetherError;
}

/** Shorthand for the most common refusal. */
export function invalidRequest(description: string, extra?: Record<string, unknown>): TetherError {
  return new TetherError('invalid_request', description, extra);
}
