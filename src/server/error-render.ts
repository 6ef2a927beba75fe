import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { statusOn, TetherError } from '../errors.js';
import { dpopChallengeFor } from '../tokens/dpop-challenge.js';

/** Which protocol a route speaks decides how an error is rendered. */
export type Surface = 'oauth' | 'authzen' | 'extauthz' | 'admin' | 'ops' | 'mcp';

declare module 'fastify' {
  interface FastifyContextConfig {
    surface?: Surface;
  }
}

/** Fastify's own client errors (bad JSON, wrong content type, body too large) become ours. */
function fromFastify(err: FastifyError): TetherError | null {
  const status = err.statusCode ?? 0;
  if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new TetherError('payload_too_large', 'request body exceeds the limit of this endpoint (1 MiB at most; less where the request is small by nature)');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new TetherError('unsupported_media_type', 'unsupported Content-Type');
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new TetherError('invalid_request', 'request body is empty');
  if (err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return new TetherError('invalid_request', 'Content-Length does not match the body');
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new TetherError('invalid_request', 'request body is not valid JSON');
  if (err.validation) return new TetherError('invalid_request', err.message);
  if (status >= 400 && status < 500) return new TetherError('invalid_request', 'malformed request', undefined, status);
  return null;
}

export function toTetherError(err: unknown): TetherError | null {
  if (err instanceof TetherError) return err;
  // JSON.parse of absurdly deep input, or a validator walking it, can exhaust the stack: a client error.
  if (err instanceof RangeError && /call stack/i.test(err.message)) return new TetherError('invalid_request', 'request body is nested too deeply');
  if (err && typeof err === 'object' && 'code' in err && typeof (err as FastifyError).code === 'string') return fromFastify(err as FastifyError);
  if (err instanceof SyntaxError) return new TetherError('invalid_request', 'request body is not valid JSON');
  return null;
}

/** The one place errors become responses. Unknown errors are logged and hidden behind the request id. */
export function renderError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const surface: Surface = req.routeOptions?.config?.surface ?? surfaceOf(req.url);
  let te = toTetherError(err);
  if (!te) {
    req.log.error({ err }, 'unhandled error');
    te = new TetherError('unavailable', 'internal error', undefined, 500);
  } else if (te.status >= 500) {
    req.log.warn({ code: te.code, msg: te.message }, 'request failed');
  }
  const serverError = te.status === 500;
  const body: Record<string, unknown> = {
    ...(te.extra ?? {}),
    error: serverError ? 'server_error' : te.code,
    error_description: serverError ? `internal error (request ${req.id})` : te.message,
  };
  // OAuth (RFC 6749 §5.2) and AuthZEN have their own status rules (errors.ts); both answer bad media types with 400.
  let status = statusOn(surface === 'oauth' || surface === 'authzen' ? surface : 'other', te);
  if (surface === 'extauthz') {
    // nginx turns anything but 2xx/401/403 into a 500 for the caller: deny instead.
    status = status === 401 ? 401 : 403;
  }
  if (status === 401) {
    const challenge = dpopChallengeFor(te);
    if (surface === 'mcp' && typeof te.extra?.resource_metadata === 'string') {
      // MCP authorization (2025-06-18) and RFC 9728 §5.1: where to learn the authorization server,
      // beside the DPoP challenge for clients that bind their tokens.
      const missing = te.extra.credential_missing === true;
      const bearer = `Bearer resource_metadata="${te.extra.resource_metadata}"${missing ? '' : `, error="invalid_token"`}`;
      reply.header('WWW-Authenticate', challenge ? `${bearer}, ${challenge.wwwAuthenticate}` : bearer);
      delete body.resource_metadata;
      delete body.credential_missing;
    } else if (challenge) reply.header('WWW-Authenticate', challenge.wwwAuthenticate);
  }
  if (status === 401 && surface === 'admin') reply.header('WWW-Authenticate', 'Bearer realm="tether-admin"');
  // RFC 9449 §8: the fresh nonce travels in a header, not the body.
  if (typeof te.extra?.dpop_nonce === 'string') {
    reply.header('DPoP-Nonce', te.extra.dpop_nonce);
    delete body.dpop_nonce;
  }
  // RFC 9110 §10.2.3 / RFC 6585 §4: when to try again.
  if (typeof te.extra?.retry_after === 'number') reply.header('Retry-After', String(te.extra.retry_after));
  if (surface === 'oauth') reply.header('Cache-Control', 'no-store');
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

function surfaceOf(url: string): Surface {
  if (url.startsWith('/admin/')) return 'admin';
  if (url.startsWith('/access/')) return 'authzen';
  if (url.startsWith('/ext-authz')) return 'extauthz';
  if (url.startsWith('/oauth/')) return 'oauth';
  return 'ops';
}
