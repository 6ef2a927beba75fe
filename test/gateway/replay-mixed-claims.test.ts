/**
 * Two brokers on one PostgreSQL database, ext-authz (Envoy shape), attacking the deferred proof claim
 * (RFC 9449 §11.1, made in the decision record's statement): the same proof keys (jkt, jti) claimed
 * by matching checks on one instance (deferred, in the audit group commit) and by non-matching ones
 * on the other (claimed at once by the replay guard) are each used once, with no 5xx; odd resource
 * ids (NUL, C1, noncharacters, undecodable, long) sharing group commits with claiming checks fail
 * none of them, and the chain verifies. KEYS and ROUNDS widen the race.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GW, useReplayCluster } from './replay-fixture.js';

describe('ext-authz attacks on the deferred proof claim (two instances, PostgreSQL)', () => {
  const cluster = useReplayCluster();
  const { issue, check, verified } = cluster;

  test('attack: deferred claims (matching route) racing immediate claims (non-matching route) of the same keys on the other instance: no 5xx, each key once', async () => {
    const { a, b } = cluster;
    const { key, token } = await issue();
    const bad: string[] = [];
    for (let round = 0; round < Number(process.env.ROUNDS ?? 15); round++) {
      const N = Number(process.env.KEYS ?? 30);
      const jtis = Array.from({ length: N }, (_, i) => `r${round}-${String(i).padStart(3, '0')}`);
      const good = await Promise.all(jtis.map((jti, i) => key.proof('GET', `${GW}/orders/7${round}${i}`, { accessToken: token, jti })));
      const miss = await Promise.all(jtis.map((jti, i) => key.proof('POST', `${GW}/nomatch/${round}${i}`, { accessToken: token, jti })));
      const res = await Promise.all([
        ...good.map((p, i) => check(a, token, `/orders/7${round}${i}`, p)),
        ...[...miss.entries()].reverse().map(([i, p]) => fetch(`${b.url}/ext-authz/orders/nomatch/${round}${i}`, { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: p } })),
      ]);
      for (const r of res) if (r.status >= 500) bad.push(`${r.status} ${await r.text()}`);
      const ok = res.slice(0, N).filter((r) => r.status === 200).length;
      const other = res.slice(N).filter((r) => r.status === 403).length;
      assert.ok(ok + other <= N, `round ${round}: ${ok} allowed + ${other} route-refused for ${N} keys`);
    }
    assert.deepEqual(bad, []);
    await verified();
  });

  test('attack: odd resource ids (NUL, C1, long) in one group commit with valid claiming checks: no 5xx, chain verifies', async () => {
    const { a, b } = cluster;
    const { key, token } = await issue();
    const odd = ['/orders/%00', '/orders/a%00b', '/orders/%C2%85', '/orders/%EF%BF%BF', '/orders/%F0%9F', '/orders/' + 'x'.repeat(4000), '/orders/%E2%80%AE', '/orders/..%2F..%2Fadmin'];
    for (let round = 0; round < 3; round++) {
      const valid = Array.from({ length: 10 }, (_, i) => `/orders/8${round}${i}`);
      const paths = [...valid.slice(0, 5), ...odd, ...valid.slice(5)];
      const proofs = await Promise.all(paths.map((p) => key.proof('GET', `${GW}${p}`, { accessToken: token })));
      const res = await Promise.all(paths.map((p, i) => check(round % 2 ? a : b, token, p, proofs[i]!)));
      const st = await Promise.all(res.map(async (r, i) => `${paths[i]!.slice(0, 30)} ${r.status} ${r.status >= 500 ? await r.text() : ''}`));
      assert.ok(res.every((r, i) => (valid.includes(paths[i]!) ? r.status === 200 : r.status < 500)), st.join('\n'));
    }
    await verified();
  });
});
