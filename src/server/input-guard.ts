import type { FastifyRequest } from 'fastify';
import { TetherError } from '../errors.js';
import { isStorableText, unstorablePath } from '../store/index.js';

/**
 * Refuses, before any route runs, request input the store could not hold (NUL, lone surrogates) in
 * the body, the query or the path parameters: such a value would otherwise fail the statement that
 * records it, and with a group commit the requests of other clients sharing it (store/text.ts).
 */
export async function refuseUnstorableInput(req: FastifyRequest): Promise<void> {
  const body = req.body;
  const bad =
    typeof body === 'string'
      ? isStorableText(body)
        ? null
        : 'body'
      : unstorablePath(body, 'body') ?? unstorablePath(req.query, 'query') ?? unstorablePath(req.params, 'path');
  if (bad) throw new TetherError('invalid_request', `${bad}: contains a NUL character or malformed Unicode`);
}
