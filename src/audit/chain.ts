import type { TypedAuditInput } from './events.js';
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * What the chain hashes and stores, whatever its type: the store and chain layer is generic. `data`
 * must be JSON; secrets never go in here.
 */
export interface RawAuditInput {
  type: string;
  /** Who did it: 'admin', 'system', a workload identity id, 'detector', ... */
  actor?: string | undefined;
  /** The identity the event is about, for filtering. */
  identity?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

/** What domain code hands the writer: a type from audit/events.ts with that type's data. */
export type AuditInput = TypedAuditInput;

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

/**
 * An event canonicalised when it is queued, so the serial part of a group commit (linking) only
 * splices seq and ts in. Members in RFC 8785 order: actor, data, identity, seq, ts, type — the text
 * is byte-identical to canonicalJson(body).
 */
export interface PreparedEvent {
  input: RawAuditInput;
  head: string;
  tail: string;
}

export function prepare(input: RawAuditInput): PreparedEvent {
  const head = `{"actor":${canonicalJson(input.actor ?? null)},"data":${canonicalJson(input.data ?? {})},"identity":${canonicalJson(input.identity ?? null)},"seq":`;
  const tail = `,"type":${canonicalJson(input.type)}}`;
  return { input, head, tail };
}

export interface LinkedRecord {
  body: AuditBody;
  text: string;
  prev_hash: string;
  hash: string;
}

/** Links a batch onto the head; pure, so the writer and the tests share it. */
export function link(head: { seq: number; hash: string }, events: readonly PreparedEvent[], ts: Date): { records: LinkedRecord[]; head: { seq: number; hash: string } } {
  let { seq, hash } = head;
  const tsText = ts.toISOString();
  const records = events.map((e) => {
    seq += 1;
    const text = `${e.head}${seq},"ts":"${tsText}"${e.tail}`;
    const prev = hash;
    hash = chainHash(prev, text);
    const body: AuditBody = { seq, ts: tsText, type: e.input.type, actor: e.input.actor ?? null, identity: e.input.identity ?? null, data: e.input.data ?? {} };
    return { body, text, prev_hash: prev, hash };
  });
  return { records, head: { seq, hash } };
}
