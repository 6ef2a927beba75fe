import { errors } from 'jose';

/**
 * Turns a jose failure into a one-line reason a client can act on. jose's own messages name the
 * claim or header at fault and never include the token, so they are safe to build on; anything that
 * is not a JOSE error (a bug, a TypeError) is reported generically so internals do not leak.
 *
 * `what` names the artefact in the message, e.g. "subject token", "DPoP proof", "access token".
 */
export function describeJoseError(e: unknown, what: string): string {
  if (e instanceof errors.JWTExpired) return `${what} has expired (exp is in the past)`;
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return `${what} is not yet valid (nbf is in the future)`;
      case 'iss':
        return e.reason === 'missing' ? `${what} has no iss claim` : `${what} was issued by an unexpected issuer`;
      case 'aud':
        return e.reason === 'missing'
          ? `${what} has no aud claim`
          : `${what} audience does not include the expected audience`;
      case 'typ':
        return `${what} has an unexpected typ header`;
      default:
        return e.reason === 'missing'
          ? `${what} is missing the required "${e.claim}" claim`
          : `${what} "${e.claim}" claim is invalid`;
    }
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return `${what} alg is not allowed`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return `${what} signature is invalid`;
  if (e instanceof errors.JWKSNoMatchingKey) return `no trusted key matches the ${what} kid and alg`;
  if (e instanceof errors.JWKSMultipleMatchingKeys) return `${what} has no kid and several trusted keys match`;
  if (e instanceof errors.JWKSTimeout) return `timed out fetching the keys to verify the ${what}`;
  if (e instanceof errors.JWKSInvalid) return `the keys to verify the ${what} are unusable`;
  if (e instanceof errors.JOSENotSupported) return `${what} uses an unsupported algorithm or key type`;
  if (e instanceof errors.JWTInvalid || e instanceof errors.JWSInvalid) return `${what} is not a well-formed signed JWT`;
  if (e instanceof errors.JWKInvalid) return `${what} key is invalid`;
  if (e instanceof errors.JOSEError) return `${what} could not be verified`;
  return `${what} could not be verified`;
}
