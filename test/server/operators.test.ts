/**
 * Operators with names and roles (README "Operators"), against the real server over HTTP on PGlite
 * and PostgreSQL: an auditor cannot approve (403, audited) and reads; an approver's approval is
 * audited with the approver's name as actor; a policy author applies policies but not identities;
 * revoked and expired tokens stop at once; 50 wrong tokens from one address are throttled and each
 * audited, while the right token still works from another address; no token is ever stored or logged.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

/** One admin call from a given loopback address (127.0.0.0/8 all reaches the broker on Linux). */
function callFrom(base: string, from: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const u = new URL(base + path);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, localAddress: from, agent: false, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

for (const kind of STORE_KINDS) {
  describe(`operators and roles (${kind})`, () => {
    let b: RunningBroker;
    let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
    const tokens: Record<string, string> = {};
    const as = (name: string) => ({ authorization: `Bearer ${tokens[name]}` });

    before(async () => {
      b = await startBroker(kind);
      gha = await createWorkloadIssuer();
      const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: EXCHANGE_POLICIES });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      for (const [name, role] of [['alice', 'approver'], ['bob', 'auditor'], ['carol', 'policy-author']]) {
        const o = await b.admin('POST', '/admin/v1/operators', { name, role });
        assert.equal(o.status, 201, JSON.stringify(o.body));
        assert.match(o.body.token, /^tether_op_[A-Za-z0-9_-]{43}$/);
        tokens[name!] = o.body.token;
      }
    });
    after(async () => {
      await b.stop();
    });

    const pendingGrant = async (): Promise<string> => {
      const r = await exchangeForToken({ endpointBase: b.url, key: await createDpopKey(), subjectToken: await gha.token(), scope: 'orders:delete', audience: ORDERS_AUD });
      assert.equal(r.body.error, 'authorization_pending', JSON.stringify(r.body));
      return r.body.grant_id!;
    };

    test('an auditor reads but cannot approve (403, audited); an approver approves and is the audited actor', async () => {
      const grant = await pendingGrant();
      assert.equal((await b.admin('GET', '/admin/v1/identities', undefined, as('bob'))).status, 200);
      const no = await b.admin('POST', `/admin/v1/grants/${grant}/approve`, { reason: 'looks fine' }, as('bob'));
      assert.equal(no.status, 403, JSON.stringify(no.body));
      assert.equal(no.body.error, 'forbidden');
      const forbidden = await b.admin('GET', '/admin/v1/audit?type=operator.forbidden');
      assert.ok(forbidden.body.events.some((e: { actor: string; data: { path: string } }) => e.actor === 'bob' && e.data.path === '/grants/:id/approve'));
      // A name in the body is not who approves: the field is refused.
      assert.equal((await b.admin('POST', `/admin/v1/grants/${grant}/approve`, { reason: 'x', approver: 'mallory' }, as('alice'))).status, 400);
      const ok = await b.admin('POST', `/admin/v1/grants/${grant}/approve`, { reason: 'OPS-1 reviewed' }, as('alice'));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const ev = (await b.admin('GET', '/admin/v1/audit?type=grant.approved')).body.events.at(-1);
      assert.equal(ev.actor, 'alice');
      assert.equal(ev.data.approver, 'alice');
      // Operators are an admin's business only.
      assert.equal((await b.admin('GET', '/admin/v1/operators', undefined, as('alice'))).status, 403);
      assert.equal((await b.admin('POST', '/admin/v1/operators', { name: 'eve', role: 'admin' }, as('alice'))).status, 403);
    });

    test('a policy author applies policies and routes, not identities or issuers', async () => {
      const ok = await b.admin('POST', '/admin/v1/apply', { policies: { ...EXCHANGE_POLICIES, 'carol.cedar': '@id("no-nope") forbid (principal, action, resource == Order::"nope");' } }, as('carol'));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const no = await b.admin('POST', '/admin/v1/apply', { identities: [{ id: 'svc/x', kind: 'workload', owner: 'carol' }] }, as('carol'));
      assert.equal(no.status, 403);
      assert.equal((await b.admin('POST', '/admin/v1/revocations', { kind: 'identity', value: 'ci/acme/api', reason: 'x' }, as('carol'))).status, 403);
      const cfg = (await b.admin('GET', '/admin/v1/audit?type=config.applied')).body.events;
      assert.ok(cfg.some((e: { actor: string }) => e.actor === 'carol'), 'apply is audited as the operator');
      const activated = (await b.admin('GET', '/admin/v1/audit?type=policy.activated')).body.events.at(-1);
      assert.equal(activated.actor, 'carol');
    });

    test('revoked and expired operator tokens stop at once; the list never shows a token', async () => {
      const dave = await b.admin('POST', '/admin/v1/operators', { name: 'dave', role: 'auditor', expires_in: 'PT1S' });
      assert.equal(dave.status, 201);
      assert.equal((await b.admin('GET', '/admin/v1/grants', undefined, { authorization: `Bearer ${dave.body.token}` })).status, 200);
      const erin = await b.admin('POST', '/admin/v1/operators', { name: 'erin', role: 'approver' });
      const rv = await b.admin('POST', '/admin/v1/operators/erin/revoke', { reason: 'left the team' });
      assert.equal(rv.status, 200, JSON.stringify(rv.body));
      assert.equal((await b.admin('GET', '/admin/v1/grants', undefined, { authorization: `Bearer ${erin.body.token}` })).status, 401);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await b.admin('GET', '/admin/v1/grants', undefined, { authorization: `Bearer ${dave.body.token}` })).status, 401);
      const list = await b.admin('GET', '/admin/v1/operators');
      assert.equal(list.status, 200);
      const text = JSON.stringify(list.body);
      for (const t of [...Object.values(tokens), dave.body.token, erin.body.token]) assert.ok(!text.includes(t));
      assert.deepEqual(list.body.operators.map((o: { name: string; active: boolean }) => [o.name, o.active]), [['alice', true], ['bob', true], ['carol', true], ['dave', false], ['erin', false]]);
      const failures = (await b.admin('GET', '/admin/v1/audit?type=operator.auth_failed')).body.events;
      assert.ok(failures.some((e: { data: { reason: string; operator?: string } }) => e.data.reason === 'revoked' && e.data.operator === 'erin'));
      assert.ok(failures.some((e: { data: { reason: string; operator?: string } }) => e.data.reason === 'expired' && e.data.operator === 'dave'));
    });

    test('50 wrong tokens from one address: throttled, each failure audited; the right token works from another address', async () => {
      const before = (await b.admin('GET', '/admin/v1/audit?type=operator.auth_failed&limit=1000')).body.events.length;
      const statuses: number[] = [];
      for (let i = 0; i < 50; i++) statuses.push((await callFrom(b.url, '127.0.0.2', 'GET', '/admin/v1/grants', `tether_op_wrong${i}`)).status);
      assert.deepEqual(statuses.slice(0, 9), Array(9).fill(401));
      assert.ok(statuses.slice(10).every((s) => s === 429), statuses.join(','));
      const throttled = await callFrom(b.url, '127.0.0.2', 'GET', '/admin/v1/grants', tokens['alice']!);
      assert.equal(throttled.status, 429, 'the address is throttled whatever it presents');
      assert.ok(Number(throttled.headers['retry-after']) > 0);
      assert.equal((await callFrom(b.url, '127.0.0.3', 'GET', '/admin/v1/grants', tokens['alice']!)).status, 200);
      const events = (await b.admin('GET', '/admin/v1/audit?type=operator.auth_failed&limit=1000')).body.events;
      const mine = events.slice(before).filter((e: { data: { source_ip: string } }) => e.data.source_ip === '127.0.0.2');
      assert.equal(mine.length, 51, 'every failure is audited');
      const all = JSON.stringify(events);
      assert.ok(!all.includes('tether_op_wrong'), 'the presented secret is never recorded');
      assert.ok(!b.logs.join('\n').includes(tokens['alice']!), 'no operator token in the logs');
    });
  });
}
