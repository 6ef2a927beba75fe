import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { canonicalJson } from './canonical-json.js';
import type { CheckpointKey, CheckpointVerifyKeys } from './checkpoint-key.js';

/** What a checkpoint attests: "the chain reached `seq` with exactly `hash`", signed at `ts` by `instance`. */
export interface CheckpointClaims {
  seq: number;
  hash: string;
  ts: string;
  instance: string;
}

/** A checkpoint as stored and shipped: the claims in clear (for people), and the JWS that proves them. */
export interface Checkpoint extends CheckpointClaims {
  kid: string;
  jws: string;
}

// Explicit media type, so a checkpoint JWS can never be confused with a token signed by a related key.
export const CHECKPOINT_TYP = 'tether-audit-checkpoint+jws';

export async function signCheckpoint(key: CheckpointKey, claims: CheckpointClaims): Promise<Checkpoint> {
  const payload = canonicalJson({ seq: claims.seq, hash: claims.hash, ts: claims.ts, instance: claims.instance });
  const jws = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: CHECKPOINT_TYP }).sign(key.privateKey);
  return { ...claims, kid: key.kid, jws };
}

export type CheckpointCheck = { ok: true; checkpoint: CheckpointClaims } | { ok: false; reason: string };

/**
 * Verifies the JWS with one of the given public keys and returns the claims it signs. The clear
 * members beside the JWS are only a convenience: they must equal the signed ones, else the record
 * was edited and is refused.
 */
export async function verifyCheckpoint(record: unknown, keys: CheckpointVerifyKeys): Promise<CheckpointCheck> {
  const r = record as Partial<Checkpoint> | null;
  if (!r || typeof r.jws !== 'string') return { ok: false, reason: 'not a checkpoint (no jws)' };
  let kid: string | undefined;
  try {
    const h = decodeProtectedHeader(r.jws);
    if (h.typ !== CHECKPOINT_TYP || h.alg !== 'EdDSA') return { ok: false, reason: 'not a checkpoint signature (typ/alg)' };
    kid = h.kid;
  } catch {
    return { ok: false, reason: 'the jws is malformed' };
  }
  const key = kid ? keys.get(kid) : undefined;
  if (!key) return { ok: false, reason: `signed by key ${kid ?? '(none)'}, which is not among the given public keys` };
  let claims: CheckpointClaims;
  try {
    const v = await compactVerify(r.jws, key, { algorithms: ['EdDSA'] });
    claims = JSON.parse(new TextDecoder().decode(v.payload)) as CheckpointClaims;
  } catch {
    return { ok: false, reason: 'the signature does not verify' };
  }
  if (!Number.isSafeInteger(claims.seq) || claims.seq < 0 || typeof claims.hash !== 'string' || !/^[0-9a-f]{64}$/.test(claims.hash)) {
    return { ok: false, reason: 'the signed claims are malformed' };
  }
  for (const k of ['seq', 'hash', 'ts', 'instance'] as const) {
    if (r[k] !== undefined && r[k] !== claims[k]) return { ok: false, reason: `its clear ${k} differs from the signed one` };
  }
  return { ok: true, checkpoint: { seq: claims.seq, hash: claims.hash, ts: claims.ts, instance: claims.instance } };
}
