/**
 * A single-use key (a DPoP proof's `jti`, RFC 9449 §11.1) claimed in the shared `dpop_jti` table in
 * the same statement as the audit record that depends on it: the record is written only if the key
 * is new, so a gateway check costs one round trip instead of two (DESIGN.md "Performance budget").
 * A key whose `expires_at` has passed may be claimed again, as in tokens/cluster-replay-guard.ts.
 */
export interface SingleUseClaim {
  /** The hashed key, as tokens/dpop-proof.ts derives it. */
  key: string;
  /** Epoch seconds until which the key stays taken. */
  expiresAt: number;
}

/**
 * The append was not made because one of its claims was already taken (by an earlier use, here or
 * on another instance): a replay, which the caller turns into its own refusal. Not a store fault.
 */
export class ClaimTaken extends Error {
  readonly keys: readonly string[];
  constructor(keys: readonly string[]) {
    super('a single-use key of this record was already claimed');
    this.name = 'ClaimTaken';
    this.keys = keys;
  }
}
