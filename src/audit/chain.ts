import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export const GENESIS_HASH = '0'.repeat(64);

/** What callers hand the writer. `data` must be JSON; secrets never go in here. */
export interface AuditInput {
  type: string;
  /** Who did it: 'admin', 'system', a workload identity id, 'detector', ... */
  actor?: string | undefined;
  /** The identity the event is about, for filtering. */
  identity?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

/** The hashed body: every stored field except the hashes themselves. */
export interface AuditBody {
  seq: number;
  ts: string;
  type: string;
  actor: string | null;
  identity: string | null;
  data: Record<string, unknown>;
}

export interface AuditRecord extends AuditBody {
  prev_hash: string;
  hash: string;
}

/** hash = SHA-256(prev_hash ‖ canonical body), hex. */
export function chainHash(prevHash: string, canonicalBody: string): string {
  return createHash('sha256').update(prevHash).update(canonicalBody).digest('hex');
}

export function makeBody(input: AuditInput, seq: number, ts: Date): AuditBody {
  return {
    seq,
    ts: ts.toISOString(),
    type: input.type,
    actor: input.actor ?? null,
    identity: input.identity ?? null,
    data: input.data ?? {},
  };
}

/** Links a batch onto the head; pure, so the writer and the verifier share it. */
export function link(
  head: { seq: number; hash: string },
  inputs: readonly AuditInput[],
  ts: Date,
): { records: Array<{ body: AuditBody; text: string; prev_hash: string; hash: string }>; head: { seq: number; hash: string } } {
  let { seq, hash } = head;
  const records = inputs.map((input) => {
    seq += 1;
    const body = makeBody(input, seq, ts);
    const text = canonicalJson(body);
    const prev = hash;
    hash = chainHash(prev, text);
    return { body, text, prev_hash: prev, hash };
  });
  return { records, head: { seq, hash } };
}
