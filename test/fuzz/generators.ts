import { createHash } from 'node:crypto';
import { SignJWT, type CryptoKey, type JWK } from 'jose';

/** A seeded generator (mulberry32): a failing input is reproduced from its seed and index. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
export type Rng = ReturnType<typeof rng>;

const NASTY = ['', ' ', '\u0000', 'a\u0000b', '\ud800', '\u202e', '\r\n', '%00', '%', '%zz', '..', '../..', '/', '//', '#', ';v=1', '?', '&', '=', '"', "'", '\\', '{}', '[]', 'null', 'true', '0', '-1', '1e309', 'NaN', '__proto__', 'constructor', '😀', 'é', 'Identity::"x"', '${x}', '<script>'];

export function nastyString(r: Rng): string {
  switch (r.int(6)) {
    case 0:
      return r.pick(NASTY);
    case 1:
      return r.pick(NASTY) + r.pick(NASTY) + r.pick(NASTY);
    case 2:
      return 'x'.repeat(r.pick([1, 64, 256, 1025, 5000, 70000]));
    case 3:
      return String.fromCharCode(...Array.from({ length: 1 + r.int(20) }, () => r.int(0x3000)));
    case 4:
      return `ci/acme/${r.pick(NASTY)}api`;
    default:
      return Buffer.from(Array.from({ length: r.int(40) }, () => r.int(256))).toString('base64url');
  }
}

export function nastyValue(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 3 ? 6 : 9);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER]);
    case 3:
    case 4:
    case 5:
      return nastyString(r);
    case 6:
      return Array.from({ length: r.int(4) }, () => nastyValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--) o[r.chance(0.7) ? r.pick(['type', 'id', 'name', 'properties', 'kind', 'owner', 'value', 'reason', 'subject', 'resource', 'action', 'context']) : nastyString(r)] = nastyValue(r, depth + 1);
      return o;
    }
  }
}

/** Deeply nested JSON (parsers and validators walking it). */
export const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

/** Replaces, deletes or adds one member somewhere in a JSON value. */
export function mutate(r: Rng, v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object' || depth > 4 || r.chance(0.25)) return r.chance(0.2) ? undefined : nastyValue(r);
  if (Array.isArray(v)) {
    const out = [...v];
    if (out.length && r.chance(0.7)) out[r.int(out.length)] = mutate(r, out[r.int(out.length)], depth + 1);
    else out.push(nastyValue(r));
    return out;
  }
  const o = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  if (keys.length && r.chance(0.8)) {
    const key = r.pick(keys);
    const m = mutate(r, o[key], depth + 1);
    if (m === undefined) delete o[key];
    else o[key] = m;
  } else o[nastyString(r)] = nastyValue(r);
  return o;
}

const JWK_SHAPES: JWK[] = [
  { kty: 'foo' },
  { kty: 'EC', x: 'AA', y: 'AA' },
  { kty: 'EC', crv: 'P-256' },
  { kty: 'EC', crv: 'P-999', x: 'AA', y: 'AA' },
  { kty: 'RSA', e: 'AQAB' },
  { kty: 'RSA', n: 'AA', e: 'AQAB' },
  { kty: 'OKP', crv: 'Ed25519' },
  { kty: 'OKP', crv: 'X25519', x: 'AA' },
  { kty: 'oct', k: 'AAAA' },
  { kty: 'EC', crv: 'P-256', x: 1 as unknown as string, y: [] as unknown as string },
];

/** A DPoP header: garbage, a JWS with a broken jwk, a proof with wrong claims, or a valid-looking one. */
export async function dpopHeader(r: Rng, key: { jwk: JWK; privateKey: CryptoKey }, htm: string, htu: string, accessToken?: string): Promise<string | undefined> {
  switch (r.int(7)) {
    case 0:
      return undefined;
    case 1:
      return nastyString(r).replace(/[\r\n\u0000]/g, '').replace(/[^\x20-\x7e]/g, 'x');
    case 2: {
      const h = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: r.pick(['ES256', 'none', 'HS256', 'RS256', 'EdDSA', '']), jwk: r.pick(JWK_SHAPES) })).toString('base64url');
      return `${h}.${Buffer.from(JSON.stringify({ htm, htu, jti: 'j', iat: 1 })).toString('base64url')}.${r.chance(0.5) ? '' : 'AAAA'}`;
    }
    default: {
      const claims: Record<string, unknown> = { htm, htu, jti: r.chance(0.1) ? nastyString(r) : `j${r.int(1e9)}`, iat: Math.floor(Date.now() / 1000) };
      if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
      const bad = r.int(6);
      if (bad === 0) claims[r.pick(['htm', 'htu', 'jti', 'iat', 'ath', 'nonce'])] = nastyValue(r);
      if (bad === 1) claims.iat = r.pick([0, -1, 1e12, 'x', 2 ** 40]);
      const header: Record<string, unknown> = { alg: 'ES256', typ: 'dpop+jwt', jwk: bad === 2 ? r.pick(JWK_SHAPES) : key.jwk };
      if (bad === 3) header.typ = nastyString(r);
      return new SignJWT(claims as Record<string, string>).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
    }
  }
}
