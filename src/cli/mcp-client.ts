/**
 * Just enough of an MCP client for the CLI, over Streamable HTTP with fetch (MCP 2025-06-18
 * "Transports"): initialize, the initialized notification, then tools/list page by page, then the
 * session's DELETE. Each answer may be JSON or an event stream holding the response. Kept to plain
 * fetch so the MCP SDK stays a test-only dependency.
 */
import { sseEvents } from '../mcp/json-rpc.js';
import type { McpToolDescription } from '../mcp/schema-fragment.js';

/** The revision the CLI speaks; servers answer with the one they chose. */
const PROTOCOL_VERSION = '2025-06-18';
const MAX_PAGES = 100;

export class McpClientError extends Error {}

interface Session {
  endpoint: string;
  headers: Record<string, string>;
  nextId: number;
}

async function post(s: Session, body: Record<string, unknown>): Promise<Response> {
  try {
    return await fetch(s.endpoint, {
      method: 'POST',
      headers: { ...s.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', ...body }),
    });
  } catch (e) {
    throw new McpClientError(`cannot reach ${s.endpoint}: ${(e as Error).message}`);
  }
}

/** One request, its result (an event stream may carry notifications before the response). */
async function request(s: Session, method: string, params: Record<string, unknown>): Promise<{ result: Record<string, unknown>; res: Response }> {
  const id = s.nextId++;
  const res = await post(s, { id, method, params });
  const text = await res.text();
  if (!res.ok) {
    const challenge = res.headers.get('www-authenticate');
    throw new McpClientError(`${method}: HTTP ${res.status}${challenge ? ` (${challenge})` : ''}: ${text.slice(0, 300)}`);
  }
  const type = res.headers.get('content-type') ?? '';
  const messages: unknown[] = [];
  try {
    if (type.startsWith('text/event-stream')) {
      for (const ev of sseEvents(text)) if (ev.data !== null) messages.push(JSON.parse(ev.data));
    } else messages.push(JSON.parse(text));
  } catch {
    throw new McpClientError(`${method}: the answer is not JSON-RPC`);
  }
  const answer = messages.find((m): m is Record<string, unknown> => typeof m === 'object' && m !== null && (m as { id?: unknown }).id === id);
  if (!answer) throw new McpClientError(`${method}: no response to request ${id}`);
  if (answer['error'] !== undefined) throw new McpClientError(`${method}: ${JSON.stringify(answer['error']).slice(0, 500)}`);
  const result = answer['result'];
  if (typeof result !== 'object' || result === null) throw new McpClientError(`${method}: the response has no result`);
  return { result: result as Record<string, unknown>, res };
}

/** The server's tools, every page of them. `bearer`, when given, is sent as `Authorization: Bearer`. */
export async function listMcpTools(endpoint: string, bearer?: string): Promise<{ server: { name?: string; version?: string }; tools: McpToolDescription[] }> {
  const s: Session = { endpoint, headers: bearer ? { authorization: `Bearer ${bearer}` } : {}, nextId: 1 };
  const init = await request(s, 'initialize', { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'tether-cli', version: '0.1.0' } });
  const session = init.res.headers.get('mcp-session-id');
  if (session) s.headers['mcp-session-id'] = session;
  const version = init.result['protocolVersion'];
  s.headers['mcp-protocol-version'] = typeof version === 'string' ? version : PROTOCOL_VERSION;
  const notified = await post(s, { method: 'notifications/initialized' });
  await notified.body?.cancel();
  if (!notified.ok) throw new McpClientError(`notifications/initialized: HTTP ${notified.status}`);
  try {
    const tools: McpToolDescription[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { result } = await request(s, 'tools/list', cursor === undefined ? {} : { cursor });
      if (!Array.isArray(result['tools'])) throw new McpClientError('tools/list: the result has no tools array');
      for (const t of result['tools'] as unknown[]) {
        if (typeof t !== 'object' || t === null || typeof (t as { name?: unknown }).name !== 'string') throw new McpClientError('tools/list: a tool without a name');
        const { name, description, inputSchema } = t as { name: string; description?: unknown; inputSchema?: unknown };
        tools.push({ name, description: typeof description === 'string' ? description : undefined, inputSchema });
      }
      cursor = typeof result['nextCursor'] === 'string' ? result['nextCursor'] : undefined;
      if (cursor === undefined) break;
    }
    const info = init.result['serverInfo'] as { name?: string; version?: string } | undefined;
    return { server: info ?? {}, tools };
  } finally {
    // Ending the session is a courtesy (a stateless server answers 405): never a failure.
    if (session) await fetch(endpoint, { method: 'DELETE', headers: s.headers }).then((r) => r.body?.cancel(), () => undefined);
  }
}
