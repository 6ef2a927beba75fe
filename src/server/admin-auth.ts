import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented bearer token with the configured one in constant time. Both sides are
 * hashed first so the comparison never leaks the length of the secret.
 */
export function bearerMatcher(secret: string): (authorization: string | undefined) => boolean {
  const want = createHash('sha256').update(secret).digest();
  return (authorization) => {
    const m = /^Bearer ([\x21-\x7e]+)$/i.exec(authorization ?? '');
    const got = createHash('sha256').update(m?.[1] ?? '').digest();
    return timingSafeEqual(want, got) && m !== null;
  };
}
