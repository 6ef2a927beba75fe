/**
 * The MCP gateway's HTTP edge (README "MCP gateway"): Tether serves `/mcp/{name}` as a Streamable
 * HTTP MCP endpoint (MCP 2025-06-18 and 2025-03-26, "Transports") in front of the configured upstream.
 * Each request: the one resource-server check (the token's audience is this server; DPoP-bound tokens
 * prove their key for `POST <public url>`), then every JSON-RPC request through the kernel
 * (authorize.ts), then the upstream, whose answer is streamed back unchanged except for list results,
 * which are filtered to what the caller may use. The caller's token never reaches the upstream (MCP
 * "Security best practices": no token passthrough). RFC 9728 metadata names Tether as the
 * authorization server, and a 401 points at it.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TetherError } from '../errors.js';
import { authorizationFields } from '../server/authorization-header.js';
import { DPOP_SIGNING_ALGORITHMS, type ResourceCheck, type ResourceRequest, type VerifiedAccess } from '../tokens/index.js';
import { decisionTokenOf } from '../tokens/decision-token.js';
import type { McpAuthorizer, McpCaller } from './authorize.js';
import { classify, filterListResult, isList, isUse, listedNames, PLUMBING, RPC, rpcError, sseEvents, targetOf, type ListMethod, type Message } from './json-rpc.js';
import type { McpServerConfig, McpServerStore } from './server-config.js';

export interface McpRouteDeps {
  servers: Pick<McpServerStore, 'get'>;
  authorizer: McpAuthorizer;
  checkRequest: (r: ResourceRequest) => Promise<ResourceCheck>;
  issuerUrl: () => string;
}

/** How long the upstream may take to answer (a long tool call included). */
const UPSTREAM_TIMEOUT_MS = 120_000;
/** What a list answer may weigh when the gateway must read it whole to filter it. */
const LIST_BODY_LIMIT = 16 * 1024 * 1024;
/** Request headers passed to the upstream (never Authorization, DPoP or cookies). */
const FORWARD_REQUEST = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'];
/** Response headers passed back to the client. */
const FORWARD_RESPONSE = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control'];

const header = (req: FastifyRequest, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * MCP session ids (Streamable HTTP `Mcp-Session-Id`) belong to the identity that opened them: another
 * identity presenting one (to read its event stream, end it, or post into it) is refused as if the
 * session did not exist. Kept per instance, bounded; an id this instance has not seen is claimed by
 * its first verified user.
 */
function createSessionOwners(max = 50_000) {
  const owners = new Map<string, string>();
  return {
    claim(id: string, identity: string) {
      if (owners.has(id)) return;
      if (owners.size >= max) owners.delete(owners.keys().next().value as string);
      owners.set(id, identity);
    },
    owns(id: string, identity: string): boolean {
      const o = owners.get(id);
      if (o === undefined) {
        this.claim(id, identity);
        return true;
      }
      return o === identity;
    },
  };
}

export async function mcpRoutes(app: FastifyInstance, deps: McpRouteDeps) {
  const sessions = createSessionOwners();
  const ownsSession = (req: FastifyRequest, identity: string) => {
    const sid = header(req, 'mcp-session-id');
    return sid === undefined || sessions.owns(sid, identity);
  };
  const publicUrl = (name: string) => `${deps.issuerUrl()}/mcp/${name}`;
  const metadataUrl = (name: string) => `${deps.issuerUrl()}/.well-known/oauth-protected-resource/mcp/${name}`;
  const audienceOf = (s: McpServerConfig) => s.audience ?? publicUrl(s.name);
  const serverOf = (req: FastifyRequest) => {
    const name = (req.params as { name: string }).name;
    const s = deps.servers.get(name);
    if (!s) throw new TetherError('not_found', `no MCP server named ${JSON.stringify(name.slice(0, 64))}`);
    return s;
  };

  // RFC 9728 §3: the protected resource's metadata, at the well-known path plus the resource's path.
  app.get('/.well-known/oauth-protected-resource/mcp/:name', { config: { surface: 'ops' as const } }, async (req) => {
    const s = serverOf(req);
    return {
      resource: audienceOf(s),
      authorization_servers: [deps.issuerUrl()],
      bearer_methods_supported: ['header'],
      scopes_supported: ['tools/call', 'resources/read', 'prompts/get'],
      dpop_signing_alg_values_supported: DPOP_SIGNING_ALGORITHMS,
      resource_name: `MCP server ${s.name} through Tether`,
    };
  });

  /** The token check for this server; a refusal is a 401 pointing at the metadata (RFC 9728 §5.1). */
  const authenticate = async (req: FastifyRequest, s: McpServerConfig): Promise<VerifiedAccess> => {
    const checked = await deps.checkRequest({ method: req.method, url: publicUrl(s.name), authorization: authorizationFields(req), dpop: req.headers.dpop, audience: audienceOf(s) });
    if (checked.ok) return checked.access;
    const r = checked.refusal;
    if (r.status !== 401) throw r;
    throw new TetherError(r.code, r.message, { resource_metadata: metadataUrl(s.name), ...(r.reason === 'credential_missing' ? { credential_missing: true } : {}) }, 401);
  };
  const callerOf = (req: FastifyRequest, access: VerifiedAccess): McpCaller => ({ identity: access.claims.sub, token: decisionTokenOf(access), issuer: 'mcp', sourceIp: req.ip });

  const upstream = async (req: FastifyRequest, s: McpServerConfig, access: VerifiedAccess, body?: Buffer) => {
    const headers: Record<string, string> = { 'x-tether-identity': access.claims.sub };
    for (const h of FORWARD_REQUEST) {
      const v = header(req, h);
      if (v !== undefined) headers[h] = v;
    }
    try {
      // No redirects (the upstream is configuration, not whatever it points to), and a bound on the
      // wait for its answer to start; an event stream may then run as long as it runs.
      return await fetch(s.upstream, { method: req.method, headers, redirect: 'manual', signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS), ...(body ? { body: new Uint8Array(body) } : {}) });
    } catch {
      throw new TetherError('unavailable', `the upstream MCP server ${s.name} is unreachable`, undefined, 502);
    }
  };
  const relay = (reply: FastifyReply, res: Response, identity?: string) => {
    const sid = res.headers.get('mcp-session-id');
    if (sid !== null && identity !== undefined) sessions.claim(sid, identity);
    reply.code(res.status);
    for (const h of FORWARD_RESPONSE) {
      const v = res.headers.get(h);
      if (v !== null) reply.header(h, v);
    }
    return res.body ? reply.send(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)) : reply.send();
  };
  const answer = (reply: FastifyReply, msg: unknown) => reply.code(200).type('application/json').send(msg);

  app.register(async (scoped) => {
    // The body is forwarded as received; the gateway parses its own copy.
    scoped.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 4 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    const opts = { config: { surface: 'mcp' as const } };

    scoped.post('/mcp/:name', opts, async (req, reply) => {
      const s = serverOf(req);
      const access = await authenticate(req, s);
      if (!Buffer.isBuffer(req.body)) throw new TetherError('unsupported_media_type', 'MCP messages are application/json', undefined, 415);
      let parsed: unknown;
      try {
        parsed = JSON.parse(req.body.toString('utf8'));
      } catch {
        return reply.code(400).send(rpcError(null, -32700, 'parse error: the body is not JSON'));
      }
      // The upstream gets the message as decided (one serialisation of what was parsed), never the
      // raw bytes, whose duplicate keys another parser might read differently.
      const raw = Buffer.from(JSON.stringify(parsed));
      const list = Array.isArray(parsed) ? parsed : [parsed];
      const messages = list.map(classify);
      if (list.length === 0 || messages.some((m) => m === null)) return reply.code(400).send(rpcError(null, RPC.invalidRequest, 'not a JSON-RPC 2.0 message'));
      const requests = (messages as Message[]).filter((m): m is Extract<Message, { kind: 'request' }> => m.kind === 'request');
      // A notification is never answered, so it is never decided: only `notifications/*` may be one.
      const sneaking = (messages as Message[]).find((m) => m.kind === 'notification' && !m.method.startsWith('notifications/'));
      if (sneaking) return reply.code(400).send(rpcError(null, RPC.invalidRequest, `${sneaking.kind === 'notification' ? sneaking.method : ''} must be a request (with an id): the gateway decides it`));
      const caller = callerOf(req, access);
      if (!ownsSession(req, caller.identity)) return reply.code(404).send(rpcError(null, RPC.invalidRequest, 'no such MCP session for this identity'));
      // A batch (2025-03-26) may carry only what needs no decision: each use is decided and answered on its own.
      if (list.length > 1 && requests.some((m) => !PLUMBING.has(m.method))) {
        return reply.code(400).send(rpcError(null, RPC.invalidRequest, 'send each request that uses a tool, resource or prompt on its own (no batches)'));
      }
      const m = requests[0];
      if (!m) return relay(reply, await upstream(req, s, access, raw), caller.identity);

      // A header naming the method or the target must agree with the body (a gateway or log may trust it).
      const hMethod = header(req, 'mcp-method');
      const target = isUse(m.method) ? targetOf(m.method, m.params) : null;
      const hName = header(req, 'mcp-name');
      if ((hMethod !== undefined && hMethod !== m.method) || (hName !== undefined && hName !== (target ?? ''))) {
        return reply.code(400).send(rpcError(m.id, RPC.invalidRequest, 'Mcp-Method or Mcp-Name disagrees with the body'));
      }

      if (isUse(m.method)) {
        if (target === null) return answer(reply, rpcError(m.id, RPC.invalidParams, `${m.method} needs params.${m.method === 'resources/read' ? 'uri' : 'name'}`));
        const out = await deps.authorizer.use(s.name, audienceOf(s), caller, m.id, m.method, target, m.params);
        if (!out.ok) return answer(reply, out.error);
        return relay(reply, await upstream(req, s, access, raw), caller.identity);
      }
      if (isList(m.method)) return relayFiltered(reply, await upstream(req, s, access, raw), s, caller, m.method, m.id);
      if (!PLUMBING.has(m.method)) {
        const out = await deps.authorizer.other(s.name, caller, m.id, m.method);
        if (!out.ok) return answer(reply, out.error);
      }
      return relay(reply, await upstream(req, s, access, raw), caller.identity);
    });

    // The server-to-client stream and session end: a valid token for this server is enough.
    const passThrough = async (req: FastifyRequest, reply: FastifyReply) => {
      const s = serverOf(req);
      const access = await authenticate(req, s);
      if (!ownsSession(req, access.claims.sub)) throw new TetherError('not_found', 'no such MCP session for this identity');
      return relay(reply, await upstream(req, s, access), access.claims.sub);
    };
    scoped.get('/mcp/:name', opts, passThrough);
    scoped.delete('/mcp/:name', opts, passThrough);
  });

  /** A list answer, JSON or an event stream, with the items the caller may not use removed. */
  async function relayFiltered(reply: FastifyReply, res: Response, s: McpServerConfig, caller: McpCaller, method: ListMethod, id: unknown) {
    const type = res.headers.get('content-type') ?? '';
    if (!res.ok || !res.body) return relay(reply, res, caller.identity);
    const sid = res.headers.get('mcp-session-id');
    if (sid !== null) sessions.claim(sid, caller.identity);
    const text = await readLimited(res);
    const filter = async (msg: unknown) => {
      const allowed = await deps.authorizer.usable(s.name, caller, method, listedNames(msg, method));
      return filterListResult(msg, method, (n) => allowed.has(n));
    };
    reply.code(res.status);
    for (const h of FORWARD_RESPONSE) {
      const v = res.headers.get(h);
      if (v !== null) reply.header(h, v);
    }
    if (type.startsWith('text/event-stream')) {
      const out: string[] = [];
      for (const ev of sseEvents(text)) {
        let msg: unknown;
        try {
          msg = ev.data === null ? undefined : JSON.parse(ev.data);
        } catch {
          msg = undefined;
        }
        if (msg && typeof msg === 'object' && (msg as { id?: unknown }).id === id) {
          const kept = ev.raw.split(/\r?\n/).filter((l) => !l.startsWith('data:'));
          out.push([...kept, `data: ${JSON.stringify(await filter(msg))}`].join('\n'));
        } else out.push(ev.raw);
      }
      return reply.send(out.join('\n\n') + '\n\n');
    }
    try {
      return reply.send(JSON.stringify(await filter(JSON.parse(text))));
    } catch {
      throw new TetherError('unavailable', `the upstream MCP server ${s.name} answered ${method} with something that is not JSON`, undefined, 502);
    }
  }
}

async function readLimited(res: Response): Promise<string> {
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > LIST_BODY_LIMIT) {
      await reader.cancel();
      throw new TetherError('unavailable', 'the upstream list answer is too large to filter', undefined, 502);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
