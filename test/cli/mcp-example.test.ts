/**
 * examples/mcp stays valid and does what its README says: the real CLI applies it to a started
 * broker; then the same directory, with the issuer's keys and the MCP upstream swapped for test
 * ones (nothing else changed), drives the official SDK client through the gateway: the orchestrator
 * reads and writes, its delete waits for an approval, and the researcher acting for it (delegation,
 * `act_for`) may read but not write.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { parse, stringify } from 'yaml';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { startFilesServer } from '../helpers/mcp-files.js';
import { runCliAsync } from '../helpers/process.js';
import { REPO_ROOT } from '../helpers/repo.js';
import { createWorkloadIssuer } from '../helpers/workload-issuer.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'mcp');
const AUD = 'https://tether.example.com/mcp/files';
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';

describe('examples/mcp', () => {
  let b: RunningBroker;
  let files: Awaited<ReturnType<typeof startFilesServer>>;

  before(async () => {
    files = await startFilesServer();
    b = await startBroker('pglite');
  });
  after(async () => {
    await b?.stop();
    await files?.close();
  });

  test('tether apply -f examples/mcp: identities, the MCP server and the policies are in place; a second apply changes nothing', async () => {
    const a1 = await runCliAsync(['apply', '-f', EXAMPLE, '--url', b.url], { TETHER_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(a1.code, 0, a1.stdout + a1.stderr);
    const ids = (await b.admin('GET', '/admin/v1/identities')).body.identities.map((i: { id: string; kind: string }) => [i.id, i.kind]);
    assert.deepEqual(ids, [['k8s/agents/orchestrator', 'ai_agent'], ['k8s/agents/researcher', 'ai_agent']]);
    const meta = await fetch(`${b.url}/.well-known/oauth-protected-resource/mcp/files`);
    assert.equal(meta.status, 200);
    assert.equal(((await meta.json()) as { resource: string }).resource, AUD);
    const policies = JSON.stringify((await b.admin('GET', '/admin/v1/policies')).body);
    for (const id of ['orchestrator-gets-files-tokens', 'researcher-acts-for-orchestrator', 'deleting-needs-a-human', 'sub-agents-only-read']) assert.ok(policies.includes(id), id);
    const a2 = await runCliAsync(['apply', '-f', EXAMPLE, '--url', b.url], { TETHER_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(a2.code, 0, a2.stderr);
    assert.match(a2.stdout, /no changes/);
  });

  test('its policies at work: the orchestrator reads and writes and waits for approval to delete; the researcher acting for it only reads', async () => {
    // The same directory with test keys for the cluster issuer and the test MCP server as upstream.
    const k8s = await createWorkloadIssuer({ iss: 'https://kubernetes.default.svc.cluster.local', aud: 'https://tether.example.com' });
    const dir = mkdtempSync(join(tmpdir(), 'tether-mcp-example-'));
    cpSync(EXAMPLE, dir, { recursive: true });
    const doc = parse(readFileSync(join(dir, 'tether.yaml'), 'utf8')) as { issuers: Array<Record<string, unknown>>; mcp_servers: Array<Record<string, unknown>> };
    doc.issuers[0]!['jwks'] = { keys: [k8s.publicJwk] };
    doc.issuers[0]!['algorithms'] = ['ES256'];
    doc.mcp_servers[0]!['upstream'] = files.url;
    writeFileSync(join(dir, 'tether.yaml'), stringify(doc));
    const applied = await runCliAsync(['apply', '-f', dir, '--url', b.url], { TETHER_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);

    const sa = (name: string) => k8s.token({ 'kubernetes.io': { namespace: 'agents', serviceaccount: { name } } });
    const exchange = async (form: Record<string, string>) => {
      const res = await fetch(`${b.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: TE, ...form }) });
      const body = (await res.json()) as { access_token?: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      return body.access_token!;
    };
    const orchestrator = await exchange({ subject_token: await sa('orchestrator'), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: AUD, scope: 'tools/call' });
    const researcher = await exchange({
      subject_token: orchestrator,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      actor_token: await sa('researcher'),
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      scope: 'tools/call',
    });
    const claims = JSON.parse(Buffer.from(researcher.split('.')[1]!, 'base64url').toString()) as { sub: string; act?: { sub: string } };
    assert.equal(claims.sub, 'k8s/agents/orchestrator');
    assert.equal(claims.act?.sub, 'k8s/agents/researcher');

    const connect = async (token: string) => {
      const c = new Client({ name: 'agent', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/files`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      return c;
    };
    const refused = async (p: Promise<unknown>) => {
      const e = await p.then(
        () => assert.fail('the call was not refused'),
        (err: unknown) => err,
      );
      assert.ok(e instanceof McpError, String(e));
      return e;
    };

    const o = await connect(orchestrator);
    try {
      assert.deepEqual((await o.listTools()).tools.map((t) => t.name).sort(), ['delete_file', 'read_file', 'write_file']);
      assert.ok((await o.callTool({ name: 'write_file', arguments: { path: '/workspace/notes.md', content: 'plan' } })).content);
      assert.ok((await o.callTool({ name: 'read_file', arguments: { path: '/workspace/notes.md' } })).content);
      assert.equal((await refused(o.callTool({ name: 'read_file', arguments: { path: '/etc/passwd' } }))).code, -32003);
      const pending = await refused(o.callTool({ name: 'delete_file', arguments: { path: '/workspace/old.md' } }));
      assert.equal(pending.code, -32004, 'deleting waits for an operator');
    } finally {
      await o.close();
    }

    const r = await connect(researcher);
    try {
      assert.deepEqual((await r.listTools()).tools.map((t) => t.name), ['read_file'], 'the sub-agent sees only what it may use');
      assert.deepEqual((await r.callTool({ name: 'read_file', arguments: { path: '/workspace/notes.md' } })).content, [{ type: 'text', text: 'contents of /workspace/notes.md' }]);
      const before = files.calls.length;
      assert.equal((await refused(r.callTool({ name: 'write_file', arguments: { path: '/workspace/notes.md', content: 'x' } }))).code, -32003);
      assert.equal((await refused(r.callTool({ name: 'delete_file', arguments: { path: '/workspace/notes.md' } }))).code, -32003, 'a forbid beats the approval path');
      assert.equal(files.calls.length, before, 'refused calls never reach the server');
    } finally {
      await r.close();
    }
    const denied = (await b.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events.find(
      (e: { data: { resource: { id: string }; decision: string; policies?: string[] }; identity: string }) => e.data.resource?.id === 'files/write_file' && e.data.decision === 'deny',
    );
    assert.ok(denied, 'the refused write is an audited decision');
  });
});
