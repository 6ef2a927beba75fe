import { TetherError } from '../errors.js';

/**
 * Reading verified claims by dotted path, checking exact-match constraints, and rendering the
 * identity template. Only ever applied to claims whose signature has been verified.
 */

/** Literal identity characters and `{path}` placeholders; validated when a config is parsed. */
export const IDENTITY_TEMPLATE = /^(?:[A-Za-z0-9._:@/-]|\{[A-Za-z0-9_.:-]+\})+$/;
/** What a claim value may contribute to an identity id: no spaces, quotes, braces or control chars. */
const IDENTITY_VALUE = /^[A-Za-z0-9._:@/-]+$/;
/** One character of IDENTITY_VALUE. */
export const IDENTITY_VALUE_CHARS = /^[A-Za-z0-9._:@/-]$/;
const MAX_IDENTITY_LENGTH = 256;

/**
 * Reads `path` from `claims`. A dot separates levels, but claim names may themselves contain dots
 * (Kubernetes puts everything under `"kubernetes.io"`), so at each level the longest run of segments
 * naming an own property wins: `kubernetes.io.namespace` → `claims["kubernetes.io"]["namespace"]`.
 * Own properties only, so `__proto__` or `constructor` never reach the prototype.
 */
export function readClaim(claims: unknown, path: string): unknown {
  return walk(claims, path.split('.'));
}

function walk(node: unknown, segments: string[]): unknown {
  if (segments.length === 0) return node;
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  for (let i = segments.length; i >= 1; i--) {
    const key = segments.slice(0, i).join('.');
    if (!Object.hasOwn(node, key)) continue;
    const found = walk((node as Record<string, unknown>)[key], segments.slice(i));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Every constraint must equal the claim exactly (no type coercion); a missing claim fails. */
export function checkClaimConstraints(
  constraints: Record<string, string | number | boolean> | undefined,
  claims: Record<string, unknown>,
): void {
  for (const [path, expected] of Object.entries(constraints ?? {})) {
    if (readClaim(claims, path) !== expected) {
      throw new TetherError('invalid_grant', `subject token claim "${path}" does not satisfy the issuer's constraint`);
    }
  }
}

/**
 * Renders `template` (e.g. `k8s/{kubernetes.io.namespace}/{sub}`). A placeholder must resolve to a
 * non-empty string or an integer whose text uses only `[A-Za-z0-9._:@/-]`; anything else is refused
 * rather than escaped, so an identity id never carries characters a claim author chose to smuggle in.
 */
export function renderIdentity(template: string, claims: Record<string, unknown>): string {
  const id = template.replace(/\{([^}]+)\}/g, (_m, path: string) => {
    const value = readClaim(claims, path);
    const text = typeof value === 'string' ? value : Number.isSafeInteger(value) ? String(value) : undefined;
    if (text === undefined || text === '') {
      throw new TetherError('invalid_grant', `subject token lacks the claim "${path}" the identity mapping needs`);
    }
    if (!IDENTITY_VALUE.test(text)) {
      throw new TetherError('invalid_grant', `subject token claim "${path}" has characters not allowed in an identity id`);
    }
    return text;
  });
  if (id.length > MAX_IDENTITY_LENGTH) {
    throw new TetherError('invalid_grant', `mapped identity id is longer than ${MAX_IDENTITY_LENGTH} characters`);
  }
  return id;
}
