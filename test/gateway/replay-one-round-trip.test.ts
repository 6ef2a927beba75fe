/**
 * Two brokers on one PostgreSQL database, ext-authz (Envoy shape). A gateway check claims its DPoP
 * proof's `jti` cluster-wide (RFC 9449 §11.1) in the statement that writes its decision record: a
 * replay, on the same instance or on the other one, is refused 401 with the replay refusal recorded
 * and reported to detection, and no allow record exists for it; concurrent checks sharing a group
 * commit with a replay are allowed; two instances racing on the same proofs use each proof once; the
 * audit chain verifies throughout.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GW, useReplayCluster } from './replay-fixture.js';

describe('ext-authz: the proof claim travels with the decision record (two instances, PostgreSQL)', () => {
  const cluster = useReplayCluster();
  const { refusals, issue, check, decisionsAt, allows, replays, verified } = cluster;

  test('an allowed check makes one statement: the proof claim and the decision record together', async () => {
    const { a, b } = cluster;
    const { key, token } = await issue();
    const store = a.broker.store;
    const query = store.query;
    // Statements that claim or append, during one check on a (whose head guess is fresh: another
    // instance writing in between costs a retry, which is correct but not what is measured here).
    const statementsOfOneCheck = async (i: number) => {
      assert.equal((await check(a, token, `/orders/10${i}`, await key.proof('GET', `${GW}/orders/10${i}`, { accessToken: token }))).status, 200);
      const seen: string[] = [];
      store.query = ((sql: string, params?: unknown[]) => {
        seen.push(sql);
        return query.call(store, sql, params);
      }) as typeof store.query;
      try {
        const r = await check(a, token, `/orders/11${i}`, await key.proof('GET', `${GW}/orders/11${i}`, { accessToken: token }));
        assert.equal(r.status, 200);
      } finally {
        store.query = query;
      }
      return seen.filter((q) => /dpop_jti|audit_events/.test(q));
    };
    let statements: string[] = [];
    for (let i = 0; i < 3 && statements.length !== 1; i++) {
      statements = await statementsOfOneCheck(i);
      assert.match(statements[0]!, /INSERT INTO dpop_jti[\s\S]*UPDATE audit_head[\s\S]*INSERT INTO audit_events/);
    }
    assert.equal(statements.length, 1, statements.join('\n---\n'));
  });

  test('a replay on the same instance and on the other instance is refused 401, recorded and reported; no allow record for it', async () => {
    const { a, b } = cluster;
    const { key, token } = await issue();
    for (const [first, again, path] of [
      [a, b, '/orders/101'],
      [b, a, '/orders/102'],
    ] as const) {
      const proof = await key.proof('GET', `${GW}${path}`, { accessToken: token });
      const before = { a: refusals.a.length, b: refusals.b.length };
      assert.equal((await check(first, token, path, proof)).status, 200, 'the first use is allowed');
      for (const on of [first, again]) {
        const r = await check(on, token, path, proof);
        assert.equal(r.status, 401, `replay on ${on === a ? 'a' : 'b'}`);
        assert.match(r.headers.get('www-authenticate') ?? '', /^DPoP /);
        assert.equal(((await r.json()) as { error: string }).error, 'invalid_dpop_proof');
      }
      const ds = await decisionsAt(path);
      assert.equal(allows(ds).length, 1, JSON.stringify(ds));
      const refused = replays(ds);
      assert.equal(refused.length, 2, JSON.stringify(ds));
      for (const d of refused) {
        assert.equal(d.identity, 'ci/acme/api');
        assert.equal(d.data.decision, 'deny');
        assert.equal(d.data.presented_jkt, key.jkt);
        assert.equal(d.data.jkt, key.jkt);
        assert.equal(d.data.reason, 'DPoP proof has already been used (jti replay)');
      }
      assert.ok(refused.every((d) => d.seq > allows(ds)[0]!.seq));
      // Detection hears of each replay from the instance that refused it, as for any replay.
      for (const name of ['a', 'b'] as const) {
        const heard = refusals[name].slice(before[name]).filter((r) => r.path === path);
        assert.equal(heard.length, 1, `${name}: ${JSON.stringify(heard)}`);
        assert.equal(heard[0]!.code, 'dpop_proof_replayed');
        assert.equal(heard[0]!.identity, 'ci/acme/api');
        assert.equal(heard[0]!.presentedJkt, key.jkt);
        assert.equal(heard[0]!.route, 'orders');
      }
    }
    await verified();
  });

  test('concurrent checks sharing group commits with replays are allowed; the chain verifies', async () => {
    const { a, b } = cluster;
    const { key, token } = await issue();
    for (let round = 0; round < 3; round++) {
      const used = await Promise.all([0, 1].map((i) => key.proof('GET', `${GW}/orders/2${round}${i}`, { accessToken: token })));
      for (const [i, p] of used.entries()) assert.equal((await check(a, token, `/orders/2${round}${i}`, p)).status, 200);
      // On b: twenty fresh proofs and the two used on a, all at once (b's own cache has seen neither).
      const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) => key.proof('GET', `${GW}/orders/3${round}${i}`, { accessToken: token })));
      const res = await Promise.all([
        ...fresh.slice(0, 10).map((p, i) => check(b, token, `/orders/3${round}${i}`, p)),
        ...used.map((p, i) => check(b, token, `/orders/2${round}${i}`, p)),
        ...fresh.slice(10).map((p, i) => check(b, token, `/orders/3${round}${i + 10}`, p)),
      ]);
      assert.deepEqual(
        res.map((r) => r.status),
        [...Array(10).fill(200), 401, 401, ...Array(10).fill(200)],
      );
      for (const i of [0, 1]) {
        const ds = await decisionsAt(`/orders/2${round}${i}`);
        assert.equal(allows(ds).length, 1);
        assert.equal(replays(ds).length, 1);
      }
    }
    await verified();
  });

  test('two instances racing on the same proofs: each proof is used once, the chain verifies', async () => {
    const { a, b } = cluster;
    const { key, token } = await issue();
    const N = 40;
    const proofs = await Promise.all(Array.from({ length: N }, (_, i) => key.proof('GET', `${GW}/orders/4${i}`, { accessToken: token })));
    const res = await Promise.all(proofs.flatMap((p, i) => [check(a, token, `/orders/4${i}`, p), check(b, token, `/orders/4${i}`, p)]));
    const statuses = res.map((r) => r.status);
    for (let i = 0; i < N; i++) {
      const pair = [statuses[2 * i], statuses[2 * i + 1]].sort();
      assert.deepEqual(pair, [200, 401], `proof ${i}: ${pair}`);
      const ds = await decisionsAt(`/orders/4${i}`);
      assert.equal(allows(ds).length, 1, `proof ${i}`);
      assert.equal(replays(ds).length, 1, `proof ${i}`);
    }
    await verified();
  });
});
