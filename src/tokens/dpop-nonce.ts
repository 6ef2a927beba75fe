import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { epochSeconds, type Clock } from '../clock.js';

/**
 * Stateless server-provided DPoP nonces (RFC 9449 §8 and §9).
 *
 * A nonce is `base64url(version ‖ issuedAt ‖ HMAC-SHA256(key, version ‖ issuedAt)[0..16])`: any
 * instance that shares the secret can check it without a shared store, which is what a cluster with
 * no sticky sessions needs. The HMAC key is derived from `secret` with HKDF under a label of its own,
 * so the deployment's master key can be passed here without being reused as-is for another purpose.
 *
 * A nonce proves freshness only; single use of a proof is the replay guard's job (RFC 9449 §11.1).
 */
export interface DpopNonces {
  /** A fresh nonce for the `DPoP-Nonce` response header. */
  issue(): string;
  /** True when `nonce` was issued by an instance sharing the secret and is younger than its lifetime. */
  check(nonce: string): boolean;
}

export interface DpopNoncesOptions {
  /** At least 32 bytes of secret shared by every instance of the cluster. */
  secret: Uint8Array;
  clock: Clock;
  /** How long a nonce stays acceptable; at least 60 s so a client has time to use it. Default 120. */
  lifetimeSeconds?: number;
}

const VERSION = 1;
const MAC_BYTES = 16;
const BODY_BYTES = 1 + 8; // version + issuedAt (uint64 BE)
/** Nonces minted by an instance whose clock runs slightly ahead are still accepted. */
const FUTURE_SKEW_SECONDS = 5;

export function createDpopNonces({ secret, clock, lifetimeSeconds = 120 }: DpopNoncesOptions): DpopNonces {
  if (secret.byteLength < 32) throw new TypeError('createDpopNonces: secret must be at least 32 bytes');
  if (!Number.isFinite(lifetimeSeconds) || lifetimeSeconds < 60) {
    throw new TypeError('createDpopNonces: lifetimeSeconds must be at least 60');
  }
  const key = Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), 'tether/dpop-nonce/v1', 32));

  const mac = (body: Buffer): Buffer => createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES);

  return {
    issue() {
      const body = Buffer.alloc(BODY_BYTES);
      body.writeUInt8(VERSION, 0);
      body.writeBigUInt64BE(BigInt(epochSeconds(clock)), 1);
      return Buffer.concat([body, mac(body)]).toString('base64url');
    },
    check(nonce) {
      if (typeof nonce !== 'string' || nonce.length > 64 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
      const raw = Buffer.from(nonce, 'base64url');
      if (raw.length !== BODY_BYTES + MAC_BYTES || raw.readUInt8(0) !== VERSION) return false;
      const body = raw.subarray(0, BODY_BYTES);
      if (!timingSafeEqual(raw.subarray(BODY_BYTES), mac(body))) return false;
      const age = epochSeconds(clock) - Number(body.readBigUInt64BE(1));
      return age >= -FUTURE_SKEW_SECONDS && age <= lifetimeSeconds;
    },
  };
}
