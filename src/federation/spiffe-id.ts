/**
 * SPIFFE ID syntax (SPIFFE-ID spec §2): `spiffe://<trust-domain>/<path>`; trust domain of
 * `[a-z0-9._-]`, path segments of `[A-Za-z0-9._-]`, none empty, `.` or `..`. A JWT-SVID's `sub` must
 * be one (JWT-SVID spec §3), and it must name a workload, so the path is not empty.
 */
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)+)$/;

/** The `spiffe://<trust-domain>` of a workload SPIFFE ID, or undefined when `value` is not one. */
export function spiffeTrustDomain(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  const m = SPIFFE_ID.exec(value);
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  if (m[2].split('/').some((seg) => seg === '.' || seg === '..')) return undefined;
  return `spiffe://${m[1]}`;
}
