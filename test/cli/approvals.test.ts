/**
 * Approvals people can act on (README "Approvals"), real broker over HTTP and the real CLI: a grant
 * that needs two approvers is issued only after a second, distinct operator; an operator who asked
 * for a grant cannot approve it; a pending grant nobody decides expires; `tether token --wait` prints
 * the token once another process approves, and exits non-zero with the reason on a denial.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey } from '../helpers/dpop.js';
import { runCliAsync } from '../helpers/process.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const WINDOW_S = 30;
/** The broker's clock runs ahead by this much once a test moves it (the approval window passing). */
let skewMs = 0;
const POLICIES = {
  ...EXCHANGE_POLICIES,
  'purge.cedar': `@id("purge-needs-two")\n@approval("2")\npermit (principal == Identity::"ci/acme/api", action == Action::"orders:purge", resource == Audience::"${ORDERS_AUD}");`,
};

describe('approvals: four eyes, requester exclusion, expiry, token --wait', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  const tokens: Record<string, string> = {};
  const as = (name: string) => ({ authorization: `Bearer ${tokens[name]}` });

  before(async () => {
    b = await startBroker('pglite', { approvalWindow: WINDOW_S }, { clock: () => new Date(Date.now() + skewMs) });
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: POLICIES });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const name of ['alice', 'bob', 'carol']) tokens[name] = (await b.admin('POST', '/admin/v1/operators', { name, role: 'approver' })).body.token;
  });
  after(async () => {
    await b.stop();
  });

  // One workload instance per ticket: the grant is keyed to its DPoP key (grants per task instance).
  const keys = new Map<string, Awaited<ReturnType<typeof createDpopKey>>>();
  const exchange = async (scope: string, ticket: string, headers: Record<string, string> = {}, task: Record<string, unknown> = {}) => {
    const key = keys.get(ticket) ?? (await createDpopKey());
    keys.set(ticket, key);
    const details = [{ type: 'tether_task', ticket, ...task }];
    const res = await fetch(`${b.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${b.url}/oauth/token`), ...headers },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await gha.token(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope,
        audience: ORDERS_AUD,
        authorization_details: JSON.stringify(details),
      }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  test('a grant that needs two approvers is issued only after a second, distinct operator', async () => {
    const first = await exchange('orders:purge', 'OPS-2');
    assert.equal(first.body.error, 'authorization_pending', JSON.stringify(first.body));
    assert.equal((first.body as { interval?: number }).interval, 5, 'RFC 8628 interval');
    const id = first.body.grant_id!;
    const one = await b.admin('POST', `/admin/v1/grants/${id}/approve`, { reason: 'purge reviewed' }, as('alice'));
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.state, 'pending');
    assert.equal((await b.admin('POST', `/admin/v1/grants/${id}/approve`, { reason: 'again' }, as('alice'))).status, 409, 'one operator, one approval');
    // The bootstrap admin token is nobody in particular: it cannot be the second pair of eyes.
    assert.equal((await b.admin('POST', `/admin/v1/grants/${id}/approve`, { reason: 'me too' })).status, 403);
    const still = await exchange('orders:purge', 'OPS-2');
    assert.equal(still.body.error, 'authorization_pending');
    assert.match(still.body.error_description!, /1 of 2 approvals/);
    const two = await b.admin('POST', `/admin/v1/grants/${id}/approve`, { reason: 'second pair of eyes' }, as('bob'));
    assert.equal(two.body.state, 'active');
    const ok = await exchange('orders:purge', 'OPS-2');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const events = (await b.admin('GET', '/admin/v1/audit?type=grant.approved')).body.events.filter((e: { data: { grant: string } }) => e.data.grant === id);
    assert.deepEqual(events.map((e: { actor: string; data: { complete: boolean } }) => [e.actor, e.data.complete]), [['alice', false], ['bob', true]]);
  });

  test('the operator who asked for a grant cannot approve it; a bad operator token is refused', async () => {
    const bad = await exchange('orders:delete', 'OPS-3', { 'x-tether-operator-token': 'tether_op_forged' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_client');
    const asked = await exchange('orders:delete', 'OPS-3', { 'x-tether-operator-token': tokens['carol']! });
    assert.equal(asked.body.error, 'authorization_pending', JSON.stringify(asked.body));
    const id = asked.body.grant_id as string;
    const self = await b.admin('POST', `/admin/v1/grants/${id}/approve`, { reason: 'I need it' }, as('carol'));
    assert.equal(self.status, 403, JSON.stringify(self.body));
    const other = await b.admin('POST', `/admin/v1/grants/${id}/approve`, { reason: 'ok' }, as('alice'));
    assert.equal(other.body.state, 'active');
    const pending = (await b.admin('GET', '/admin/v1/audit?type=grant.pending')).body.events.find((e: { data: { grant: string } }) => e.data.grant === id);
    assert.equal(pending.data.requested_by, 'carol');
    assert.equal((await exchange('orders:delete', 'OPS-3')).status, 200, 'the approved grant is reused');
    // Raising the count takes effect at once: a grant one operator approved is not reused under @approval("2").
    const two = { ...POLICIES, 'orders.cedar': POLICIES['orders.cedar'].replace('@approval("required")', '@approval("2")') };
    assert.equal((await b.admin('POST', '/admin/v1/apply', { policies: two })).status, 200);
    const raised = await exchange('orders:delete', 'OPS-3');
    assert.equal(raised.body.error, 'authorization_pending', JSON.stringify(raised.body));
    assert.notEqual(raised.body.grant_id, id);
    assert.equal((await b.admin('POST', '/admin/v1/apply', { policies: POLICIES })).status, 200);
  });

  test('a pending grant nobody decides within its window expires', async () => {
    const first = await exchange('orders:delete', 'OPS-4');
    const id = first.body.grant_id as string;
    // The window passes on the broker's clock (DPoP proofs stay within their 60 s iat window).
    skewMs = (WINDOW_S + 1) * 1000;
    const late = await b.admin('POST', `/admin/v1/grants/${id}/approve`, { reason: 'too late' }, as('alice'));
    assert.equal(late.body.state, 'expired', JSON.stringify(late.body));
    const again = await exchange('orders:delete', 'OPS-4');
    assert.equal(again.body.error, 'access_denied');
    assert.equal(again.body.grant_state, 'expired');
    const ev = (await b.admin('GET', '/admin/v1/audit?type=grant.expired')).body.events.find((e: { data: { grant: string } }) => e.data.grant === id);
    assert.equal(ev.data.reason, 'approval_window');
    skewMs = 0;
  });

  test('break-glass is confirmed after the fact by a second operator, never the one who asked; unconfirmed it is an alert', async () => {
    const glass = { break_glass: true, justification: 'orders DB on fire, INC-7' };
    const opened = await exchange('orders:admin', 'INC-7', { 'x-tether-operator-token': tokens['carol']! }, glass);
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const grant = (JSON.parse(Buffer.from(String(opened.body.access_token).split('.')[1]!, 'base64url').toString()) as { grant: string }).grant;
    const self = await b.admin('POST', `/admin/v1/grants/${grant}/confirm`, { reason: 'I did it' }, as('carol'));
    assert.equal(self.status, 403, JSON.stringify(self.body));
    const ok = await b.admin('POST', `/admin/v1/grants/${grant}/confirm`, { reason: 'incident INC-7 reviewed' }, as('alice'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.confirmed_by, 'alice');
    assert.equal((await b.admin('POST', `/admin/v1/grants/${grant}/confirm`, { reason: 'again' }, as('bob'))).status, 409);
    const confirmed = (await b.admin('GET', '/admin/v1/audit?type=grant.confirmed')).body.events.at(-1);
    assert.equal(confirmed.actor, 'alice');

    // Another break-glass nobody confirms: once its window passes, the sweep raises the alert.
    const other = await exchange('orders:admin', 'INC-8', {}, { ...glass, justification: 'orders queue stuck, INC-8' });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    const otherGrant = (JSON.parse(Buffer.from(String(other.body.access_token).split('.')[1]!, 'base64url').toString()) as { grant: string }).grant;
    skewMs = (WINDOW_S + 1) * 1000;
    let alert: { data: { grant: string; severity: string } } | undefined;
    for (let i = 0; i < 100 && !alert; i++) {
      alert = (await b.admin('GET', '/admin/v1/audit?type=grant.break_glass_unconfirmed')).body.events.find((e: { data: { grant: string } }) => e.data.grant === otherGrant);
      if (!alert) await new Promise((r) => setTimeout(r, 200));
    }
    skewMs = 0;
    assert.ok(alert, 'grant.break_glass_unconfirmed');
    assert.equal(alert.data.severity, 'critical');
    assert.ok(!(await b.admin('GET', '/admin/v1/audit?type=grant.break_glass_unconfirmed')).body.events.some((e: { data: { grant: string } }) => e.data.grant === grant), 'the confirmed one raised nothing');
  });

  test('tether token --wait prints the token once another process approves; a denial exits non-zero with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-wait-'));
    writeFileSync(join(dir, 'subject.jwt'), await gha.token({}, { ttl: 600 }));
    const env = { TETHER_ADMIN_TOKEN: ADMIN_TOKEN, TETHER_URL: b.url };
    const run = (ticket: string) =>
      runCliAsync(['token', '--wait', '--timeout', '60s', '--subject-token-file', join(dir, 'subject.jwt'), '--scope', 'orders:delete', '--audience', ORDERS_AUD, '--dpop-key', join(dir, `k-${ticket}.json`), '--ticket', ticket], env, 90_000);
    const pendingFor = async (ticket: string): Promise<string> => {
      for (let i = 0; i < 100; i++) {
        const g = (await b.admin('GET', '/admin/v1/grants?state=pending')).body.grants.find((x: { task: { ticket?: string } }) => x.task.ticket === ticket);
        if (g) return g.id;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no pending grant for ${ticket}`);
    };
    const waiting = run('OPS-5');
    const id = await pendingFor('OPS-5');
    assert.equal((await runCliAsync(['approve', id, '--reason', 'go ahead'], { ...env, TETHER_ADMIN_TOKEN: tokens['alice']! })).code, 0);
    const done = await waiting;
    assert.equal(done.code, 0, done.stderr);
    assert.equal((JSON.parse(done.stdout) as { token_type: string }).token_type, 'DPoP');
    assert.match(done.stderr, /waiting for approval/);

    const refused = run('OPS-6');
    const id2 = await pendingFor('OPS-6');
    assert.equal((await runCliAsync(['deny', id2, '--reason', 'not in a change window'], { ...env, TETHER_ADMIN_TOKEN: tokens['bob']! })).code, 0);
    const out = await refused;
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /access_denied.*not in a change window/);
  });
});
