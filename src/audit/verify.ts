import type { Queryable } from '../store/index.js';
import { readArchiveAnchor } from './archive-anchor.js';
import { canonicalJson } from './canonical-json.js';
import { GENESIS_HASH } from './chain.js';
import { createChainVerifier, type ChainAnchor } from './chain-verifier.js';

export interface VerifyResult {
  ok: boolean;
  events: number;
  head: { seq: number; hash: string };
  /** The first seq whose record does not verify, and why. */
  broken?: { seq: number; reason: string };
  /** Where verification of the stored chain started: seq 0 (genesis) or the archive anchor. */
  start?: { seq: number; hash: string };
  /** Signed anchors the stored chain passed through. */
  anchorsMatched?: number;
}

export interface VerifyOptions {
  pageSize?: number;
  /** Signed positions (checkpoints, archive seals) the chain must reach with exactly their hash. */
  anchors?: readonly ChainAnchor[];
  /** Start here instead of at the stored archive anchor (verified archives end here). */
  start?: { seq: number; hash: string };
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
 * Recomputes the chain in pages (never the whole log in memory) from genesis, or from the archive
 * anchor once older events were pruned. Detects altered bodies or columns, removed events (a gap in
 * seq or a prev_hash mismatch), reordering, a head that does not match the last event, and, given
 * signed anchors, a consistent rewrite or a truncated tail that no table-only check can see.
 */
export async function verifyChain(q: Queryable, opts: VerifyOptions | number = {}): Promise<VerifyResult> {
  const o = typeof opts === 'number' ? { pageSize: opts } : opts;
  const pageSize = o.pageSize ?? 5000;
  const stored = await readArchiveAnchor(q);
  const start = o.start ?? stored ?? { seq: 0, hash: GENESIS_HASH };
  if (o.start && stored && (stored.seq !== o.start.seq || stored.hash !== o.start.hash) && stored.seq > o.start.seq) {
    return { ok: false, events: 0, head: start, start, broken: { seq: o.start.seq + 1, reason: `the database was pruned up to seq ${stored.seq}, but the archives end at seq ${o.start.seq}` } };
  }
  const v = createChainVerifier(start, o.anchors);
  const done = () => {
    const r = v.result();
    return { ok: r.ok, events: r.events, head: r.head, start, anchorsMatched: r.anchorsMatched, ...(r.broken ? { broken: r.broken } : {}) };
  };
  let next = start.seq + 1;
  for (;;) {
    const page = await q.query<Row>('SELECT seq, ts, type, identity, body, prev_hash, hash FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2', [next, pageSize]);
    for (const r of page.rows) {
      const seq = Number(r.seq);
      const at = v.position();
      if (seq === at.seq + 1 && r.prev_hash === at.hash) {
        const columns = checkColumns(r, seq);
        if (columns) return { ...done(), ok: false, broken: { seq, reason: columns } };
      }
      if (!v.add({ seq, body: r.body, prev_hash: r.prev_hash, hash: r.hash })) return done();
      next = seq + 1;
    }
    if (page.rows.length < pageSize) break;
  }
  const head = await q.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
  const h = head.rows[0];
  const r = v.result();
  if (!h) return { ...done(), ok: false, broken: { seq: r.head.seq + 1, reason: 'chain head is missing' } };
  if (Number(h.seq) !== r.head.seq || h.hash !== r.head.hash) {
    return { ...done(), ok: false, broken: { seq: Math.min(Number(h.seq), r.head.seq + 1), reason: `chain head (seq ${h.seq}) does not match the last stored event (seq ${r.head.seq}): events were removed` } };
  }
  v.end();
  return done();
}

/** The indexed columns must be copies of the hashed body. Null when they agree. */
function checkColumns(r: Row, seq: number): string | null {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return 'body is not JSON';
  }
  if (canonicalJson(body) !== r.body) return 'body is not in canonical form';
  if (body.seq !== seq || body.type !== r.type || (body.identity ?? null) !== (r.identity ?? null) || body.ts !== new Date(r.ts).toISOString()) {
    return 'stored columns disagree with the hashed body';
  }
  return null;
}
