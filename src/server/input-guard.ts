import type { FastifyRequest } from 'fastify';
import { TetherError } from '../errors.js';
import { isStorableText, unstorablePath } from '../store/index.js';

/**
 * Refuses, before any route runs, request input the store could not hold (NUL, lone surrogates) in
 * the body, the query or the path parameters: such a value would otherwise fail the statement that
 * records it, and with a group commit the requests of other clients sharing it (store/text.ts).
 * The gateway check is left to its own target parser (routes/request-target.ts), which refuses the
 * same characters with a 403 and an audited reason, as a gateway needs.
 */
export async function refuseUnstorableInput(req: FastifyRequest): Promise<void> {
  if (req.routeOptions.config?.surface === 'extauthz') return;
  const body = req.body;
  // A raw body (the MCP gateway's JSON, kept as bytes to forward) is parsed by its route, which
  // refuses what it cannot take; walking its bytes here would hold no string at all, and would cost
  // one allocation per byte (seconds of a blocked event loop for one unauthenticated 4 MiB POST).
  const raw = Buffer.isBuffer(body) || ArrayBuffer.isView(body);
  const bad =
    typeof body === 'string'
      ? isStorableText(body)
        ? null
        : 'body'
      : (raw ? null : unstorablePath(body, 'body')) ?? unstorablePath(req.query, 'query') ?? unstorablePath(req.params, 'path');
  if (bad) throw new TetherError('invalid_request', `${bad}: contains a NUL character or malformed Unicode`);
}
