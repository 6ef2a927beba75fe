/**
 * The JSON-RPC 2.0 messages of MCP (specification 2025-06-18 and 2025-03-26, "Base protocol") as the
 * gateway needs them: which kind a message is, what it names, and the errors the gateway answers
 * with. Bodies come from clients: every accessor checks shapes, nothing is trusted.
 */
export type JsonRpcId = string | number;

export type Message =
  | { kind: 'request'; id: JsonRpcId; method: string; params: Record<string, unknown> }
  | { kind: 'notification'; method: string }
  | { kind: 'response'; id: JsonRpcId | null };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The members a JSON-RPC 2.0 message may have (§4, §5). */
const MESSAGE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params', 'result', 'error']);
/** The params a use may carry (MCP 2025-06-18 "Tools", "Resources", "Prompts"; `_meta` everywhere). */
const USE_PARAMS: Record<string, ReadonlySet<string>> = {
  'tools/call': new Set(['name', 'arguments', '_meta']),
  'resources/read': new Set(['uri', '_meta']),
  'prompts/get': new Set(['name', 'arguments', '_meta']),
};

/**
 * Classifies one message; null when it is not JSON-RPC 2.0, or carries members the gateway would not
 * decide on: an upstream whose parser matches keys case-insensitively (`Method`) or reads another
 * member must not see a different message than the one decided.
 */
export function classify(v: unknown): Message | null {
  if (!isObj(v) || v['jsonrpc'] !== '2.0') return null;
  if (Object.keys(v).some((k) => !MESSAGE_KEYS.has(k))) return null;
  // Own members only: a method named `constructor` or `__proto__` is no use method.
  const allowed = typeof v['method'] === 'string' && Object.hasOwn(USE_PARAMS, v['method']) ? USE_PARAMS[v['method']] : undefined;
  if (allowed && isObj(v['params']) && Object.keys(v['params']).some((k) => !allowed.has(k))) return null;
  const id = v['id'];
  const validId = typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  if (typeof v['method'] === 'string') {
    if (v['params'] !== undefined && !isObj(v['params'])) return null;
    const params = (v['params'] as Record<string, unknown> | undefined) ?? {};
    if (id === undefined) return { kind: 'notification', method: v['method'] };
    return validId ? { kind: 'request', id: id as JsonRpcId, method: v['method'], params } : null;
  }
  if ('result' in v || 'error' in v) return { kind: 'response', id: validId ? (id as JsonRpcId) : null };
  return null;
}

/** Requests that use one thing on the server: decided (and recorded) one by one. */
export const USE_METHODS = {
  'tools/call': { param: 'name', type: 'Tool' },
  'resources/read': { param: 'uri', type: 'McpResource' },
  'prompts/get': { param: 'name', type: 'Prompt' },
} as const;
export type UseMethod = keyof typeof USE_METHODS;

/** List requests, filtered to what the caller may use: the list key and the method that uses an item. */
export const LIST_METHODS = {
  'tools/list': { key: 'tools', use: 'tools/call', param: 'name' },
  'resources/list': { key: 'resources', use: 'resources/read', param: 'uri' },
  'prompts/list': { key: 'prompts', use: 'prompts/get', param: 'name' },
} as const;
export type ListMethod = keyof typeof LIST_METHODS;

/** Protocol plumbing any holder of a valid token for the server may send (lifecycle, liveness). */
export const PLUMBING = new Set(['initialize', 'ping']);

export const isUse = (m: string): m is UseMethod => Object.hasOwn(USE_METHODS, m);
export const isList = (m: string): m is ListMethod => Object.hasOwn(LIST_METHODS, m);

/** The name a use request names (tool name, resource URI, prompt name), or null when absent. */
export function targetOf(method: UseMethod, params: Record<string, unknown>): string | null {
  const v = params[USE_METHODS[method].param];
  return typeof v === 'string' && v.length > 0 && v.length <= 1024 ? v : null;
}

/** Gateway error codes (JSON-RPC 2.0 §5.1 leaves -32000..-32099 to implementations). */
export const RPC = {
  invalidRequest: -32600,
  invalidParams: -32602,
  forbidden: -32003,
  approvalPending: -32004,
} as const;

export function rpcError(id: JsonRpcId | null, code: number, message: string, data?: Record<string, unknown>) {
  return { jsonrpc: '2.0' as const, id, error: { code, message, ...(data ? { data } : {}) } };
}

/** Keeps the items of a list result the caller may use. */
export function filterListResult(msg: unknown, method: ListMethod, allowed: (item: string) => boolean): unknown {
  if (!isObj(msg) || !isObj(msg['result'])) return msg;
  const { key, param } = LIST_METHODS[method];
  const items = msg['result'][key];
  if (!Array.isArray(items)) return msg;
  const kept = items.filter((it) => isObj(it) && typeof it[param] === 'string' && allowed(it[param] as string));
  return { ...msg, result: { ...msg['result'], [key]: kept } };
}

/** The names in a list result, for asking the kernel about each. */
export function listedNames(msg: unknown, method: ListMethod): string[] {
  if (!isObj(msg) || !isObj(msg['result'])) return [];
  const { key, param } = LIST_METHODS[method];
  const items = msg['result'][key];
  return Array.isArray(items) ? items.filter(isObj).map((it) => it[param]).filter((n): n is string => typeof n === 'string') : [];
}

/**
 * Server-Sent Events (WHATWG HTML §9.2): splits a complete stream into events, keeping each event's
 * lines so an event the gateway does not rewrite is passed on byte for byte.
 */
export function sseEvents(text: string): Array<{ raw: string; data: string | null }> {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== '')
    .map((raw) => {
      const data = raw
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''));
      return { raw, data: data.length ? data.join('\n') : null };
    });
}
