/**
 * `tether mcp schema` end to end: the real CLI reads an official-SDK MCP server's tools through a
 * real broker's gateway (with an access token from TETHER_MCP_TOKEN or --token-file) or directly
 * (--upstream), and prints a Cedar schema fragment Cedar's parser accepts. Through the gateway the
 * list is what the token's identity may use.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { mcpPolicies, startFilesServer } from '../helpers/mcp-files.js';
import { runCliAsync } from '../helpers/process.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES } from '../helpers/workload-issuer.js';

const parses = (fragment: string) => {
  const r = cedar.checkParseSchema(`entity Identity;\n${fragment}`);
  assert.equal(r.type, 'success', JSON.stringify(r));
};
const toolTypes = (fragment: string) => [...fragment.matchAll(/^type (\w+)_arguments = /gm)].map((m) => m[1]).sort();

describe('tether mcp schema', () => {
  let b: RunningBroker;
  let files: Awaited<ReturnType<typeof startFilesServer>>;
  let token: string;

  before(async () => {
    files = await startFilesServer();
    b = await startBroker('pglite');
    const gha = await createWorkloadIssuer();
    const aud = `${b.url}/mcp/files`;
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], mcp_servers: [{ name: 'files', upstream: files.url }], policies: mcpPolicies(aud) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ex = await fetch(`${b.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await gha.token(), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', scope: 'tools/call', audience: aud }),
    });
    const body = (await ex.json()) as { access_token?: string };
    assert.equal(ex.status, 200, JSON.stringify(body));
    token = body.access_token!;
  });
  after(async () => {
    await b?.stop();
    await files?.close();
  });

  test('through the gateway with TETHER_MCP_TOKEN: the tools the identity may use, as a fragment Cedar parses', async () => {
    const r = await runCliAsync(['mcp', 'schema', '--server', 'files', '--url', b.url], { TETHER_MCP_TOKEN: token });
    assert.equal(r.code, 0, r.stderr);
    parses(r.stdout);
    assert.deepEqual(toolTypes(r.stdout), ['delete_file', 'read_file'], 'write_file and admin_reset are not the agent\'s to use');
    assert.match(r.stdout, /^entity Tool in \[McpServer\];$/m);
    assert.match(r.stdout, /^action "tools\/call" appliesTo \{$/m);
    assert.match(r.stdout, /type read_file_arguments = \{\n {2}path: String\n\};/);
    assert.match(r.stdout, /Tool::"files\/read_file": Read a file/);
    // Listing is not a call: nothing reached the tools.
    assert.deepEqual(files.calls, []);
  });

  test('--token-file works the same; --upstream reads the server directly and sees every tool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-mcp-cli-'));
    writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
    const viaFile = await runCliAsync(['mcp', 'schema', '--server', 'files', '--url', b.url, '--token-file', join(dir, 'token')]);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.deepEqual(toolTypes(viaFile.stdout), ['delete_file', 'read_file']);
    const direct = await runCliAsync(['mcp', 'schema', '--server', 'files', '--upstream', files.url]);
    assert.equal(direct.code, 0, direct.stderr);
    parses(direct.stdout);
    assert.deepEqual(toolTypes(direct.stdout), ['admin_reset', 'delete_file', 'read_file', 'write_file']);
    assert.match(direct.stdout, /type write_file_arguments = \{\n {2}path: String,\n {2}content: String\n\};/);
  });

  test('no token, a wrong token, an unknown server: one clear line and exit 2', async () => {
    const none = await runCliAsync(['mcp', 'schema', '--server', 'files', '--url', b.url], { TETHER_MCP_TOKEN: undefined });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /TETHER_MCP_TOKEN/);
    assert.equal(none.stdout, '');
    const wrong = await runCliAsync(['mcp', 'schema', '--server', 'files', '--url', b.url], { TETHER_MCP_TOKEN: 'not-a-token' });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /initialize: HTTP 401 \(Bearer .*resource_metadata=/);
    const unknown = await runCliAsync(['mcp', 'schema', '--server', 'nope', '--url', b.url], { TETHER_MCP_TOKEN: token });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /HTTP 404/);
    const both = await runCliAsync(['mcp', 'schema', '--server', 'files', '--url', b.url, '--upstream', files.url]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
  });
});
