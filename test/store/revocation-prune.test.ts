import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pruneExpiredRevocations, REVOCATION_RETENTION_SECONDS } from '../../src/revocation/index.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { useTestStore } from './fixture.js';

for (const kind of STORE_KINDS) {
  describe(`revocation pruning on ${kind}`, () => {
    const t = useTestStore(kind);

    test('rows go once every token they could match has expired; issuer revocations and recent rows stay', async () => {
      const old = new Date(Date.now() - (REVOCATION_RETENTION_SECONDS + 60) * 1000);
      const recent = new Date(Date.now() - (REVOCATION_RETENTION_SECONDS - 60) * 1000);
      for (const k of ['jti', 'grant', 'identity', 'issuer']) {
        for (const [at, tag] of [[old, 'old'], [recent, 'recent']] as const) {
          await t.store.query('INSERT INTO revocations (kind, value, reason, created_at) VALUES ($1, $2, $3, $4)', [k, `${k}-${tag}`, 'test', at]);
        }
      }
      assert.equal(await pruneExpiredRevocations(t.store), 3);
      const left = (await t.store.query<{ value: string }>('SELECT value FROM revocations ORDER BY value')).rows.map((r) => r.value);
      assert.deepEqual(left, ['grant-recent', 'identity-recent', 'issuer-old', 'issuer-recent', 'jti-recent']);
      assert.equal(await pruneExpiredRevocations(t.store), 0);
    });
  });
}
