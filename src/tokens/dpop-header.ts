import { DpopProofError } from './dpop-proof.js';

/**
 * RFC 9449 §4.3 step 1: a request carries at most one `DPoP` header field — the same rule at the
 * token endpoint, the revocation endpoint and every resource check. Node joins repeated fields
 * with ", ", and a compact JWS holds neither commas nor spaces, so either one means "more than one".
 *
 * Returns the proof, or undefined when there is none (whether one is required is the caller's rule).
 */
export function singleDpopHeader(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = typeof value === 'string' ? value : value.join(', ');
  if ((typeof value !== 'string' && value.length > 1) || /[, ]/.test(joined)) {
    throw new DpopProofError('exactly one DPoP header is allowed');
  }
  return joined;
}
