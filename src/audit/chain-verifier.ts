import { canonicalJson } from './canonical-json.js';
import { chainHash, type AuditRecord } from './chain.js';

/** A signed position the chain must pass through: `seq` with exactly `hash`. */
export interface ChainAnchor {
  seq: number;
  hash: string;
  /** Where it came from, for messages: "checkpoint signed 2026-…", "archive segment …". */
  source: string;
}

export interface Broken {
  seq: number;
  reason: string;
}

/**
 * Recomputes a chain one event at a time from a known start (genesis, or the last event of an
 * archived segment) and checks it against anchors. Shared by `verify` on the table, archive
 * segments and exported files, so every path applies the same rules.
 */
export function createChainVerifier(start: { seq: number; hash: string }, anchors: readonly ChainAnchor[] = []) {
  const pending = [...anchors].filter((a) => a.seq > start.seq).sort((a, b) => a.seq - b.seq);
  let expect = start.seq + 1;
  let prev = start.hash;
  let count = 0;
  let broken: Broken | null = null;
  // The last anchor the chain matched: a consistent rewrite lies between it and the one it misses.
  let matched: ChainAnchor | null = null;
  let anchorsMatched = 0;

  const fail = (seq: number, reason: string) => {
    broken = { seq, reason };
    return false;
  };

  return {
    /** One stored event: `body` is the hashed canonical text. False once the chain is broken. */
    add(e: { seq: number; body: string; prev_hash: string; hash: string }): boolean {
      if (broken) return false;
      if (e.seq !== expect) return fail(expect, `event ${expect} is missing (next stored is ${e.seq})`);
      if (e.prev_hash !== prev) return fail(e.seq, 'prev_hash does not link to the previous event');
      if (chainHash(prev, e.body) !== e.hash) return fail(e.seq, 'hash does not match the event');
      const a = pending[0];
      if (a && a.seq === e.seq) {
        pending.shift();
        if (a.hash !== e.hash) {
          return fail(
            e.seq,
            `the stored chain differs from the ${a.source} at seq ${a.seq}: history was rewritten in seqs ${(matched?.seq ?? start.seq) + 1}..${a.seq}`,
          );
        }
        matched = a;
        anchorsMatched++;
      }
      prev = e.hash;
      expect = e.seq + 1;
      count++;
      return true;
    },
    /** The chain ends here: an anchor beyond its end means events were cut from the tail. */
    end(): Broken | null {
      if (broken) return broken;
      const a = pending[0];
      if (a) {
        broken = { seq: expect, reason: `the chain ends at seq ${expect - 1} but the ${a.source} is at seq ${a.seq}: events ${expect}..${a.seq} were removed` };
      }
      return broken;
    },
    failed: () => broken !== null,
    /** The last verified event (seq and hash) the next one must link to. */
    position: () => ({ seq: expect - 1, hash: prev }),
    result: () => ({ ok: broken === null, events: count, head: { seq: expect - 1, hash: prev }, anchorsMatched, ...(broken ? { broken: broken as Broken } : {}) }),
  };
}

export type ChainVerifier = ReturnType<typeof createChainVerifier>;

/** The hashed text of an exported record (RFC 8785 is idempotent, so this equals the stored body). */
export const recordBody = (e: AuditRecord): string => canonicalJson({ seq: e.seq, ts: e.ts, type: e.type, actor: e.actor, identity: e.identity, data: e.data });
