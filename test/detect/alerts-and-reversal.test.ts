/**
 * Alerts and reversal in a running broker (PGlite): an escalation chain (read a secret → change a
 * role → call an external host) suspends the identity; the finding reaches a real webhook receiver,
 * signed with HMAC-SHA256, and the log gets one warn line without any token; an operator's resolve
 * with `reverse: true` reactivates the identity, which can then obtain tokens again.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { signWebhookBody, WEBHOOK_SIGNATURE_HEADER } from '../../src/detect/index.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES } from '../helpers/workload-issuer.js';
import { createDpopKey, eventually, optInConfig } from './fixture.js';

const SECRET = 'webhook-secret-for-tests-0123456789';
const GATEWAY = 'http://ops.detect.test';
const AUD = 'https://ops.example.test';
const ID = 'ci/acme/api';

describe('webhook alerts, log lines and reversible responses', () => {
  let b: RunningBroker;
  let receiver: Server;
  const received: Array<{ body: string; signature: string | undefined }> = [];
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += String(c)));
      req.on('end', () => {
        received.push({ body, signature: req.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    // ci_job opted in to identity-wide responses (suspension); off by default.
    b = await startBroker('pglite', { webhookUrl: `http://127.0.0.1:${port}/hooks/tether`, webhookSecret: SECRET, detectionConfig: optInConfig(['ci_job']) });
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', {
      identities: EXCHANGE_IDENTITIES,
      issuers: [gha.config()],
      policies: { 'ops.cedar': `permit (principal == Identity::"${ID}", action in [Action::"secrets:read", Action::"iam:write", Action::"egress:post"], resource);` },
      routes: [
        {
          name: 'ops',
          gateway: 'envoy',
          audience: AUD,
          public_url: GATEWAY,
          rules: [
            { method: 'GET', path: '/secrets/:name', action: 'secrets:read', resource: { type: 'Secret', id: ':name' } },
            { method: 'PUT', path: '/iam/roles/:name', action: 'iam:write', resource: { type: 'Role', id: ':name' } },
            { method: 'POST', path: '/egress/:host', action: 'egress:post', resource: { type: 'Host', id: ':host' } },
          ],
        },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await b?.stop();
    await new Promise((r) => receiver?.close(r));
  });

  const exchange = async (key: Awaited<ReturnType<typeof createDpopKey>>) => {
    const res = await fetch(`${b.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${b.url}/oauth/token`) },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await gha.token(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'secrets:read iam:write egress:post',
        audience: AUD,
      }).toString(),
    });
    return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string } };
  };
  const call = async (token: string, key: Awaited<ReturnType<typeof createDpopKey>>, method: string, path: string) => {
    const res = await fetch(`${b.url}/ext-authz/ops${path}`, { method, headers: { authorization: `DPoP ${token}`, dpop: await key.proof(method, GATEWAY + path, { accessToken: token }) } });
    await res.arrayBuffer();
    return res.status;
  };

  let token: string;
  let findingId: string;

  test('holding the scopes is not the chain; performing it suspends the identity', async () => {
    const key = await createDpopKey();
    const x = await exchange(key);
    assert.equal(x.status, 200, JSON.stringify(x.body));
    token = x.body.access_token!;
    await b.broker.detection.idle();
    assert.equal((await b.admin('GET', '/admin/v1/findings')).body.findings.length, 0, 'issuance of the three scopes raises nothing');
    assert.equal(await call(token, key, 'GET', '/secrets/db-password'), 200);
    assert.equal(await call(token, key, 'PUT', '/iam/roles/admin'), 200);
    assert.equal(await call(token, key, 'POST', '/egress/paste.example.net'), 200);
    const f = await eventually(async () => (await b.admin('GET', '/admin/v1/findings?rule=escalation')).body.findings[0] as { id: string; response: string; severity: string } | undefined);
    findingId = f.id;
    assert.equal(f.severity, 'critical');
    assert.equal(f.response, 'suspend');
    const who = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.equal(who.body.status, 'suspended');
    assert.equal(await call(token, key, 'GET', '/secrets/db-password'), 401, 'its tokens are revoked');
    assert.equal((await exchange(await createDpopKey())).status, 400, 'a suspended identity gets no token');
  });

  test('the webhook receives the finding, signed; the log has one warn line and no token', async () => {
    const got = await eventually(async () => received.find((r) => r.body.includes(findingId)));
    const expected = Buffer.from(signWebhookBody(got.body, SECRET));
    assert.ok(got.signature && timingSafeEqual(Buffer.from(got.signature), expected), 'HMAC over the raw body');
    const payload = JSON.parse(got.body) as { type: string; finding: { id: string; rule: string; identity: string; response: string } };
    assert.equal(payload.type, 'tether.finding');
    assert.deepEqual([payload.finding.rule, payload.finding.identity, payload.finding.response], ['escalation', ID, 'suspend']);
    assert.ok(!got.body.includes(token), 'no token in the alert');
    const lines = b.logs.filter((l) => l.includes('"detection finding"'));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /"level":40/);
    assert.ok(!b.logs.join('').includes(token), 'no token in the logs');
  });

  test('resolve with reverse: true reactivates the identity; it can obtain tokens again', async () => {
    const r = await b.admin('POST', `/admin/v1/findings/${findingId}/resolve`, { reason: 'pentest, agreed in advance', reverse: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.resolution.reversed, true);
    assert.equal(r.body.resolution.reversal.identity, 'active');
    const who = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(ID)}`);
    assert.equal(who.body.status, 'active');
    assert.ok(who.body.risk < 80);
    // An identity revocation kills tokens with iat <= its time, and iat has whole seconds: a token
    // minted in the same second as the suspension would still be refused (fail safe). Next second.
    await new Promise((r) => setTimeout(r, 1000));
    const key = await createDpopKey();
    const x = await exchange(key);
    assert.equal(x.status, 200, JSON.stringify(x.body));
    assert.equal(await call(x.body.access_token!, key, 'GET', '/secrets/db-password'), 200);
    assert.equal((await b.admin('POST', `/admin/v1/findings/${findingId}/reverse`, { reason: 'twice' })).status, 409);
    const audit = await b.admin('GET', `/admin/v1/audit?identity=${encodeURIComponent(ID)}&limit=1000`);
    const types = (audit.body.events as Array<{ type: string }>).map((e) => e.type);
    for (const t of ['finding.raised', 'identity.suspended', 'finding.responded', 'finding.resolved', 'identity.reactivated']) assert.ok(types.includes(t), t);
  });
});
