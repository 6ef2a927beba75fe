/**
 * Names from a request are looked up in configuration records: a name that is a property every
 * object inherits (`constructor`, `toString`, `__proto__`) must be unknown, not found on
 * Object.prototype. Through real clients: the legacy bridge (a role name in the path) must not
 * hand out an account for a role nobody configured, and the MCP gateway (a JSON-RPC method name)
 * must answer such a method like any other, never with a 500.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { REDIS_URL } from '../helpers/legacy-targets.js';
import { createWorkloadIssuer } from '../helpers/workload-issuer.js';

const IDENTITY = { id: 'ci/acme/api', kind: 'ci_job', owner: 'team-orders' };

describe('names that objects inherit are not configuration', () => {
  let b: RunningBroker;
  let upstream: Server;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let mcpAud: string;
  const reachedUpstream: string[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += String(c)));
      req.on('end', () => {
        reachedUpstream.push(body);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    mcpAud = `${b.url}/mcp/tools`;
    const policies = {
      // The legacy bridge's own tests allow every role of a connector this way: the route must
      // only ever reach roles that exist.
      'bridge.cedar': `
@id("tasks-get-credentials")
permit (principal, action == Action::"credentials:issue", resource);

@id("mcp-tokens") @bearer("allowed")
permit (principal, action, resource == Audience::"${mcpAud}") when { context.phase == "issue" };

@id("mcp-anything-on-the-server")
permit (principal, action, resource == McpServer::"tools") when { context.phase == "request" };
`,
    };
    const r = await b.admin('POST', '/admin/v1/apply', {
      identities: [IDENTITY],
      issuers: [gha.config()],
      policies,
      connectors: [{ name: 'cache', kind: 'redis', url: REDIS_URL, roles: { reader: { acl: ['~orders:*', '+get'] } } }],
      mcp_servers: [{ name: 'tools', upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp` }],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await b?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  test('the legacy bridge refuses a role named like an inherited property (404, no lease, no account)', async () => {
    const key = await createDpopKey();
    const ex = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token(), scope: 'credentials:issue', audience: 'tether:connector:cache' });
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    const token = ex.body.access_token!;
    for (const role of ['constructor', 'hasownproperty', 'reader-not-configured']) {
      const url = `${b.url}/credentials/v1/cache/${role}`;
      const res = await fetch(url, { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: await key.proof('POST', url, { accessToken: token }) } });
      const body = (await res.json()) as { error?: string; password?: string };
      assert.equal(res.status, 404, `${role}: ${JSON.stringify(body)}`);
      assert.equal(body.error, 'not_found');
      assert.equal(body.password, undefined);
    }
    const leases = await b.admin('GET', '/admin/v1/leases');
    assert.equal(leases.status, 200, JSON.stringify(leases.body));
    assert.deepEqual(JSON.stringify(leases.body).match(/constructor/g), null, JSON.stringify(leases.body));
  });

  test('an MCP request whose method is an inherited property name is decided like any method, never a 500', async () => {
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await gha.token(), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', scope: 'constructor toString', audience: mcpAud });
    const ex = await fetch(`${b.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    const t = (await ex.json()) as { access_token?: string };
    assert.equal(ex.status, 200, JSON.stringify(t));
    for (const method of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const res = await fetch(mcpAud, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { name: 'x' } }),
      });
      const text = await res.text();
      assert.ok(res.status < 500, `${method}: ${res.status} ${text}`);
      assert.doesNotMatch(text, /internal error/, method);
    }
    // Within the token's scopes and permitted on the server, the method is relayed; outside, refused by the kernel.
    const decisions = (await b.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events as Array<{ data: { action?: { id?: string }; decision?: string } }>;
    assert.ok(decisions.some((e) => JSON.stringify(e.data).includes('"constructor"')), 'the constructor method reached the kernel');
  });
});
