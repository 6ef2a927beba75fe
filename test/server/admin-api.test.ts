import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyChain } from '../../src/audit/index.js';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { STORE_KINDS } from '../helpers/stores.js';

for (const kind of STORE_KINDS) {
  describe(`admin API on ${kind}`, () => {
    let b: RunningBroker;
    before(async () => {
      b = await startBroker(kind);
    });
    after(async () => {
      await b.stop();
    });

    test('health, readiness and metrics answer without credentials', async () => {
      assert.equal((await fetch(b.url + '/healthz')).status, 200);
      const ready = await fetch(b.url + '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { status: string }).status, 'ready');
      await b.admin('GET', '/admin/v1/identities');
      const m = await (await fetch(b.url + '/metrics')).text();
      assert.match(m, /tether_http_requests_total\{route="\/admin\/v1\/identities",method="GET",status="200"\} \d/);
      assert.match(m, /tether_http_request_duration_seconds_bucket/);
      assert.match(m, /tether_audit_queue_depth \d/);
      assert.match(m, /tether_audit_commit_seconds_bucket/);
    });

    test('the event-loop lag metric still shows a stall although it samples only every 100 ms', async () => {
      // The broker runs in this process: block its loop for 300 ms, as a CPU-heavy request would.
      await new Promise((r) => setTimeout(r, 250));
      const until = Date.now() + 300;
      while (Date.now() < until);
      await new Promise((r) => setTimeout(r, 250));
      const m = await (await fetch(b.url + '/metrics')).text();
      const max = Number(/^tether_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(m)?.[1]);
      assert.ok(max >= 0.25, `lag max ${max} s after a 300 ms stall`);
    });

    test('the admin API refuses a missing, wrong or malformed token with a JSON 401', async () => {
      for (const auth of [undefined, 'Bearer wrong-token', `Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`, 'Bearer']) {
        const res = await fetch(b.url + '/admin/v1/identities', { headers: auth ? { authorization: auth } : {} });
        assert.equal(res.status, 401, String(auth));
        const body = (await res.json()) as { error: string };
        assert.equal(body.error, 'unauthorized');
      }
    });

    test('identity lifecycle: create, get (URL-encoded id), list with filters, patch, retire', async () => {
      const id = 'ci/acme/api-deploy';
      const c = await b.admin('POST', '/admin/v1/identities', { id, kind: 'ci_job', owner: 'team-payments', purpose: 'deploy acme api', environment: 'prod', review_by: '2027-01-31', labels: { repo: 'acme/api' } });
      assert.equal(c.status, 201);
      assert.equal(c.body.owner, 'team-payments');
      assert.equal(c.body.status, 'active');
      assert.equal(c.body.review_by, '2027-01-31T00:00:00.000Z');
      assert.equal((await b.admin('POST', '/admin/v1/identities', { id, kind: 'ci_job', owner: 'x' })).status, 409);
      assert.equal((await b.admin('GET', '/admin/v1/identities/' + encodeURIComponent(id))).body.id, id);
      assert.equal((await b.admin('GET', '/admin/v1/identities/' + id)).body.id, id);
      assert.equal((await b.admin('GET', '/admin/v1/identities/' + encodeURIComponent('nope/none'))).status, 404);
      await b.admin('POST', '/admin/v1/identities', { id: 'svc/billing', kind: 'service_account', owner: 'team-billing' });
      const byOwner = await b.admin('GET', '/admin/v1/identities?owner=team-payments');
      assert.deepEqual(byOwner.body.identities.map((i: { id: string }) => i.id), [id]);
      const byKind = await b.admin('GET', '/admin/v1/identities?kind=service_account');
      assert.deepEqual(byKind.body.identities.map((i: { id: string }) => i.id), ['svc/billing']);
      const p = await b.admin('PATCH', '/admin/v1/identities/' + encodeURIComponent(id), { owner: 'team-platform', review_by: null });
      assert.equal(p.status, 200);
      assert.equal(p.body.owner, 'team-platform');
      assert.equal(p.body.review_by, null);
      const r = await b.admin('DELETE', '/admin/v1/identities/' + encodeURIComponent(id), { reason: 'repo archived' });
      assert.equal(r.body.status, 'retired');
      assert.equal((await b.admin('GET', '/admin/v1/identities?status=retired')).body.identities.length, 1);
      assert.equal((await b.admin('PATCH', '/admin/v1/identities/' + encodeURIComponent(id), { owner: 'again' })).status, 409);
      const audit = await b.admin('GET', `/admin/v1/audit?identity=${encodeURIComponent(id)}`);
      assert.deepEqual(audit.body.events.map((e: { type: string }) => e.type), ['identity.created', 'identity.updated', 'identity.retired']);
      assert.deepEqual(audit.body.events[1].data.changed, ['owner', 'review_by']);
    });

    test('bad input is a JSON 4xx, never a 500', async () => {
      const post = (body: string, ct = 'application/json') => b.admin('POST', '/admin/v1/identities', body, { 'content-type': ct });
      const cases: Array<[string, number, RegExp?]> = [
        ['{"id": "a", "kind":', 400, /not valid JSON/],
        ['not json', 400],
        ['[]', 400],
        ['null', 400],
        ['{"id":"a","kind":"ci_job"}', 400, /owner/],
        ['{"id":"a","kind":"robot","owner":"x"}', 400, /kind/],
        ['{"id":"a","kind":"ci_job","owner":42}', 400, /owner/],
        ['{"id":"a","kind":"ci_job","owner":"x","review_by":"next tuesday"}', 400, /review_by/],
        ['{"id":"a","kind":"ci_job","owner":"x","review_by":"2026-13-45"}', 400, /review_by/],
        ['{"id":"a b","kind":"ci_job","owner":"x"}', 400, /id/],
        ['{"id":"a","kind":"ci_job","owner":"x","extra":1}', 400, /unknown field/],
        ['[' .repeat(200000) + ']'.repeat(200000), 400],
        ['{"a":'.repeat(50000) + '1' + '}'.repeat(50000), 400],
      ];
      for (const [body, status, msg] of cases) {
        const r = await post(body);
        assert.equal(r.status, status, body.slice(0, 60));
        assert.equal(typeof r.body.error, 'string');
        if (msg) assert.match(r.body.error_description, msg);
        assert.doesNotMatch(JSON.stringify(r.body), /at .*\.js:\d+/);
      }
      const big = await post(JSON.stringify({ id: 'big', kind: 'ci_job', owner: 'x', purpose: 'x'.repeat(1024 * 1024 + 10) }));
      assert.equal(big.status, 413);
      const ct = await post('{"id":"a","kind":"ci_job","owner":"x"}', 'text/plain');
      assert.ok(ct.status === 415 || ct.status === 400);
      assert.equal((await b.admin('GET', '/admin/v1/identities?limit=abc')).status, 400);
      assert.equal((await b.admin('GET', '/admin/v1/identities/%E0%A4%A')).status, 400);
      assert.equal((await b.admin('GET', '/admin/v1/audit?limit=10001')).status, 400);
      assert.equal((await b.admin('GET', '/admin/v1/audit?since=yesterday')).status, 400);
      assert.equal((await b.admin('PATCH', '/admin/v1/identities/svc%2Fbilling', {})).status, 400);
      // The process is still healthy after all of that.
      assert.equal((await fetch(b.url + '/healthz')).status, 200);
    });

    test('__proto__ and constructor keys are inert', async () => {
      const r = await b.admin('POST', '/admin/v1/identities', '{"id":"proto/test","kind":"workload","owner":"x","__proto__":{"isAdmin":true},"labels":{"constructor":"y"}}');
      assert.equal(r.status, 201);
      assert.equal(r.body.isAdmin, undefined);
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      assert.equal(r.body.labels.constructor, 'y');
    });

    test('audit paging: ?limit and ?after, oldest first, each with its seq; the chain verifies', async () => {
      for (let i = 0; i < 12; i++) await b.admin('POST', '/admin/v1/identities', { id: `page/${i}`, kind: 'workload', owner: 'o' });
      const first = await b.admin('GET', '/admin/v1/audit?limit=5&type=identity.created');
      assert.equal(first.body.events.length, 5);
      const seqs: number[] = first.body.events.map((e: { seq: number }) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
      const next = await b.admin('GET', `/admin/v1/audit?limit=5&type=identity.created&after=${first.body.next_after}`);
      assert.ok(next.body.events[0].seq > seqs[4]!);
      const all = await b.admin('GET', '/admin/v1/audit?limit=10000');
      assert.ok(all.body.events.length >= 15);
      assert.equal((await verifyChain(b.broker.store)).ok, true);
    });

    test('fail closed over HTTP: a change whose audit record cannot be written answers 503 and does not happen', async () => {
      await b.broker.store.exec(`CREATE FUNCTION t_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no space'; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER t_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION t_fail();`);
      try {
        const r = await b.admin('POST', '/admin/v1/identities', { id: 'never/there', kind: 'workload', owner: 'o' });
        assert.equal(r.status, 503);
        assert.equal(r.body.error, 'unavailable');
      } finally {
        await b.broker.store.exec('DROP TRIGGER t_fail ON audit_events; DROP FUNCTION t_fail();');
      }
      assert.equal((await b.admin('GET', '/admin/v1/identities/never%2Fthere')).status, 404);
    });

    test('X-Request-ID is echoed and secrets never reach the log', async () => {
      const res = await fetch(b.url + '/admin/v1/identities', { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-request-id': 'req-123' } });
      assert.equal(res.headers.get('x-request-id'), 'req-123');
      assert.ok(b.logs.length > 0);
      assert.ok(!b.logs.join('').includes(ADMIN_TOKEN));
    });
  });
}
