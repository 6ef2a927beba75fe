import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PostureFinding, PostureIdentity, PostureReport } from '../../src/posture/report-types.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { AUD, seededBroker, type SeededBroker } from './seed.js';

for (const kind of STORE_KINDS) {
  describe(`GET /admin/v1/posture (${kind})`, { timeout: 60_000 }, () => {
    let s: SeededBroker;
    let report: PostureReport;
    const of = (id: string): PostureFinding[] => report.findings.filter((f) => f.identity === id);
    const identity = (id: string): PostureIdentity => report.identities.find((i) => i.id === id)!;

    before(async () => {
      s = await seededBroker(kind);
      const r = await s.b.admin('GET', '/admin/v1/posture');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      report = r.body as PostureReport;
    });
    after(() => s?.b.stop());

    it('follows the contract', () => {
      assert.equal(report.generated_at, '2026-03-01T12:00:00.000Z');
      assert.equal(report.window, 'P30D');
      for (const i of report.identities) for (const k of ['id', 'owner', 'status', 'risk', 'last_used', 'blast_radius']) assert.ok(k in i, `${i.id} lacks ${k}`);
      for (const f of report.findings) {
        for (const k of ['id', 'kind', 'identity', 'severity', 'evidence', 'recommendation']) assert.ok(k in f, `${f.id} lacks ${k}`);
        assert.ok(Array.isArray(f.owasp) && Array.isArray(f.csf));
      }
      assert.equal(report.metrics.issuances, 3);
      assert.equal(report.metrics.decisions, 3);
      assert.deepEqual(report.metrics.credential_lifetime_seconds, { median: 300, p95: 300 });
      assert.equal(report.metrics.jit_share, 1);
    });

    it('reports the unowned discovered identity', () => {
      const f = of('gh/acme/unknown-workflow').find((x) => x.kind === 'unowned');
      assert.ok(f, JSON.stringify(of('gh/acme/unknown-workflow')));
      assert.deepEqual(f.owasp, ['NHI1']);
      assert.ok(f.csf.includes('ID.AM-02') && f.csf.includes('PR.AA-01'));
      assert.equal(identity('gh/acme/unknown-workflow').owner, null);
    });

    it('reports the overdue review', () => {
      const f = of('svc/overdue').find((x) => x.kind === 'review_overdue');
      assert.ok(f);
      assert.equal(f.evidence.review_by, '2026-01-15T00:00:00.000Z');
      assert.deepEqual(f.owasp, ['NHI1', 'NHI5']);
      assert.ok(f.csf.includes('PR.AA-05'));
    });

    it('reports the dormant identity, and not the used ones', () => {
      const f = of('svc/dormant').find((x) => x.kind === 'dormant');
      assert.ok(f);
      assert.equal(f.evidence.last_used, null);
      assert.ok(f.csf.includes('DE.CM-03'));
      assert.ok(!report.findings.some((x) => x.kind === 'dormant' && ['svc/good', 'svc/wide', 'svc/overdue'].includes(x.identity)));
    });

    it('reports the permitted-but-never-used action with its policy and a narrower one', () => {
      const f = of('svc/wide').filter((x) => x.kind === 'unused_permission');
      assert.equal(f.length, 1, JSON.stringify(of('svc/wide')));
      const e = f[0]!.evidence as { action: string; policies: string[]; suggested_policy: string; used_actions: string[] };
      assert.equal(e.action, 'orders:write');
      assert.deepEqual(e.policies, ['wide-rw']);
      assert.deepEqual(e.used_actions, ['orders:read']);
      assert.match(e.suggested_policy, /Action::"orders:read"/);
      assert.doesNotMatch(e.suggested_policy, /orders:write/);
      assert.deepEqual(f[0]!.owasp, ['NHI5']);
      assert.deepEqual(f[0]!.csf, ['PR.AA-05']);
    });

    it('has no finding at all for the owned, current identity that uses what it has', () => {
      assert.deepEqual(of('svc/good'), []);
    });

    it('lists what the policies allow in the blast radius, largest first', () => {
      const good = identity('svc/good').blast_radius;
      assert.ok(good.some((e) => e.action === 'orders:read' && e.resource_type === 'Audience' && e.audience === AUD && e.via === 'good-read'), JSON.stringify(good));
      assert.ok(good.some((e) => e.action === 'orders:read' && e.resource_type === 'Order'));
      assert.ok(!good.some((e) => e.action === 'orders:write'));
      const wide = identity('svc/wide').blast_radius;
      assert.ok(wide.some((e) => e.action === 'orders:write' && e.via === 'wide-rw'));
      assert.equal(report.identities[0]!.id, 'svc/wide');
      assert.deepEqual(identity('svc/dormant').blast_radius, []);
    });

    it('takes the window and thresholds from the query, and renders HTML', async () => {
      const r = await s.b.admin('GET', '/admin/v1/posture?window=P1D&dormant_after=P1D');
      assert.equal(r.status, 200);
      const rep = r.body as PostureReport;
      assert.equal(rep.metrics.decisions, 0);
      assert.ok(rep.findings.some((f) => f.kind === 'dormant' && f.identity === 'svc/good'));
      const h = await s.b.admin('GET', '/admin/v1/posture?format=html');
      assert.equal(h.status, 200);
      assert.match(h.headers.get('content-type') ?? '', /text\/html/);
      assert.match(h.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.match(String(h.body), /svc\/wide/);
    });

    it('answers bad query values with 400 and a clear message', async () => {
      const cases: Array<[string, RegExp]> = [
        ['window=P1M', /window: .*ISO-8601 duration/],
        ['window=30d', /window/],
        ['dormant_after=', /dormant_after/],
        ['standing_bound=PT0S', /standing_bound/],
        ['blast_radius_bound=-3', /blast_radius_bound/],
        ['blast_radius_bound=abc', /blast_radius_bound/],
        ['limit=0', /limit/],
        ['format=pdf', /format/],
        ['bogus=1', /unknown field/],
      ];
      for (const [q, re] of cases) {
        const r = await s.b.admin('GET', `/admin/v1/posture?${q}`);
        assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'invalid_request');
        assert.match(r.body.error_description, re, q);
      }
    });

    it('verifies the audit chain for evidence', async () => {
      const r = await s.b.admin('GET', '/admin/v1/audit/verify');
      assert.equal(r.status, 200);
      assert.equal(r.body.ok, true);
      assert.ok(r.body.events > 5);
    });
  });
}
