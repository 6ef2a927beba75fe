/**
 * The web console (README "Console") in Debian's Chromium through playwright-core, against a real
 * broker on PostgreSQL behind the shipped nginx config: an approver logs in and sees a workload's
 * approval request appear without a reload, approves it, and the workload's waiting exchange then
 * succeeds; an auditor sees no approve button and gets 403 from the API directly; a state change
 * without the CSRF token (or from another origin) is refused; an admin revokes an identity from its
 * page and nginx refuses its token. Every screen is screenshotted to dist/test-output/console.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { withChromiumPage } from '../helpers/chromium.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { freePort, startNginx } from '../helpers/nginx.js';
import { REPO_ROOT } from '../helpers/repo.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const PDP_TOKEN = 'pdp-token-console-0123456789abcdef';
const SHOTS = join(REPO_ROOT, 'dist', 'test-output', 'console');

describe('console: login, approvals without reload, roles, CSRF, revoke from an identity page (Chromium, nginx, PostgreSQL)', () => {
  let b: RunningBroker;
  let upstream: Server;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let gw: string;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  const tokens: Record<string, string> = {};
  const upstreamSaw: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    upstream = createServer((req, res) => {
      upstreamSaw.push(`${req.method} ${req.url}`);
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = await freePort();
    gw = `http://127.0.0.1:${port}`;
    b = await startBroker('pg', { pdpToken: PDP_TOKEN });
    gha = await createWorkloadIssuer();
    const overdue = { id: 'svc/legacy-report', kind: 'service_account', owner: 'team-data', purpose: 'monthly report', review_by: '2025-01-31' };
    const applied = await b.admin('POST', '/admin/v1/apply', { identities: [...EXCHANGE_IDENTITIES, overdue], issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(gw, 'nginx')] });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    nginx = await startNginx({ port, upstream: `127.0.0.1:${(upstream.address() as { port: number }).port}`, tether: new URL(b.url).host, route: 'orders', pdpToken: PDP_TOKEN });
    for (const [name, role] of [['alice', 'approver'], ['audrey', 'auditor']]) {
      const r = await b.admin('POST', '/admin/v1/operators', { name, role });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      tokens[name!] = r.body.token;
    }
  });
  after(async () => {
    await nginx?.stop();
    await new Promise((r) => upstream?.close(r));
    await b?.stop();
  });

  const shot = async (page: Page, name: string) => {
    const path = join(SHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    assert.ok(statSync(path).size > 5_000, `${name}.png is too small to show a screen`);
  };
  const login = async (page: Page, token: string, who: string) => {
    await page.goto(`${b.url}/console`);
    await page.getByLabel('Operator token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#who', { hasText: who }).waitFor({ timeout: 10_000 });
  };
  const requestDelete = async (key: Awaited<ReturnType<typeof createDpopKey>>, ticket: string) =>
    exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token(), scope: 'orders:delete', audience: ORDERS_AUD, authorizationDetails: [{ type: 'tether_task', ticket, purpose: 'remove test orders' }] });
  const throughNginx = async (method: string, path: string, token: string, key: Awaited<ReturnType<typeof createDpopKey>>) =>
    (await fetch(`${gw}${path}`, { method, headers: { authorization: `DPoP ${token}`, dpop: await key.proof(method, `${gw}${path}`, { accessToken: token }) } })).status;

  test('the console is static, under a strict CSP, with no inline script; no path reaches the disk', async () => {
    const res = await fetch(`${b.url}/console`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\sstyle=|\son[a-z]+=/i, 'no inline style or handler');
    for (const bad of ['/console/assets/..%2F..%2Fpackage.json', '/console/assets/%2e%2e%2fsrc', '/console/assets/nope.js']) {
      const r = await fetch(`${b.url}${bad}`);
      assert.equal(r.status, 404, bad);
      assert.doesNotMatch(await r.text(), /"name":\s*"tether"/);
    }
  });

  test('an approver sees a request appear without reloading, approves it, and the waiting exchange succeeds', async () => {
    const key = await createDpopKey();
    await withChromiumPage(async (page) => {
      await page.goto(`${b.url}/console`);
      await page.getByLabel('Operator token').waitFor();
      await shot(page, '0-login');
      await login(page, tokens['alice']!, 'alice (approver)');
      await page.goto(`${b.url}/console#/approvals`);
      await page.getByRole('heading', { name: 'Waiting for approval' }).waitFor();
      let navigations = 0;
      page.on('framenavigated', () => navigations++);

      const asked = await requestDelete(key, 'OPS-1');
      assert.equal(asked.body.error, 'authorization_pending', JSON.stringify(asked.body));
      const grant = asked.body.grant_id!;
      const t0 = Date.now();
      const card = page.locator(`[data-grant="${grant}"]`);
      await card.waitFor({ timeout: 10_000 });
      const appearedMs = Date.now() - t0;
      assert.equal(navigations, 0, 'no reload');
      assert.match(await card.innerText(), /ci\/acme\/api[\s\S]*orders:delete[\s\S]*remove test orders[\s\S]*OPS-1[\s\S]*ci-deletes-with-approval/);
      await shot(page, '2-approvals');
      await card.getByLabel('Reason to approve').fill('ticket OPS-1 checked');
      await card.getByRole('button', { name: 'Approve' }).click();
      await card.waitFor({ state: 'detached', timeout: 10_000 });

      const again = await requestDelete(key, 'OPS-1');
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(await throughNginx('DELETE', '/orders/1', again.body.access_token!, key), 200);
      const approved = (await b.admin('GET', '/admin/v1/audit?type=grant.approved')).body.events.find((e: { data: { grant: string } }) => e.data.grant === grant);
      assert.equal(approved.actor, 'alice', 'audited under the operator who clicked');
      assert.equal(approved.data.reason, 'ticket OPS-1 checked');
      process.stdout.write(`# the pending request appeared in the console ${appearedMs} ms after the exchange asked\n`);
    });
  });

  test('an auditor sees no approve button, and the API refuses it directly (403)', async () => {
    const asked = await requestDelete(await createDpopKey(), 'OPS-2');
    const grant = asked.body.grant_id!;
    await withChromiumPage(async (page) => {
      await login(page, tokens['audrey']!, 'audrey (auditor)');
      await page.goto(`${b.url}/console#/approvals`);
      const card = page.locator(`[data-grant="${grant}"]`);
      await card.waitFor({ timeout: 10_000 });
      assert.equal(await card.getByRole('button', { name: 'Approve' }).count(), 0);
      assert.match(await card.innerText(), /Your role reads only/);
      const direct = await page.evaluate(async (id) => {
        const s = (await (await fetch('/console/api/session')).json()) as { csrf_token: string };
        const r = await fetch(`/admin/v1/grants/${id}/approve`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tether-csrf': s.csrf_token }, body: JSON.stringify({ reason: 'auditor tries' }) });
        return r.status;
      }, grant);
      assert.equal(direct, 403);
      assert.equal((await b.admin('GET', `/admin/v1/grants/${grant}`)).body.state, 'pending');
      const forbidden = (await b.admin('GET', '/admin/v1/audit?type=operator.forbidden')).body.events.filter((e: { actor: string }) => e.actor === 'audrey');
      assert.ok(forbidden.length >= 1, 'the refusal is audited under the auditor');
    });
  });

  test('a state change without the CSRF token, or from another origin, is refused; logout ends the session', async () => {
    const asked = await requestDelete(await createDpopKey(), 'OPS-3');
    const grant = asked.body.grant_id!;
    await withChromiumPage(async (page, context) => {
      await login(page, tokens['alice']!, 'alice (approver)');
      const noCsrf = await page.evaluate(async (id) => (await fetch(`/admin/v1/grants/${id}/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'no csrf' }) })).status, grant);
      assert.equal(noCsrf, 403);
      const wrong = await page.evaluate(async (id) => (await fetch(`/admin/v1/grants/${id}/approve`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tether-csrf': 'guess' }, body: JSON.stringify({ reason: 'bad csrf' }) })).status, grant);
      assert.equal(wrong, 403);
      // The cookie and the right token, from another origin (what a cross-site form or script would send).
      const cookie = (await context.cookies(b.url)).find((c) => c.name === 'tether_session')!;
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      const csrf = (await page.evaluate(async () => ((await (await fetch('/console/api/session')).json()) as { csrf_token: string }).csrf_token));
      const cross = await fetch(`${b.url}/admin/v1/grants/${grant}/approve`, { method: 'POST', headers: { cookie: `tether_session=${cookie.value}`, origin: 'https://evil.example', 'x-tether-csrf': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'cross' }) });
      assert.equal(cross.status, 403);
      assert.equal((await b.admin('GET', `/admin/v1/grants/${grant}`)).body.state, 'pending', 'nothing was approved');
      const reasons = (await b.admin('GET', '/admin/v1/audit?type=operator.forbidden')).body.events.map((e: { data: { reason?: string } }) => e.data.reason);
      assert.ok(reasons.includes('csrf_missing_or_wrong') && reasons.includes('cross_origin'), String(reasons));

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByLabel('Operator token').waitFor();
      const after = await fetch(`${b.url}/admin/v1/identities`, { headers: { cookie: `tether_session=${cookie.value}` } });
      assert.equal(after.status, 401, 'the cookie is dead after logout');
    });
  });

  test('an admin revokes an identity from its page; nginx then refuses its token', async () => {
    const key = await createDpopKey();
    const t = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const token = t.body.access_token!;
    assert.equal(await throughNginx('GET', '/orders/7', token, key), 200);
    // A token presented with another key: a finding with evidence to render for people.
    const leaked = await exchangeForToken({ endpointBase: b.url, key: await createDpopKey(), subjectToken: await gha.token(), scope: 'orders:list', audience: ORDERS_AUD });
    assert.equal(await throughNginx('GET', '/orders', leaked.body.access_token!, await createDpopKey()), 401);
    await withChromiumPage(async (page) => {
      await login(page, ADMIN_TOKEN, 'admin (admin)');
      await page.goto(`${b.url}/console#/inventory`);
      await page.getByRole('link', { name: 'ci/acme/api' }).first().waitFor();
      await shot(page, '1-inventory');
      await page.getByRole('link', { name: 'ci/acme/api' }).first().click();
      await page.getByRole('heading', { name: 'Recent decisions' }).waitFor();
      await shot(page, '1b-identity');
      for (const [hash, name, ready] of [
        ['grants', '3-grants', 'Grants and tokens'],
        ['leases', '3b-leases', 'Legacy bridge leases'],
        ['findings', '4-findings', 'Findings and reviews'],
        ['audit', '5-audit', 'Audit'],
        ['policies', '6-policies', 'Try a candidate'],
        ['posture', '7-posture', 'Posture'],
      ] as const) {
        await page.goto(`${b.url}/console#/${hash}`);
        await page.getByRole('heading', { name: ready, exact: true }).waitFor();
        if (hash === 'audit') await page.locator('#chain-state', { hasText: 'verified' }).waitFor();
        if (hash === 'posture') await page.waitForTimeout(1500);
        if (hash === 'findings') {
          const finding = page.locator('[data-finding]').first();
          await finding.waitFor({ timeout: 10_000 });
          const text = await finding.innerText();
          assert.match(text, /replay|someone other than its holder/i);
          assert.doesNotMatch(text, /[{}]"/, 'evidence is rendered for people, not as raw JSON');
          await page.locator('[data-review]').first().waitFor({ timeout: 10_000 });
        }
        if (hash === 'policies') {
          // A candidate without the request-time read permit: the dry-run lists the reads it would now deny.
          await page.getByLabel('File').selectOption('orders-request.cedar');
          await page.getByLabel('Candidate policy text').fill('@id("secret-order-is-off-limits")\nforbid (principal, action, resource == Order::"secret");\n');
          await page.getByRole('button', { name: 'Dry-run' }).click();
          const changed = page.locator('#dry-run-result table[aria-label="Changed decisions"]');
          await changed.waitFor({ timeout: 10_000 });
          assert.match(await changed.innerText(), /request[\s\S]*orders:read[\s\S]*allow\s+deny/);
        }
        await shot(page, name);
      }
      await page.goto(`${b.url}/console#/identity/${encodeURIComponent('ci/acme/api')}`);
      const form = page.locator('form[data-action="revoke-identity"]');
      await form.getByLabel('Reason to revoke all credentials').fill('suspected key leak');
      const t0 = Date.now();
      await form.getByRole('button', { name: 'Revoke all credentials' }).click();
      await page.locator('h1 .badge', { hasText: 'suspended' }).waitFor({ timeout: 10_000 });
      const status = await throughNginx('GET', '/orders/7', token, key);
      assert.equal(status, 401, 'the gateway refuses the revoked identity\'s token');
      process.stdout.write(`# revoked from the identity page; nginx refused the token ${Date.now() - t0} ms after the click\n`);
      const revoked = (await b.admin('GET', '/admin/v1/audit?type=revocation.created')).body.events.at(-1);
      assert.equal(revoked.actor, 'admin');
      assert.equal(revoked.data.reason, 'suspected key leak');
    });
  });

  test('the screenshots of every screen were written', () => {
    for (const n of ['0-login', '1-inventory', '1b-identity', '2-approvals', '3-grants', '3b-leases', '4-findings', '5-audit', '6-policies', '7-posture']) {
      const p = join(SHOTS, `${n}.png`);
      assert.ok(readFileSync(p).length > 5_000, p);
    }
    process.stdout.write(`# console screenshots: ${SHOTS}\n`);
  });
});

describe('console sessions: expiry and operator revocation end them', () => {
  let b: RunningBroker;
  before(async () => {
    b = await startBroker('pglite', { consoleSessionTtl: 2 });
  });
  after(async () => {
    await b?.stop();
  });

  const loginCookie = async (token: string) => {
    const r = await fetch(`${b.url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    assert.equal(r.status, 200);
    const set = r.headers.get('set-cookie') ?? '';
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    return /tether_session=([^;]+)/.exec(set)![1]!;
  };

  test('a session stops working at its expiry', async () => {
    const cookie = await loginCookie(ADMIN_TOKEN);
    assert.equal((await fetch(`${b.url}/admin/v1/identities`, { headers: { cookie: `tether_session=${cookie}` } })).status, 200);
    await new Promise((r) => setTimeout(r, 2200));
    assert.equal((await fetch(`${b.url}/admin/v1/identities`, { headers: { cookie: `tether_session=${cookie}` } })).status, 401);
  });

  test('revoking the operator ends its sessions at once; a wrong token logs nobody in (audited, no secret)', async () => {
    const op = await b.admin('POST', '/admin/v1/operators', { name: 'bob', role: 'approver' });
    const cookie = await loginCookie(op.body.token);
    assert.equal((await fetch(`${b.url}/admin/v1/identities`, { headers: { cookie: `tether_session=${cookie}` } })).status, 200);
    assert.equal((await b.admin('POST', '/admin/v1/operators/bob/revoke', { reason: 'left' })).status, 200);
    assert.equal((await fetch(`${b.url}/admin/v1/identities`, { headers: { cookie: `tether_session=${cookie}` } })).status, 401);
    const wrong = await fetch(`${b.url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'tether_op_guess' }) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
    const events = (await b.admin('GET', '/admin/v1/audit?type=operator.auth_failed')).body.events;
    assert.ok(events.length >= 1);
    assert.doesNotMatch(JSON.stringify(events), /tether_op_guess/);
    const started = (await b.admin('GET', '/admin/v1/audit?type=operator.session_started')).body.events;
    assert.ok(started.some((e: { actor: string }) => e.actor === 'bob'));
    assert.doesNotMatch(JSON.stringify(started), new RegExp(cookie));
  });
});
