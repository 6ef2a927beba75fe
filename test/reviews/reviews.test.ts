import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createReviewSignals, claimsFingerprint } from '../../src/reviews/index.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { STORE_KINDS } from '../helpers/stores.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T12:00:00Z');

/** Notifications arrive milliseconds after commit: wait for them, boundedly, instead of sleeping. */
async function eventually<T>(fn: () => Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const kind of STORE_KINDS) {
  describe(`reviews (${kind})`, { timeout: 60_000 }, () => {
    let b: RunningBroker;
    let now = T0;
    const list = async (q: string) => {
      const r = await b.admin('GET', `/admin/v1/reviews?${q}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.reviews as Array<{ id: string; identity: string; reason: string; status: string; detail: Record<string, unknown>; decision: Record<string, unknown> | null }>;
    };

    before(async () => {
      b = await startBroker(kind, {}, { clock: () => new Date(now) });
    });
    after(() => b?.stop());

    it('opens a review at once for an identity applied with a past review_by, and only once', async () => {
      const bundle = { identities: [{ id: 'ci/late', kind: 'ci_job', owner: 'team-a', review_by: '2026-01-01' }] };
      const first = await b.admin('POST', '/admin/v1/apply', bundle);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      // Same transaction as the apply: no waiting.
      const open = await list('identity=ci/late&status=open');
      assert.equal(open.length, 1);
      assert.equal(open[0]!.reason, 'review_due');
      const again = await b.admin('POST', '/admin/v1/apply', bundle);
      assert.deepEqual(again.body, { changed: false, changes: [] });
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=ci/late')).length, 1);
      const audit = await b.admin('GET', '/admin/v1/audit?type=review.opened&identity=ci/late');
      assert.equal(audit.body.events.length, 1);
    });

    it('opens review_due for an identity created through the admin API, and owner_departed on the label', async () => {
      await b.admin('POST', '/admin/v1/identities', { id: 'svc/old', kind: 'workload', owner: 'bob', review_by: '2025-12-01' });
      await eventually(async () => ((await list('identity=svc/old&reason=review_due')).length === 1 ? true : undefined), 'review_due');
      await b.admin('PATCH', '/admin/v1/identities/svc%2Fold', { labels: { owner_status: 'departed' } });
      await eventually(async () => ((await list('identity=svc/old&reason=owner_departed')).length === 1 ? true : undefined), 'owner_departed');
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=svc/old&status=open')).length, 2, 'never twice for the same open reason');
    });

    it('certify records who vouched, moves review_by, closes the review; a second decision is 409', async () => {
      const [r] = await list('identity=ci/late&status=open');
      // The decider is the authenticated operator (alice, an approver), never a name in the body.
      const alice = await b.admin('POST', '/admin/v1/operators', { name: 'alice', role: 'approver' });
      assert.equal(alice.status, 201, JSON.stringify(alice.body));
      const d = await b.admin('POST', `/admin/v1/reviews/${r!.id}/decision`, { decision: 'certify', reason: 'still deploys the API' }, { authorization: `Bearer ${alice.body.token}` });
      assert.equal(d.status, 200, JSON.stringify(d.body));
      assert.equal(d.body.status, 'closed');
      assert.equal(d.body.decision.by, 'alice');
      assert.equal(d.body.decision.decision, 'certify');
      const id = await b.admin('GET', '/admin/v1/identities/ci%2Flate');
      assert.equal(id.body.review_by, new Date(now + 90 * DAY).toISOString());
      const again = await b.admin('POST', `/admin/v1/reviews/${r!.id}/decision`, { decision: 'revoke', reason: 'changed my mind' });
      assert.equal(again.status, 409);
      const audit = await b.admin('GET', '/admin/v1/audit?type=review.decided&identity=ci/late');
      assert.equal(audit.body.events[0].data.by, 'alice');
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=ci/late&status=open')).length, 0, 'the certified review does not come back');
    });

    it('revoke suspends the identity and revokes its grants and tokens cluster-wide', async () => {
      const [r] = await list('identity=svc/old&reason=owner_departed&status=open');
      const d = await b.admin('POST', `/admin/v1/reviews/${r!.id}/decision`, { decision: 'revoke', reason: 'owner left, nobody claims it' });
      assert.equal(d.status, 200, JSON.stringify(d.body));
      assert.equal(d.body.decision.decision, 'revoke');
      const id = await b.admin('GET', '/admin/v1/identities/svc%2Fold');
      assert.equal(id.body.status, 'suspended');
      const rev = await b.broker.store.query<{ kind: string; value: string }>('SELECT kind, value FROM revocations');
      assert.deepEqual(rev.rows.map((x) => [x.kind, x.value]), [['identity', 'svc/old']]);
      const events = await b.admin('GET', '/admin/v1/audit?identity=svc/old&limit=100');
      const types = (events.body.events as Array<{ type: string }>).map((e) => e.type);
      assert.ok(types.includes('revocation.created') && types.includes('review.decided'), types.join());
      // The in-memory revocation set of this instance learnt it through the change feed.
      await eventually(async () => (b.broker.revocations.check({ jti: 'x', sub: 'svc/old', iat: Math.floor(now / 1000) - 1 }) ? true : undefined), 'revocation set');
      // A suspended identity gets no new reviews.
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=svc/old&status=open')).length, 0);
    });

    it('refuses bad decisions and bad queries with 4xx', async () => {
      await b.admin('POST', '/admin/v1/identities', { id: 'svc/x', kind: 'workload', owner: 'bob', review_by: '2025-12-01' });
      const [r] = await eventually(async () => {
        const l = await list('identity=svc/x');
        return l.length ? l : undefined;
      }, 'review');
      const bad: Array<[unknown, number]> = [
        [{ decision: 'approve', reason: 'x' }, 400],
        [{ decision: 'certify' }, 400],
        [{ decision: 'certify', reason: '  ' }, 400],
        [{ decision: 'certify', reason: 'x', extra: 1 }, 400],
        [{ decision: 'certify', reason: 'x', review_by: '2020-01-01' }, 400],
        [{ decision: 'revoke', reason: 'x', review_by: '2030-01-01' }, 400],
        ['not json', 400],
      ];
      for (const [body, status] of bad) {
        const d = await b.admin('POST', `/admin/v1/reviews/${r!.id}/decision`, body);
        assert.equal(d.status, status, `${JSON.stringify(body)} → ${d.status} ${JSON.stringify(d.body)}`);
      }
      assert.equal((await b.admin('POST', '/admin/v1/reviews/rev_nope/decision', { decision: 'certify', reason: 'x' })).status, 404);
      assert.equal((await b.admin('POST', '/admin/v1/reviews/rev_00000000a_0123456789/decision', { decision: 'certify', reason: 'x' })).status, 404);
      for (const q of ['limit=0', 'limit=abc', 'status=maybe', 'reason=whim', 'foo=1']) {
        assert.equal((await b.admin('GET', `/admin/v1/reviews?${q}`)).status, 400, q);
      }
      const ok = await b.admin('POST', `/admin/v1/reviews/${r!.id}/decision`, { decision: 'certify', reason: 'fine', review_by: '2026-06-01' });
      assert.equal(ok.status, 200);
      assert.equal((await b.admin('GET', '/admin/v1/identities/svc%2Fx')).body.review_by, '2026-06-01T00:00:00.000Z');
    });

    it('pages with limit and after', async () => {
      const p1 = await b.admin('GET', '/admin/v1/reviews?limit=2');
      assert.equal(p1.body.reviews.length, 2);
      // A cursor that no page handed out is refused, not read as an empty page.
      for (const bad of ['%FF', 'zzz', 'rev_1']) assert.equal((await b.admin('GET', `/admin/v1/reviews?after=${bad}`)).status, 400, bad);
      const p2 = await b.admin('GET', `/admin/v1/reviews?limit=100&after=${p1.body.next_after}`);
      const ids = [...p1.body.reviews, ...p2.body.reviews].map((r: { id: string }) => r.id);
      assert.equal(new Set(ids).size, ids.length);
      assert.deepEqual(ids, [...ids].sort());
    });

    it('opens dormant on the sweep once the identity has been idle for 30 days', async () => {
      await b.admin('POST', '/admin/v1/identities', { id: 'svc/idle', kind: 'workload', owner: 'bob', review_by: '2027-01-01' });
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=svc/idle')).length, 0, 'too young to be dormant');
      now = T0 + 31 * DAY;
      const s = await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.ok(s.body.opened.some((r: { identity: string; reason: string }) => r.identity === 'svc/idle' && r.reason === 'dormant'));
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=svc/idle&reason=dormant')).length, 1);
    });

    it('opens policy_widened for identities a new policy version reaches further', async () => {
      await b.admin('POST', '/admin/v1/identities', { id: 'svc/reader', kind: 'workload', owner: 'bob', review_by: '2027-01-01' });
      const v1 = `@id("r") permit (principal == Identity::"svc/reader", action == Action::"orders:read", resource);`;
      const v2 = `@id("r") permit (principal == Identity::"svc/reader", action in [Action::"orders:read", Action::"orders:delete"], resource);`;
      assert.equal((await b.admin('POST', '/admin/v1/policies', { files: { 'p.cedar': v1 } })).status, 200);
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=svc/reader&reason=policy_widened')).length, 0, 'the first set is configuration, not widening');
      assert.equal((await b.admin('POST', '/admin/v1/policies', { files: { 'p.cedar': v2 } })).status, 200);
      const [w] = await eventually(async () => {
        const l = await list('identity=svc/reader&reason=policy_widened');
        return l.length ? l : undefined;
      }, 'policy_widened');
      assert.ok((w!.detail.added as Array<{ action: string }>).some((a) => a.action === 'orders:delete'), JSON.stringify(w!.detail));
      await b.admin('POST', '/admin/v1/reviews/sweep');
      assert.equal((await list('identity=svc/reader&reason=policy_widened')).length, 1);
    });

    it('opens new_claim_set for a claim set first seen after the baseline', async () => {
      const signals = createReviewSignals({ db: b.broker.store, audit: b.broker.audit, clock: () => new Date(now) });
      const main = claimsFingerprint({ repository: 'acme/api', ref: 'refs/heads/main', iat: 1, jti: 'a' });
      assert.equal(main, claimsFingerprint({ repository: 'acme/api', ref: 'refs/heads/main', iat: 2, jti: 'b' }), 'volatile claims do not count');
      assert.equal(await signals.claimSetSeen('svc/reader', main), null, 'the first claim set is the baseline');
      assert.equal(await signals.claimSetSeen('svc/reader', main), null);
      const branch = claimsFingerprint({ repository: 'acme/api', ref: 'refs/heads/evil' });
      const r = await signals.claimSetSeen('svc/reader', branch, { issuer: 'github-actions' });
      assert.equal(r?.reason, 'new_claim_set');
      const other = createReviewSignals({ db: b.broker.store, audit: b.broker.audit, clock: () => new Date(now) });
      assert.equal(await other.claimSetSeen('svc/reader', branch), null, 'known to another instance through the table');
      assert.equal((await list('identity=svc/reader&reason=new_claim_set')).length, 1);
    });
  });
}
