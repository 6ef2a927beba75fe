import type { Queryable } from '../store/index.js';
import { canonicalJson } from './canonical-json.js';
import { chainHash, GENESIS_HASH } from './chain.js';

export interface VerifyResult {
  ok: boolean;
  events: number;
  head: { seq: number; hash: string };
  /** The first seq whose record does not verify, and why. */
  broken?: { seq: number; reason: string };
}

interface Row {
  seq: number;
  ts: Date;
  type: string;
  identity: string | null;
  body: string;
  prev_hash: string;
  hash: string;
}

/**
 * Recomputes the chain from genesis in pages (never the whole log in memory). Detects altered
 * bodies or columns, removed events (a gap in seq or a prev_hash mismatch), reordering, and a
 * head that does not match the last event (truncation at the end).
 */
export async function verifyChain(q: Queryable, pageSize = 5000): Promise<VerifyResult> {
  let expectSeq = 1;
  let prev = GENESIS_HASH;
  let count = 0;
  const fail = (seq: number, reason: string): VerifyResult => ({
    ok: false,
    events: count,
    head: { seq: expectSeq - 1, hash: prev },
    broken: { seq, reason },
  });
  for (;;) {
    const page = await q.query<Row>(
      'SELECT seq, ts, type, identity, body, prev_hash, hash FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2',
      [expectSeq, pageSize],
    );
    for (const r of page.rows) {
      const seq = Number(r.seq);
      if (seq !== expectSeq) return fail(expectSeq, `event ${expectSeq} is missing (next stored is ${seq})`);
      if (r.prev_hash !== prev) return fail(seq, 'prev_hash does not link to the previous event');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(r.body) as Record<string, unknown>;
      } catch {
        return fail(seq, 'body is not JSON');
      }
      if (canonicalJson(body) !== r.body) return fail(seq, 'body is not in canonical form');
      if (
        body.seq !== seq ||
        body.type !== r.type ||
        (body.identity ?? null) !== (r.identity ?? null) ||
        body.ts !== new Date(r.ts).toISOString()
      ) {
        return fail(seq, 'stored columns disagree with the hashed body');
      }
      if (chainHash(prev, r.body) !== r.hash) return fail(seq, 'hash does not match the event');
      prev = r.hash;
      expectSeq = seq + 1;
      count++;
    }
    if (page.rows.length < pageSize) break;
  }
  const head = await q.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
  const h = head.rows[0];
  if (!h) return fail(expectSeq, 'chain head is missing');
  if (Number(h.seq) !== expectSeq - 1 || h.hash !== prev) {
    return fail(Math.min(Number(h.seq), expectSeq), `chain head (seq ${h.seq}) does not match the last stored event (seq ${expectSeq - 1}): events were removed`);
  }
  return { ok: true, events: count, head: { seq: expectSeq - 1, hash: prev } };
}
