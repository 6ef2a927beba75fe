import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PostureFinding, PostureReport } from '../../src/posture/report-types.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute } from '../helpers/gateway-fixture.js';
import { createWorkloadIssuer, ORDERS_AUD } from '../helpers/workload-issuer.js';

const GW = 'http://gateway.test';
const POLICIES = {
  'live.cedar': `
@id("api-reads-and-lists")
permit (principal == Identity::"ci/acme/api", action in [Action::"orders:read", Action::"orders:list"], resource);

@id("clean-reads")
permit (principal == Identity::"ci/acme/clean", action == Action::"orders:read", resource);

@id("reviewed-reads")
permit (principal == Identity::"ci/acme/reviewed", action == Action::"orders:read", resource);
`,
};
const future = '2030-01-01';

/** Posture from real traffic: token exchanges and gateway decisions, then the report. */
describe('posture and reviews from live traffic', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let report: PostureReport;
  const of = (id: string): PostureFinding[] => report.findings.filter((f) => f.identity === id);

  async function use(repo: string, scope: string, action: 'GET', path: string) {
    const key = await createDpopKey();
    const r = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token({ repository: repo }), scope, audience: ORDERS_AUD });
    if (r.status !== 200) return r;
    const token = r.body.access_token!;
    const res = await fetch(`${b.url}/ext-authz/orders${path}`, {
      method: action,
      headers: { authorization: `DPoP ${token}`, dpop: await key.proof(action, `${GW}${path}`, { accessToken: token }) },
    });
    assert.equal(res.status, 200);
    return r;
  }

  before(async () => {
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', {
      identities: [
        { id: 'ci/acme/api', kind: 'ci_job', owner: 'team-orders', review_by: future },
        { id: 'ci/acme/clean', kind: 'ci_job', owner: 'team-orders', review_by: future },
        { id: 'ci/acme/reviewed', kind: 'ci_job', owner: 'team-orders', review_by: '2025-01-01' },
        { id: 'svc/sleepy', kind: 'service_account', owner: 'team-batch', review_by: future },
      ],
      issuers: [gha.config()],
      policies: POLICIES,
      routes: [ordersRoute(GW)],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // svc/sleepy must be older than "dormant after PT5S" when the report runs; the others used since.
    await new Promise((r) => setTimeout(r, 5200));
    await use('acme/api', 'orders:read', 'GET', '/orders/1');
    await use('acme/clean', 'orders:read', 'GET', '/orders/2');
    await use('acme/reviewed', 'orders:read', 'GET', '/orders/3');
    const discovered = await use('acme/unknown', 'orders:read', 'GET', '/orders/4');
    assert.equal(discovered.status, 400, 'a first-seen workload is refused until owned');
    const p = await b.admin('GET', '/admin/v1/posture?dormant_after=PT5S');
    assert.equal(p.status, 200, JSON.stringify(p.body));
    report = p.body as PostureReport;
  });
  after(async () => {
    await b.stop();
  });

  test('the unowned discovered identity, the overdue review, the dormant identity and the unused permission appear with their mappings', () => {
    const kinds = (id: string) => of(id).map((f) => f.kind);
    assert.ok(kinds('ci/acme/unknown').includes('unowned'), JSON.stringify(of('ci/acme/unknown')));
    assert.ok(kinds('ci/acme/reviewed').includes('review_overdue'));
    assert.ok(kinds('svc/sleepy').includes('dormant'));
    const unused = of('ci/acme/api').find((f) => f.kind === 'unused_permission');
    assert.ok(unused, JSON.stringify(of('ci/acme/api')));
    assert.match(JSON.stringify(unused.evidence), /orders:list/);
    for (const f of report.findings) {
      assert.ok(f.owasp.length > 0 && f.owasp.every((x) => /^NHI([1-9]|10)$/.test(x)), JSON.stringify(f));
      assert.ok(f.csf.length > 0 && f.csf.every((x) => /^(GV|ID|PR|DE|RS|RC)\.[A-Z]{2}-\d{2}$/.test(x)), JSON.stringify(f));
    }
  });

  test('the used identity has a blast radius from its policies; the owned, current, fully used one has no finding', () => {
    const api = report.identities.find((i) => i.id === 'ci/acme/api')!;
    assert.ok(api.last_used);
    const actions = new Set(api.blast_radius.map((e) => e.action));
    assert.ok(actions.has('orders:read') && actions.has('orders:list'), JSON.stringify(api.blast_radius));
    assert.deepEqual(of('ci/acme/clean'), []);
  });

  test('revoking a review suspends the identity: its next token exchange is refused', async () => {
    const reviews = await b.admin('GET', '/admin/v1/reviews?identity=ci%2Facme%2Freviewed&status=open');
    const review = reviews.body.reviews.find((r: { reason: string }) => r.reason === 'review_due') ?? reviews.body.reviews[0];
    assert.ok(review, JSON.stringify(reviews.body));
    const d = await b.admin('POST', `/admin/v1/reviews/${review.id}/decision`, { decision: 'revoke', reason: 'nobody vouches for it' });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    assert.equal((await b.admin('POST', `/admin/v1/reviews/${review.id}/decision`, { decision: 'certify', reason: 'too late' })).status, 409);
    assert.equal((await b.admin('GET', '/admin/v1/identities/ci%2Facme%2Freviewed')).body.status, 'suspended');
    const again = await exchangeForToken({ endpointBase: b.url, key: await createDpopKey(), subjectToken: await gha.token({ repository: 'acme/reviewed' }), scope: 'orders:read', audience: ORDERS_AUD });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.match(again.body.error_description!, /suspended/);
  });
});
