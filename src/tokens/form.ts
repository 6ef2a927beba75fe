import { TetherError } from '../errors.js';

/**
 * Parses an application/x-www-form-urlencoded body. RFC 6749 §3.2: "Request and response parameters
 * MUST NOT be included more than once", so a repeated parameter is refused rather than guessed at.
 */
export function parseForm(body: unknown): Map<string, string> {
  if (typeof body !== 'string') throw new TetherError('invalid_request', 'the request body must be application/x-www-form-urlencoded');
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(body)) {
    if (out.has(k)) throw new TetherError('invalid_request', `parameter "${k.slice(0, 64)}" is repeated`);
    out.set(k, v);
  }
  return out;
}

export function required(form: Map<string, string>, name: string): string {
  const v = form.get(name);
  if (v === undefined || v === '') throw new TetherError('invalid_request', `${name} is required`);
  return v;
}
