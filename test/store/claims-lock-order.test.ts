/**
 * Every claimer of `dpop_jti` keys locks them in one order (audit/append.ts claims sorted, before the
 * head): the cluster replay guard's batched claim (a request whose proof claim is not deferred) must
 * too. Otherwise a guard batch holding one key and waiting for another, while a deferred decision
 * group commit holds the second and waits for the first, is a deadlock: PostgreSQL aborts one after
 * deadlock_timeout, and when it is the group commit every decision in it fails (503), including other
 * callers' requests that claimed nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClaimTaken, createAuditWriter, type RawAuditInput } from '../../src/audit/index.js';
import { createClusterReplayGuard } from '../../src/tokens/cluster-replay-guard.js';
import { useTestStore } from './fixture.js';

const soon = () => Math.floor(Date.now() / 1000) + 60;

describe('dpop_jti claims: one lock order for the guard and the audit writer (pg)', () => {
  const t = useTestStore('pg');

  test('a guard batch and a deferred group commit claiming the same keys in opposite orders both complete', async () => {
    const w = createAuditWriter<RawAuditInput>(t.store);
    const guard = createClusterReplayGuard(t.store);
    const failures: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [k1, k2] = [`lo-${i}-1`, `lo-${i}-2`];
      // A third transaction holds k1 for a moment, so both claimers queue behind it; when it rolls
      // back, whichever gets k1 first decides the order in which the other meets its keys.
      const holder = t.store
        .tx(async (q) => {
          await q.query('INSERT INTO dpop_jti (key, expires_at) VALUES ($1, now() + interval \'1 minute\')', [k1]);
          await new Promise((r) => setTimeout(r, 300));
          throw new Error('rollback');
        })
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
      const decision = w.append({ type: 'lo.decision', data: { i } }, { claims: [{ key: k1, expiresAt: soon() }, { key: k2, expiresAt: soon() }] });
      const neighbour = w.append({ type: 'lo.neighbour', data: { i } });
      await new Promise((r) => setTimeout(r, 50));
      // One tick: one guard statement, keys in arrival order (k2 first).
      const g = Promise.all([guard.claim(k2, soon()), guard.claim(k1, soon())]);
      const settled = await Promise.allSettled([decision, neighbour, g, holder]);
      // Either claimer may win the keys (the decision is then a replay, ClaimTaken); nothing may fail.
      for (const [n, s] of settled.entries()) {
        if (s.status === 'rejected' && !(n === 0 && s.reason instanceof ClaimTaken)) failures.push(`round ${i} #${n}: ${(s.reason as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('pruning expired keys while a group commit takes two of them over: both complete', async () => {
    const w = createAuditWriter<RawAuditInput>(t.store);
    const guard = createClusterReplayGuard(t.store);
    const failures: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [k1, k2] = [`pr-${i}-1`, `pr-${i}-2`];
      // Expired rows, k2 first in the heap: the prune meets k2 before k1, the writer k1 before k2.
      await t.store.query("INSERT INTO dpop_jti (key, expires_at) VALUES ($1, now() - interval '1 minute')", [k2]);
      await t.store.query("INSERT INTO dpop_jti (key, expires_at) VALUES ($1, now() - interval '1 minute')", [k1]);
      const holder = t.store.tx(async (q) => {
        await q.query('SELECT 1 FROM dpop_jti WHERE key = $1 FOR UPDATE', [k1]);
        await new Promise((r) => setTimeout(r, 300));
      });
      await new Promise((r) => setTimeout(r, 50));
      const decision = w.append({ type: 'pr.decision', data: { i } }, { claims: [{ key: k1, expiresAt: soon() }, { key: k2, expiresAt: soon() }] });
      const neighbour = w.append({ type: 'pr.neighbour', data: { i } });
      await new Promise((r) => setTimeout(r, 50));
      const pruned = guard.prune();
      const settled = await Promise.allSettled([decision, neighbour, pruned, holder]);
      // Pruning still removes what has expired and nobody is taking over.
      await t.store.query("INSERT INTO dpop_jti (key, expires_at) VALUES ($1, now() - interval '1 minute')", [`pr-${i}-gone`]);
      await guard.prune();
      assert.equal((await t.store.query('SELECT 1 FROM dpop_jti WHERE key = $1', [`pr-${i}-gone`])).rows.length, 0);
      for (const [n, s] of settled.entries()) {
        if (s.status === 'rejected' && !(n === 0 && s.reason instanceof ClaimTaken)) failures.push(`round ${i} #${n}: ${(s.reason as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
