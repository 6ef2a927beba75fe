/**
 * The MCP gateway (README "MCP gateway") with the official MCP TypeScript SDK on both sides,
 * unmodified: an SDK client connects through Tether's `/mcp/files` to an SDK server over Streamable
 * HTTP, sees only the tools policy lets it use, calls a permitted one, is refused a forbidden tool and
 * an argument the policy forbids (a path outside /public), gets the approval error for a destructive
 * tool and succeeds once after an operator approves. Raw HTTP checks the RFC 9728 metadata, the 401
 * challenge, header/body disagreement, and that the audit keeps a digest of the arguments only.
 */
import assert from 'node:assert/strict';

import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { mcpPolicies, startFilesServer } from '../helpers/mcp-files.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES } from '../helpers/workload-issuer.js';

describe('MCP gateway: official SDK client → Tether /mcp/files → official SDK server', () => {
  let b: RunningBroker;
  let files: Awaited<ReturnType<typeof startFilesServer>>;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let aud: string;
  let token: string;

  before(async () => {
    files = await startFilesServer();
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    aud = `${b.url}/mcp/files`;
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], mcp_servers: [{ name: 'files', upstream: files.url }], policies: mcpPolicies(aud) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // A bearer token, as policy allows here (the SDK client sends it as Authorization: Bearer).
    const ex = await fetch(`${b.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await gha.token(), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', scope: 'tools/call', audience: aud }).toString(),
    });
    const body = (await ex.json()) as { access_token?: string; token_type?: string };
    assert.equal(ex.status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    token = body.access_token!;
  });
  after(async () => {
    await b?.stop();
    await files?.close();
  });

  const connect = async (bearer = token) => {
    const client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(aud), { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }));
    return client;
  };
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof McpError, String(e));
      return e;
    }
    assert.fail('the call was not refused');
  };

  test('lists only the tools policy lets the agent use; a permitted call runs; a forbidden tool and a forbidden argument are refused', async () => {
    const client = await connect();
    try {
      const listed = (await client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(listed, ['delete_file', 'read_file'], 'write_file and admin_reset are not listed');
      const ok = await client.callTool({ name: 'read_file', arguments: { path: '/public/readme.txt' } });
      assert.deepEqual(ok.content, [{ type: 'text', text: 'contents of /public/readme.txt' }]);
      const before = files.calls.length;
      const forbiddenTool = await refusal(client.callTool({ name: 'admin_reset', arguments: {} }));
      assert.equal(forbiddenTool.code, -32003);
      const forbiddenArg = await refusal(client.callTool({ name: 'read_file', arguments: { path: '/etc/passwd' } }));
      assert.equal(forbiddenArg.code, -32003);
      assert.equal(files.calls.length, before, 'refused calls never reach the upstream');
    } finally {
      await client.close();
    }
  });

  test('a destructive tool asks for approval; after an operator approves, the identical call runs once', async () => {
    const client = await connect();
    try {
      const args = { path: '/public/old.txt' };
      const pending = await refusal(client.callTool({ name: 'delete_file', arguments: args }));
      assert.equal(pending.code, -32004);
      const data = pending.data as { approval_id: string; console_url: string };
      assert.match(data.console_url, /\/console#\/approvals$/);
      assert.ok(!files.calls.includes('delete_file /public/old.txt'));
      // Other arguments are another approval.
      const other = await refusal(client.callTool({ name: 'delete_file', arguments: { path: '/public/other.txt' } }));
      assert.notEqual((other.data as { approval_id: string }).approval_id, data.approval_id);
      const approved = await b.admin('POST', `/admin/v1/grants/${data.approval_id}/approve`, { reason: 'cleanup ticket OPS-7' });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      const done = await client.callTool({ name: 'delete_file', arguments: args });
      assert.deepEqual(done.content, [{ type: 'text', text: 'deleted /public/old.txt' }]);
      const again = await refusal(client.callTool({ name: 'delete_file', arguments: args }));
      assert.equal(again.code, -32004, 'an approval is used once');
      assert.notEqual((again.data as { approval_id: string }).approval_id, data.approval_id);
      const consumed = (await b.admin('GET', '/admin/v1/audit?type=mcp.approval_consumed')).body.events;
      assert.equal(consumed.length, 1);
      assert.equal(consumed[0].data.grant, data.approval_id);
    } finally {
      await client.close();
    }
  });

  test('every call is one audited decision with the tool, the digest of its arguments (never the arguments) and the identity', async () => {
    const events = (await b.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events.filter((e: { data: { entry: string } }) => e.data.entry === 'mcp');
    const calls = events.filter((e: { data: { action: string } }) => e.data.action === 'tools/call');
    assert.ok(calls.length >= 5, String(calls.length));
    for (const e of calls) {
      assert.equal(e.identity, 'ci/acme/api');
      assert.match(e.data.resource.id, /^files\//);
      assert.deepEqual(e.data.resource.parents, [{ type: 'McpServer', id: 'files' }]);
      assert.match(e.data.context.arguments_sha256, /^[0-9a-f]{64}$/);
      assert.equal(e.data.context.arguments, undefined);
    }
    assert.doesNotMatch(JSON.stringify(events), /\/etc\/passwd/, 'arguments never reach the audit log');
    const denied = calls.find((e: { data: { resource: { id: string }; decision: string } }) => e.data.resource.id === 'files/admin_reset');
    assert.equal(denied.data.decision, 'deny');
  });

  test('no token: 401 pointing at the RFC 9728 metadata, which names Tether; a wrong audience is 401; headers must agree with the body', async () => {
    const meta = await fetch(`${b.url}/.well-known/oauth-protected-resource/mcp/files`);
    assert.equal(meta.status, 200);
    const m = (await meta.json()) as { resource: string; authorization_servers: string[] };
    assert.equal(m.resource, aud);
    assert.deepEqual(m.authorization_servers, [b.url]);
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
    const post = (headers: Record<string, string>, body: unknown) => fetch(aud, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
    const anon = await post({}, init);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer resource_metadata="${b.url}/.well-known/oauth-protected-resource/mcp/files"`));
    assert.equal((await fetch(`${b.url}/mcp/nope`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(init) })).status, 404);
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read_file', arguments: { path: '/public/x' } } };
    const lying = await post({ authorization: `Bearer ${token}`, 'mcp-method': 'tools/list' }, call);
    assert.equal(lying.status, 400);
    const lyingName = await post({ authorization: `Bearer ${token}`, 'mcp-name': 'read_file_public' }, call);
    assert.equal(lyingName.status, 400);
    const batch = await post({ authorization: `Bearer ${token}` }, [call, { ...call, id: 3 }]);
    assert.equal(batch.status, 400);
    const garbage = await fetch(aud, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"jsonrpc":' });
    assert.equal(garbage.status, 400);
    // A token for another audience is not a token for this server.
    const other = await b.admin('POST', '/admin/v1/apply', { mcp_servers: [{ name: 'files2', upstream: files.url }] });
    assert.equal(other.status, 200);
    const cross = await fetch(`${b.url}/mcp/files2`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(init) });
    assert.equal(cross.status, 401);
  });

  test('revoking the agent kills its MCP access at once', async () => {
    const client = await connect();
    try {
      assert.ok((await client.callTool({ name: 'read_file', arguments: { path: '/public/a' } })).content);
      assert.equal((await b.admin('POST', '/admin/v1/revocations', { kind: 'identity', value: 'ci/acme/api', reason: 'agent hijacked', suspend: false })).status, 201);
      await assert.rejects(client.callTool({ name: 'read_file', arguments: { path: '/public/a' } }), /401|Unauthorized|invalid_token/i);
    } finally {
      await client.close().catch(() => undefined);
    }
  });
});

