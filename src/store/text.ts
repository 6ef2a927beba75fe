/**
 * What the store can hold. PostgreSQL text cannot contain NUL, and its json type refuses a lone
 * surrogate escape; either would fail the statement, and with it every event sharing a group commit.
 * Checked at the edge (request bodies, ids) so such input is a 400 for its own request only.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** C0 and C1 controls and DEL: never part of an id (they also forge log lines). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Longest id (identity, resource, action, route, issuer name) accepted from outside. */
export const MAX_ID_LENGTH = 1024;

export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && !LONE_SURROGATE.test(s);
}

/** Why `s` cannot be an id, or null when it can. */
export function idProblem(s: string, max = MAX_ID_LENGTH): string | null {
  if (s.length > max) return `is longer than ${max} characters`;
  if (CONTROL.test(s)) return 'contains control characters';
  if (LONE_SURROGATE.test(s)) return 'is not well-formed Unicode';
  return null;
}

/** First string (or key) in a parsed JSON value the store cannot hold, as a path; null if none. */
export function unstorablePath(v: unknown, path = '', depth = 0): string | null {
  if (typeof v === 'string') return isStorableText(v) ? null : path || '(value)';
  // Bytes hold no text to check (and walking them would allocate per byte).
  if (v === null || typeof v !== 'object' || depth > 64 || ArrayBuffer.isView(v)) return null;
  // The path of a member is only spelled out for the one that is refused: this walk runs on every
  // request body before authentication, and building a string per member of a large body cost more
  // than parsing it.
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'string' ? isStorableText(x) : x === null || typeof x !== 'object') continue;
      const p = unstorablePath(x, `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return null;
  }
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    const x: unknown = (v as Record<string, unknown>)[k];
    if (isStorableText(k) && (typeof x === 'string' ? isStorableText(x) : x === null || typeof x !== 'object')) continue;
    const at = path ? `${path}.${k}` : k;
    if (!isStorableText(k)) return at;
    const p = unstorablePath(x, at, depth + 1);
    if (p) return p;
  }
  return null;
}
