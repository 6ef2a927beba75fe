/**
 * An official-SDK MCP server ("files": read, write, delete, admin_reset) over Streamable HTTP and the
 * policies the gateway tests and the MCP bench put in front of it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** An official-SDK MCP server over Streamable HTTP (stateless: a server per request, as the SDK's example does). */
export async function startFilesServer(): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const http: Server = createServer(async (req, res) => {
    const server = new McpServer({ name: 'files', version: '1.0.0' });
    const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
    server.registerTool('read_file', { description: 'Read a file', inputSchema: { path: z.string() } }, async ({ path }) => {
      calls.push(`read_file ${path}`);
      return text(`contents of ${path}`);
    });
    server.registerTool('write_file', { description: 'Write a file', inputSchema: { path: z.string(), content: z.string() } }, async ({ path }) => {
      calls.push(`write_file ${path}`);
      return text(`wrote ${path}`);
    });
    server.registerTool('delete_file', { description: 'Delete a file', inputSchema: { path: z.string() } }, async ({ path }) => {
      calls.push(`delete_file ${path}`);
      return text(`deleted ${path}`);
    });
    server.registerTool('admin_reset', { description: 'Wipe everything' }, async () => {
      calls.push('admin_reset');
      return text('wiped');
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    const body = req.method === 'POST' ? JSON.parse(await readBody(req)) : undefined;
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, calls, close: () => new Promise((r) => http.close(() => r())) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += String(c);
  return s;
}

export const mcpPolicies = (aud: string) => ({
  'mcp.cedar': `
@id("agent-gets-mcp-tokens")
@bearer("allowed")
permit (principal == Identity::"ci/acme/api", action in [Action::"tools/call"], resource == Audience::"${aud}")
when { context.phase == "issue" };

@id("read-public-files")
permit (principal == Identity::"ci/acme/api", action == Action::"tools/call", resource == Tool::"files/read_file")
when { context.phase == "request" && context.arguments.path like "/public/*" };

@id("delete-needs-a-human")
@approval("required")
permit (principal == Identity::"ci/acme/api", action == Action::"tools/call", resource == Tool::"files/delete_file")
when { context.phase == "request" };
`,
});
