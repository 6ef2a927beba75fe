/**
 * Notifications and Slack approvals (README "Notifications"), real broker on PostgreSQL, a local fake
 * receiver: a signed grant.pending reaches a webhook within a second, and again after a broker
 * restart for an event committed while the receiver was down; the Slack message carries who/what/why
 * and Approve/Deny; forged, stale, replayed and unmapped Slack callbacks are refused (audited), a valid
 * one approves as the mapped operator.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { signNotification } from '../../src/notify/sinks.js';
import { slackSignature } from '../../src/notify/slack-routes.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { createTestDb, type TestDb } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const SECRET = 'notify-secret-0123456789abcdef';
const SLACK_SECRET = 'slack-signing-secret-0123456789';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

describe('notifications: signed webhook and Slack, outbox across restarts, Slack interactive approvals', () => {
  let receiver: http.Server;
  let receiverUrl: string;
  const received: Received[] = [];
  let failing = false;
  /** Tickets whose notifications the receiver refuses for good (400), as a receiver may refuse a payload. */
  const refused = new Set<string>();
  let db: TestDb;
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  const overrides = () => ({ notify: [`webhook+${receiverUrl}/hook`, `slack+${receiverUrl}/slack`], notifySecret: SECRET, slackSigningSecret: SLACK_SECRET });

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (failing) {
          res.writeHead(503).end();
          return;
        }
        if ([...refused].some((g) => body.includes(g))) {
          res.writeHead(400).end();
          return;
        }
        received.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    db = await createTestDb('pg');
    b = await startBroker('pg', overrides(), { db });
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: EXCHANGE_POLICIES });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await b.admin('POST', '/admin/v1/operators', { name: 'alice', role: 'approver', slack_user_id: 'U0ALICE' })).status, 201);
    await b.admin('POST', '/admin/v1/operators', { name: 'bob', role: 'auditor', slack_user_id: 'U0BOB' });
  });
  after(async () => {
    await b.stop();
    await db.drop();
    receiver.close();
  });

  const pending = async (ticket: string) => {
    const r = await exchangeForToken({ endpointBase: b.url, key: await createDpopKey(), subjectToken: await gha.token(), scope: 'orders:delete', audience: ORDERS_AUD, authorizationDetails: [{ type: 'tether_task', ticket, purpose: 'remove test orders' }] });
    assert.equal(r.body.error, 'authorization_pending', JSON.stringify(r.body));
    return r.body.grant_id!;
  };
  const waitFor = async (pred: (r: Received) => boolean, ms: number) => {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      const hit = received.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  };
  const notification = (r: Received) => (JSON.parse(r.body) as { notification: { event: string; grant?: string; seq: number } }).notification;

  test('a signed grant.pending reaches the webhook within a second, and Slack gets who, what, why and the buttons', async () => {
    const grant = await pending('OPS-7');
    const t0 = Date.now(); // the exchange answered: grant.pending is committed
    const hook = await waitFor((r) => r.path === '/hook' && notification(r).grant === grant && notification(r).event === 'grant.pending', 3000);
    assert.ok(hook, 'webhook received grant.pending');
    process.stdout.write(`# grant.pending at the webhook ${hook.at - t0} ms after the exchange answered\n`);
    assert.ok(hook.at - t0 < 1000, `${hook.at - t0} ms`);
    const ts = String(hook.headers['x-tether-timestamp']);
    assert.equal(hook.headers['x-tether-signature'], signNotification(ts, hook.body, SECRET));
    assert.ok(Math.abs(Date.now() / 1000 - Number(ts)) < 300);
    const slack = await waitFor((r) => r.path === '/slack' && r.body.includes(grant), 3000);
    assert.ok(slack);
    const msg = JSON.parse(slack.body) as { blocks: Array<{ type: string; elements?: Array<{ action_id: string; value?: string }>; fields?: Array<{ text: string }> }> };
    const fields = msg.blocks.find((x) => x.type === 'section')!.fields!.map((f) => f.text).join('\n');
    assert.match(fields, /ci\/acme\/api/);
    assert.match(fields, /orders:delete/);
    assert.match(fields, /OPS-7/);
    assert.match(fields, /Decide by/);
    const buttons = msg.blocks.find((x) => x.type === 'actions')!.elements!;
    assert.deepEqual(buttons.slice(0, 2).map((e) => [e.action_id, e.value]), [['tether_approve', grant], ['tether_deny', grant]]);
  });

  test('an event committed while the receiver is down is delivered after a broker restart', async () => {
    failing = true;
    const grant = await pending('OPS-8');
    await new Promise((r) => setTimeout(r, 300));
    await b.stop(); // the store stays (opts.db): only the process goes
    failing = false;
    b = await startBroker('pg', overrides(), { db });
    const hook = await waitFor((r) => r.path === '/hook' && notification(r).grant === grant, 5000);
    assert.ok(hook, 'the queued grant.pending arrived after the restart');
    assert.equal(hook.headers['x-tether-signature'], signNotification(String(hook.headers['x-tether-timestamp']), hook.body, SECRET));
  });

  test('a notification the receiver refuses for good (400) is skipped: the ones after it still arrive', async () => {
    refused.add('OPS-10');
    const poison = await pending('OPS-10');
    const next = await pending('OPS-11');
    const hook = await waitFor((r) => r.path === '/hook' && notification(r).grant === next, 5000);
    assert.ok(hook, 'the notification after a refused one arrived');
    assert.ok(!received.some((r) => r.body.includes(poison)));
  });

  const callback = async (o: { user: string; grant: string; action?: string; ts?: number; secret?: string; raw?: string; sig?: string }) => {
    const payload = { type: 'block_actions', user: { id: o.user }, actions: [{ action_id: o.action ?? 'tether_approve', value: o.grant }] };
    const raw = o.raw ?? new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const ts = String(o.ts ?? Math.floor(Date.now() / 1000));
    const sig = o.sig ?? slackSignature(o.secret ?? SLACK_SECRET, ts, raw);
    const res = await fetch(`${b.url}/integrations/slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': sig }, body: raw });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, raw, ts, sig };
  };

  test('Slack callbacks: forged, stale, replayed and unmapped are refused; a valid one approves as the mapped operator', async () => {
    const grant = await pending('OPS-9');
    assert.equal((await callback({ user: 'U0ALICE', grant, secret: 'not-the-signing-secret-000' })).status, 401, 'forged');
    assert.equal((await callback({ user: 'U0ALICE', grant, ts: Math.floor(Date.now() / 1000) - 600 })).status, 401, 'stale');
    const unsigned = await fetch(`${b.url}/integrations/slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload={}' });
    assert.equal(unsigned.status, 401);
    assert.equal((await callback({ user: 'U0NOBODY', grant })).status, 403, 'unmapped');
    assert.equal((await callback({ user: 'U0BOB', grant })).status, 403, 'an auditor cannot approve from Slack either');
    const ok = await callback({ user: 'U0ALICE', grant });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.match(String(ok.body.text), /active .*approved by alice/);
    // The same signed request again (a replay inside the window) is refused.
    const again = await fetch(`${b.url}/integrations/slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ok.ts, 'x-slack-signature': ok.sig }, body: ok.raw });
    assert.equal(again.status, 401);
    const approved = (await b.admin('GET', '/admin/v1/audit?type=grant.approved')).body.events.find((e: { data: { grant: string } }) => e.data.grant === grant);
    assert.equal(approved.actor, 'alice');
    const failures = (await b.admin('GET', '/admin/v1/audit?type=operator.auth_failed&limit=1000')).body.events.map((e: { data: { reason: string } }) => e.data.reason);
    for (const r of ['slack_bad_signature', 'slack_stale_timestamp', 'slack_unsigned', 'slack_unmapped', 'slack_replay']) assert.ok(failures.includes(r), r);
  });

  test('a flood of forged Slack callbacks is audited under the per-second cap, with a count of the rest', async () => {
    const before = (await b.admin('GET', '/admin/v1/audit?type=operator.auth_failed&limit=1000')).body.events.length as number;
    const t0 = Date.now();
    const statuses = await Promise.all(Array.from({ length: 300 }, () => callback({ user: 'U0ALICE', grant: 'g', secret: 'not-the-signing-secret-000' }).then((r) => r.status)));
    const seconds = Math.ceil((Date.now() - t0) / 1000) + 1;
    assert.ok(statuses.every((s) => s === 401 || s === 429), String([...new Set(statuses)]));
    // One more after the second turns over carries the count of those not audited one by one.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await callback({ user: 'U0ALICE', grant: 'g', secret: 'not-the-signing-secret-000' })).status, 401);
    const events = (await b.admin('GET', '/admin/v1/audit?type=operator.auth_failed&limit=1000')).body.events as Array<{ data: { unaudited_before?: number } }>;
    const added = events.length - before;
    // At most 100 a second are audited one by one (admin-access.ts), whatever the machine's speed.
    assert.ok(added <= 100 * seconds + 1, `audited ${added} of 301 refusals one by one in ${seconds} s`);
    const counted = events.reduce((n, e) => n + (e.data.unaudited_before ?? 0), 0);
    assert.equal(added + counted, 301, 'every refusal is either audited or counted');
  });

  test('revoking an operator releases its Slack id, so it can be mapped to another operator', async () => {
    assert.equal((await b.admin('POST', '/admin/v1/operators', { name: 'carol', role: 'approver', slack_user_id: 'U0CAROL' })).status, 201);
    assert.equal((await b.admin('POST', '/admin/v1/operators', { name: 'carol2', role: 'approver', slack_user_id: 'U0CAROL' })).status, 409, 'taken while carol is active');
    assert.equal((await b.admin('POST', '/admin/v1/operators/carol/revoke', { reason: 'left the team' })).status, 200);
    assert.equal((await b.admin('POST', '/admin/v1/operators', { name: 'carol2', role: 'approver', slack_user_id: 'U0CAROL' })).status, 201);
    const grant = await pending('OPS-10');
    const ok = await callback({ user: 'U0CAROL', grant });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.match(String(ok.body.text), /approved by carol2/);
  });
});
