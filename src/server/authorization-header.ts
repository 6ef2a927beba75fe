import type { FastifyRequest } from 'fastify';

/**
 * Every `Authorization` field of a request, as sent. Node keeps only the first of repeated
 * Authorization fields in `req.headers` (RFC 9110 §11.6.2 makes it a singleton field), while a proxy
 * or an upstream framework may read another one: the check must see them all, and refuse more than
 * one, so the token it decides on is the only one there is.
 */
export function authorizationFields(req: FastifyRequest): string | readonly string[] | undefined {
  const out: string[] = [];
  const raw = req.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'authorization') out.push(raw[i + 1]!);
  return out.length === 0 ? undefined : out.length === 1 ? out[0] : out;
}
