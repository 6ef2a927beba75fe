/**
 * The MCP gateway's trust boundary against a raw upstream that records exactly what reaches it:
 * a use sent as a notification is refused (a notification is never decided); members the gateway does
 * not decide on (`Method`, params it does not know) are refused; the upstream receives the message as
 * decided; a session id belongs to the identity that opened it; and a token whose grant a human
 * approved at issuance does not stand in for a tool's per-call `@approval`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createWorkloadIssuer } from '../helpers/workload-issuer.js';

describe('MCP gateway hardening (raw upstream)', () => {
  let b: RunningBroker;
  let upstream: Server;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let aud: string;
  const seen: string[] = [];
  const tokens: Record<string, string> = {};

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += String(c)));
      req.on('end', () => {
        seen.push(`${req.method} ${req.headers['mcp-session-id'] ?? '-'} ${body}`);
        const msg = body ? (JSON.parse(body) as { id?: unknown; method?: string }) : {};
        if (msg.method === 'initialize') res.setHeader('mcp-session-id', 'session-of-api');
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, result: msg.method === 'tools/call' ? { content: [{ type: 'text', text: 'ran' }] } : {} }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    aud = `${b.url}/mcp/raw`;
    const identities = ['api', 'other'].map((n) => ({ id: `ci/acme/${n}`, kind: 'ai_agent', owner: 'team-agents', purpose: 'agent' }));
    const policies = {
      'mcp.cedar': `
@id("tokens") @bearer("allowed")
permit (principal, action == Action::"tools/call", resource == Audience::"${aud}")
when { context.phase == "issue" && context.task.ticket != "APPROVED" };

@id("tokens-approved") @bearer("allowed") @approval("required")
permit (principal == Identity::"ci/acme/api", action == Action::"tools/call", resource == Audience::"${aud}")
when { context.phase == "issue" && context.task.ticket == "APPROVED" };

@id("read") permit (principal, action == Action::"tools/call", resource == Tool::"raw/read") when { context.phase == "request" };

@id("delete-per-call") @approval("required")
permit (principal, action == Action::"tools/call", resource == Tool::"raw/delete") when { context.phase == "request" };
`,
    };
    const r = await b.admin('POST', '/admin/v1/apply', { identities, issuers: [gha.config()], mcp_servers: [{ name: 'raw', upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp` }], policies });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const n of ['api', 'other']) tokens[n] = await bearer(n);
  });
  after(async () => {
    await b?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  const exchange = async (repo: string, details?: unknown) => {
    const form: Record<string, string> = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await gha.token({ repository: `acme/${repo}` }), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', scope: 'tools/call', audience: aud };
    if (details) form.authorization_details = JSON.stringify(details);
    const res = await fetch(`${b.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    return { status: res.status, body: (await res.json()) as { access_token?: string; grant_id?: string; error?: string } };
  };
  const bearer = async (repo: string) => {
    const r = await exchange(repo);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.access_token!;
  };
  const post = async (who: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(aud, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, body: (await res.json().catch(() => null)) as { error?: { code: number; data?: { approval_id?: string } }; result?: unknown } | null, sid: res.headers.get('mcp-session-id') };
  };

  test('a use sent as a notification, alone or in a batch, is refused and never reaches the upstream', async () => {
    const before = seen.length;
    assert.equal((await post('api', { jsonrpc: '2.0', method: 'tools/call', params: { name: 'delete' } })).status, 400);
    assert.equal((await post('api', [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', method: 'tools/call', params: { name: 'delete' } }])).status, 400);
    assert.equal((await post('api', { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 200, 'real notifications pass');
    assert.equal(seen.length, before + 1);
  });

  test('members the gateway does not decide on are refused; the upstream gets the message as decided', async () => {
    const before = seen.length;
    assert.equal((await post('api', { jsonrpc: '2.0', id: 1, method: 'ping', Method: 'tools/call', Params: { name: 'delete' } })).status, 400);
    assert.equal((await post('api', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read', Name: 'delete', arguments: {} } })).status, 400);
    assert.equal(seen.length, before);
    // Duplicate keys: decided on one reading, and the upstream gets that reading, not the raw bytes.
    const r = await post('api', '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete","name":"read","arguments":{}}}');
    assert.equal(r.status, 200);
    assert.match(seen.at(-1)!, /"name":"read"/);
    assert.doesNotMatch(seen.at(-1)!, /delete/);
  });

  test('a session id belongs to the identity that opened it', async () => {
    const init = await post('api', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'a', version: '1' } } });
    assert.equal(init.sid, 'session-of-api');
    assert.equal((await post('api', { jsonrpc: '2.0', id: 2, method: 'ping' }, { 'mcp-session-id': 'session-of-api' })).status, 200);
    assert.equal((await post('other', { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'mcp-session-id': 'session-of-api' })).status, 404);
    const del = await fetch(aud, { method: 'DELETE', headers: { authorization: `Bearer ${tokens['other']}`, 'mcp-session-id': 'session-of-api' } });
    assert.equal(del.status, 404);
    assert.ok(!seen.some((s) => s.startsWith('DELETE')), 'the other identity never reached the upstream with it');
  });

  test('a token whose grant a human approved does not stand in for a tool\'s per-call approval', async () => {
    const pending = await exchange('api', [{ type: 'tether_task', ticket: 'APPROVED', purpose: 'cleanup' }]);
    assert.equal(pending.body.error, 'authorization_pending', JSON.stringify(pending.body));
    assert.equal((await b.admin('POST', `/admin/v1/grants/${pending.body.grant_id}/approve`, { reason: 'ok' })).status, 200);
    const approved = await exchange('api', [{ type: 'tether_task', ticket: 'APPROVED', purpose: 'cleanup' }]);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    tokens['approved'] = approved.body.access_token!;
    const before = seen.length;
    const r = await post('approved', { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'delete', arguments: { path: '/' } } });
    assert.equal(r.body?.error?.code, -32004, JSON.stringify(r.body));
    assert.equal(seen.length, before, 'the call waits for its own approval');
    assert.equal((await post('approved', { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'read', arguments: {} } })).body?.result !== undefined, true);
  });
});
