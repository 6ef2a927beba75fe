/**
 * Policy lifecycle (DESIGN.md "Policy model") through the admin API, on PGlite and PostgreSQL: versions and the
 * active one, idempotent applies (no change, no event), a broken set refused with its parse error while
 * the previous one keeps deciding, and a dry-run that reports exactly the decisions a candidate would
 * change without activating it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAuditEvents } from '../../src/audit/index.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { applyOk, ask, evaluate, PDP_TOKEN } from '../pdp/http.js';

const V1 = { 'orders.cedar': '@id("read-all") permit(principal, action == Action::"orders:read", resource is Order);' };
const CANDIDATE = {
  'orders.cedar': `@id("read-all") permit(principal, action == Action::"orders:read", resource is Order);
@id("not-2") forbid(principal, action == Action::"orders:read", resource == Order::"2");
@id("write-3") permit(principal, action == Action::"orders:write", resource == Order::"3");`,
};
const user = { type: 'User', id: 'u1' };
const order = (id: string) => ({ type: 'Order', id });

async function auditCount(b: RunningBroker): Promise<number> {
  await b.broker.audit.flush();
  return (await listAuditEvents(b.broker.store, { limit: 10000 })).length;
}

for (const kind of STORE_KINDS) {
  describe(`policy versions (${kind})`, () => {
    let b: RunningBroker;
    before(async () => {
      b = await startBroker(kind, { pdpToken: PDP_TOKEN });
    });
    after(async () => b.stop());

    test('no active set: everything is denied (default deny)', async () => {
      const r = await evaluate(b, ask(user, 'orders:read', order('1')));
      assert.equal(r.body.decision, false);
      assert.match(r.body.context.reason_admin.reason, /no policy set/);
      assert.deepEqual((await b.admin('GET', '/admin/v1/policies')).body, { version: null, served_version: null });
    });

    test('apply activates version 1; the same apply again changes nothing and emits nothing', async () => {
      const first = await applyOk(b, { policies: V1, entities: [{ uid: order('1'), attrs: {}, parents: [] }] });
      assert.equal(first.changed, true);
      const g = await b.admin('GET', '/admin/v1/policies');
      assert.equal(g.body.version, 1);
      assert.deepEqual(g.body.policies, ['read-all']);
      assert.deepEqual(g.body.files, V1);
      assert.match(g.body.source_hash, /^[0-9a-f]{64}$/);
      assert.equal(g.body.served_version, 1);
      const activated = await listAuditEvents(b.broker.store, { type: 'policy.activated' });
      assert.equal(activated.length, 1);
      assert.deepEqual(activated[0]!.data, { version: 1, source_hash: g.body.source_hash, files: ['orders.cedar'], previous_version: null, policies: 1, warnings: [] });
      assert.equal((await evaluate(b, ask(user, 'orders:read', order('1')))).body.decision, true);

      const n = await auditCount(b);
      const again = await applyOk(b, { policies: V1, entities: [{ uid: order('1'), attrs: {}, parents: [] }] });
      assert.deepEqual(again, { changed: false, changes: [] });
      assert.equal(await auditCount(b), n, 'no new audit events');
      assert.equal((await b.admin('GET', '/admin/v1/policies')).body.version, 1);
    });

    test('a broken policy set is refused with the parse error; the previous one keeps deciding', async () => {
      const r = await b.admin('POST', '/admin/v1/apply', { identities: [], policies: { 'broken.cedar': 'permit(principal, action, resource) when { principal.x == };' } });
      assert.equal(r.status, 400);
      assert.match(r.body.error_description, /broken\.cedar/);
      const viaAdmin = await b.admin('POST', '/admin/v1/policies', { files: { 'bad.cedar': 'permit(principal, action == Action::"x", resource' } });
      assert.equal(viaAdmin.status, 400);
      assert.match(viaAdmin.body.error_description, /bad\.cedar/);
      assert.equal((await b.admin('GET', '/admin/v1/policies')).body.version, 1);
      assert.equal((await evaluate(b, ask(user, 'orders:read', order('1')))).body.decision, true);
      await b.broker.audit.flush();
      const refused = await listAuditEvents(b.broker.store, { type: 'policy.refused' });
      assert.equal(refused.length, 2);
      assert.match(String(refused[0]!.data['error']), /broken\.cedar/);
      // A schema the policies do not validate against is refused the same way.
      const schema = 'entity User; entity Order; action "orders:read" appliesTo { principal: [User], resource: [Order] };';
      const bad = await b.admin('POST', '/admin/v1/policies', { files: { 'x.cedar': 'permit(principal, action == Action::"orders:read", resource) when { resource.nope };' }, schema });
      assert.equal(bad.status, 400);
    });

    test('dry-run reports exactly the decisions the candidate changes, and does not activate it', async () => {
      const seqs: Record<string, number> = {};
      for (const [a, id] of [['orders:read', '1'], ['orders:read', '2'], ['orders:read', '3'], ['orders:write', '3'], ['orders:write', '4']] as const) {
        const r = await evaluate(b, ask(user, a, order(id)));
        seqs[`${a}/${id}`] = Number(r.body.context.id);
      }
      const n = await auditCount(b);
      const r = await b.admin('POST', '/admin/v1/policies/dry-run', { files: CANDIDATE, limit: 5 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.evaluated, 5);
      assert.equal(r.body.unchanged, 3);
      assert.deepEqual(
        r.body.changed.map((c: { seq: number; before: string; after: string; action: string }) => [c.seq, c.action, c.before, c.after]),
        [
          [seqs['orders:read/2'], 'orders:read', 'allow', 'deny'],
          [seqs['orders:write/3'], 'orders:write', 'deny', 'allow'],
        ],
      );
      assert.deepEqual(r.body.changed[0].resource, order('2'));
      assert.equal(r.body.active_version, 1);
      assert.equal((await b.admin('GET', '/admin/v1/policies')).body.version, 1, 'not activated');
      assert.equal(await auditCount(b), n, 'a dry-run records nothing');
      const invalid = await b.admin('POST', '/admin/v1/policies/dry-run', { files: { 'c.cedar': 'permit(' } });
      assert.equal(invalid.status, 400);
      assert.match(invalid.body.error_description, /c\.cedar/);
      assert.equal((await b.admin('POST', '/admin/v1/policies/dry-run', { files: CANDIDATE, limit: 10001 })).status, 400);
    });

    test('POST /admin/v1/policies activates; older versions stay readable', async () => {
      const r = await b.admin('POST', '/admin/v1/policies', { files: CANDIDATE });
      assert.equal(r.status, 200);
      assert.equal(r.body.version, 2);
      assert.equal(r.body.previous_version, 1);
      assert.equal((await evaluate(b, ask(user, 'orders:read', order('2')))).body.decision, false);
      assert.equal((await evaluate(b, ask(user, 'orders:write', order('3')))).body.decision, true);
      const old = await b.admin('GET', '/admin/v1/policies?version=1');
      assert.deepEqual(old.body.files, V1);
      assert.equal((await b.admin('GET', '/admin/v1/policies?version=9')).status, 404);
      assert.equal((await b.admin('POST', '/admin/v1/policies', { files: CANDIDATE })).body.changed, false);
    });
  });
}
