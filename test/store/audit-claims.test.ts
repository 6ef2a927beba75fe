/**
 * Single-use claims made with an audit append (audit/claims.ts): the event is written only if its
 * keys are new in `dpop_jti`, in the same statement as the chain append. A taken key refuses its own
 * event only, never the group commit it shared; the chain never forks or has gaps, under head
 * contention and on the locking fallback too; an expired key may be taken again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClaimTaken, createAuditWriter, verifyChain, type RawAuditInput } from '../../src/audit/index.js';
import { appendBatch, claimKeys } from '../../src/audit/append.js';
import type { Queryable, Store } from '../../src/store/index.js';
import { createTestDb, STORE_KINDS } from '../helpers/stores.js';
import { useTestStore } from './fixture.js';

const soon = () => Math.floor(Date.now() / 1000) + 60;
const claim = (key: string) => ({ key, expiresAt: soon() });
const rejectedWith = (s: PromiseSettledResult<unknown>[]) => s.flatMap((r, i) => (r.status === 'rejected' ? [{ i, e: r.reason as unknown }] : []));

async function countOf(q: Queryable, type: string): Promise<number> {
  return (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE type = $1', [type])).rows[0]!.n;
}

/** The chain has no gap: seq runs 1..head.seq, and the hashes link (verifyChain). */
async function assertOneChain(q: Store): Promise<void> {
  const v = await verifyChain(q);
  assert.equal(v.ok, true, JSON.stringify(v.broken));
  const r = await q.query<{ n: number; max: number; head: number }>('SELECT count(*)::int AS n, coalesce(max(seq), 0)::int AS max, (SELECT seq FROM audit_head WHERE id = 1)::int AS head FROM audit_events');
  const { n, max, head } = r.rows[0]!;
  assert.equal(max, head, 'the head is the last event');
  assert.equal(n, max, 'no gap in seq');
}

/**
 * The store as seen by a writer that always loses the compare-and-set to another instance: before
 * each of the first `times` fast-path statements, another transaction appends.
 */
function contended(store: Store, times = 8): Store & { casCalls: number } {
  const s = Object.create(store) as Store & { casCalls: number };
  s.casCalls = 0;
  s.query = (async (sql: string, params?: unknown[]) => {
    if (sql.includes('UPDATE audit_head SET seq = $3') && s.casCalls++ < times) {
      await store.tx((q) => appendBatch(q, [{ type: 'claims.other', data: { at: s.casCalls } }], new Date()));
    }
    return store.query(sql, params);
  }) as Store['query'];
  return s;
}

for (const kind of STORE_KINDS) {
  describe(`audit appends with single-use claims on ${kind}`, () => {
    const t = useTestStore(kind);

    test('in one group commit, events whose key is taken (earlier or by a neighbour) are refused alone', async () => {
      const commits: number[] = [];
      const w = createAuditWriter<RawAuditInput>(t.store, { onCommit: (n) => commits.push(n) });
      await w.append({ type: 'claims.earlier' }, { claims: [claim('g-3'), claim('g-7')] });
      commits.length = 0;
      // One tick: one group commit (the writer starts after the current tick).
      const settled = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => w.append({ type: 'claims.group', data: { i } }, { claims: [claim(i === 21 ? 'g-20' : `g-${i}`)] })),
      );
      const rejected = rejectedWith(settled);
      assert.deepEqual(rejected.map((r) => r.i), [3, 7, 21]);
      for (const r of rejected) assert.ok(r.e instanceof ClaimTaken, String(r.e));
      assert.deepEqual(commits, [37], 'the others were written together, in one commit');
      const seqs = settled.flatMap((s) => (s.status === 'fulfilled' ? [(s.value as { seq: number }).seq] : []));
      assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'contiguous, in queue order');
      assert.equal(await countOf(t.store, 'claims.group'), 37);
      await assertOneChain(t.store);
    });

    test('an expired key may be claimed again; a live one may not', async () => {
      await t.store.query("INSERT INTO dpop_jti (key, expires_at) VALUES ('x-old', now() - interval '1 second'), ('x-live', now() + interval '1 minute')");
      const w = createAuditWriter<RawAuditInput>(t.store);
      await w.append({ type: 'claims.expired' }, { claims: [claim('x-old')] });
      await assert.rejects(w.append({ type: 'claims.expired' }, { claims: [claim('x-live')] }), ClaimTaken);
      const r = await t.store.query<{ live: boolean }>("SELECT expires_at > now() AS live FROM dpop_jti WHERE key = 'x-old'");
      assert.equal(r.rows[0]!.live, true, 'the expired row was taken over');
      assert.equal(await countOf(t.store, 'claims.expired'), 1);
      await assertOneChain(t.store);
    });

    test('a claim made by a statement whose head move failed is ours: the retry does not refuse it', async () => {
      const w1 = createAuditWriter<RawAuditInput>(t.store);
      const w2 = createAuditWriter<RawAuditInput>(t.store);
      await w1.append({ type: 'claims.stale' }); // w1 now guesses the head
      await w2.append({ type: 'claims.stale' }); // ... which w2 moves
      const rec = await w1.append({ type: 'claims.stale', data: { mine: true } }, { claims: [claim('s-1')] });
      assert.equal(rec.data.mine, true);
      await assert.rejects(w2.append({ type: 'claims.stale' }, { claims: [claim('s-1')] }), ClaimTaken);
      assert.equal(await countOf(t.store, 'claims.stale'), 3);
      await assertOneChain(t.store);
    });

    test('under head contention to the locking fallback, claims hold and the chain stays one', async () => {
      const pre = createAuditWriter<RawAuditInput>(t.store);
      await pre.append({ type: 'claims.pre' }, { claims: [claim('c-2')] });
      const s = contended(t.store);
      const w = createAuditWriter<RawAuditInput>(s);
      const settled = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => w.append({ type: 'claims.contended', data: { i } }, { claims: [claim(`c-${i}`)] })));
      const rejected = rejectedWith(settled);
      assert.deepEqual(rejected.map((r) => r.i), [2]);
      assert.ok(rejected[0]!.e instanceof ClaimTaken);
      assert.equal(s.casCalls, 8, 'every fast-path attempt lost, then the locking path wrote');
      assert.equal(await countOf(t.store, 'claims.contended'), 9);
      // The keys the lost attempts claimed stayed ours: nobody else can take them now.
      await assert.rejects(createAuditWriter<RawAuditInput>(t.store).append({ type: 'claims.again' }, { claims: [claim('c-0')] }), ClaimTaken);
      await assertOneChain(t.store);
    });

    test('the locking path claims inside its transaction, as the fast path does', async () => {
      await t.store.query("INSERT INTO dpop_jti (key, expires_at) VALUES ('l-old', now() - interval '1 second'), ('l-live', now() + interval '1 minute')");
      const got = await t.store.tx((q) => claimKeys(q, [claim('l-new'), claim('l-old'), claim('l-live')]));
      assert.deepEqual([...got].sort(), ['l-new', 'l-old']);
      // Rolled back with its transaction: the key stays free.
      await assert.rejects(
        t.store.tx(async (q) => {
          await claimKeys(q, [claim('l-rolled')]);
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.deepEqual([...(await t.store.tx((q) => claimKeys(q, [claim('l-rolled')])))], ['l-rolled']);
    });
  });
}

describe('two instances claiming the same keys at once (pg)', () => {
  test('each key is written once, neither refuses its neighbours, and the chain verifies', async () => {
    const db = await createTestDb('pg');
    const a = await db.open();
    const b = await db.open();
    try {
      const wa = createAuditWriter<RawAuditInput>(a);
      const wb = createAuditWriter<RawAuditInput>(b);
      const N = 200;
      const keys = Array.from({ length: N }, (_, i) => `two-${i}`);
      // Opposite orders on the two instances: the claims must not deadlock on each other's keys.
      const rounds = await Promise.all(
        Array.from({ length: 4 }, async (_, r) => {
          const slice = keys.slice((r * N) / 4, ((r + 1) * N) / 4);
          return Promise.allSettled([
            ...slice.map((k) => wa.append({ type: 'claims.two', data: { k, on: 'a' } }, { claims: [claim(k)] })),
            ...[...slice].reverse().map((k) => wb.append({ type: 'claims.two', data: { k, on: 'b' } }, { claims: [claim(k)] })),
            // Events without claims, in the same group commits.
            ...slice.map((k) => (r % 2 ? wa : wb).append({ type: 'claims.plain', data: { k } })),
          ]);
        }),
      );
      const all = rounds.flat();
      const bad = all.filter((s) => s.status === 'rejected' && !(s.reason instanceof ClaimTaken));
      assert.deepEqual(bad, [], 'only replays are refused');
      assert.equal(all.filter((s) => s.status === 'rejected').length, N, 'each key refused once');
      const written = await a.query<{ k: string; n: number }>("SELECT body::json->'data'->>'k' AS k, count(*)::int AS n FROM audit_events WHERE type = 'claims.two' GROUP BY 1");
      assert.equal(written.rows.length, N);
      assert.ok(written.rows.every((r) => r.n === 1), 'each key written once');
      assert.equal(await countOf(a, 'claims.plain'), N);
      await assertOneChain(a);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
