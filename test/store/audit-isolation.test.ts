import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAuditWriter, verifyChain, type RawAuditInput } from '../../src/audit/index.js';
import { TetherError } from '../../src/errors.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { useOpenBroker, useTestStore } from './fixture.js';

for (const kind of STORE_KINDS) {
  describe(`a poison audit event on ${kind}`, () => {
    // The store itself refuses one event (as PostgreSQL refuses a NUL in text): a data exception.
    const t = useTestStore(kind, (store) =>
      store.exec(`
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.identity = 'poison' THEN RAISE EXCEPTION 'poisoned' USING ERRCODE = '22023'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_poison();`),
    );

    test('fails only its own append; the events it shared a group commit with are written', async () => {
      const writer = createAuditWriter<RawAuditInput>(t.store);
      const appends = Array.from({ length: 60 }, (_, i) => writer.append({ type: 'test.event', identity: i === 17 ? 'poison' : `ok/${i}`, data: { i } }));
      const settled = await Promise.allSettled(appends);
      const rejected = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ i, e: s.reason as TetherError }] : []));
      assert.deepEqual(rejected.map((r) => r.i), [17]);
      assert.ok(rejected[0]!.e instanceof TetherError && rejected[0]!.e.status === 400, String(rejected[0]!.e));
      const r = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE type = 'test.event'");
      assert.equal(r.rows[0]!.n, 59);
      assert.equal((await verifyChain(t.store)).ok, true);
    });

    test('a NUL in an indexed field is refused before it can join a group commit', async () => {
      const writer = createAuditWriter<RawAuditInput>(t.store);
      const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => writer.append({ type: 'test.nul', identity: i === 3 ? 'bad\u0000id' : `ok/${i}` })));
      assert.deepEqual(
        settled.map((s) => s.status),
        settled.map((_, i) => (i === 3 ? 'rejected' : 'fulfilled')),
      );
    });
  });
}

describe('NUL and malformed input over HTTP on pg: only the offending request fails', () => {
  const broker = useOpenBroker('pg');

  const evaluate = (subjectId: string, resourceId: string) =>
    fetch(`${broker.b.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { type: 'Identity', id: subjectId }, action: { name: 'read' }, resource: { type: 'Doc', id: resourceId } }),
    });

  test('a NUL in an AuthZEN id, an admin path or admin JSON is a 400 while concurrent requests succeed', async () => {
    const poison = [
      () => evaluate('svc/a\u0000x', 'd'),
      () => evaluate('svc/a', 'd\u0000'),
      () => evaluate('svc/a', '\ud800'),
      () => evaluate('svc/a', 'x'.repeat(5000)),
      () => fetch(`${broker.b.url}/admin/v1/identities/svc%2Fa%00`, { headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' } }),
      () => broker.b.admin('POST', '/admin/v1/identities', { id: 'svc/b', kind: 'service_account', owner: 'te\u0000am' }).then((r) => ({ status: r.status })),
      () => broker.b.admin('POST', '/admin/v1/revocations', { kind: 'jti', value: 'j\u0000', reason: 'x' }).then((r) => ({ status: r.status })),
    ];
    for (let round = 0; round < 3; round++) {
      const good = Array.from({ length: 40 }, (_, i) => evaluate('svc/a', `doc-${round}-${i}`));
      const bad = poison.map((f) => f());
      const [g, p] = await Promise.all([Promise.all(good), Promise.all(bad)]);
      assert.deepEqual(
        g.map((r) => r.status),
        g.map(() => 200),
      );
      assert.deepEqual(
        p.map((r) => r.status),
        p.map(() => 400),
      );
    }
    const audit = await broker.b.admin('GET', '/admin/v1/audit?type=decision&limit=1000');
    assert.equal(audit.body.events.length, 120);
  });
});
