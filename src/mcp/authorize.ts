/**
 * Every MCP request the gateway forwards is decided by the one kernel (README "MCP gateway"):
 * a use (`tools/call`, `resources/read`, `prompts/get`) is one recorded request-time decision with
 * resource `Tool::"<server>/<tool>"` (parent `McpServer::"<server>"`) and the call's arguments as
 * `context.arguments`; the token's scopes bound the action. A permit with `@approval` turns the call
 * into a pending approval (a grant) bound to the tool, the arguments' digest and the caller's task;
 * once operators approve, the identical call passes once. Lists are filtered by asking, unrecorded,
 * whether each item could be used.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { Grants } from '../grants/grants.js';
import type { DecideInput, DecisionPipeline, DecisionToken } from '../pdp/index.js';
import { exceedsValues, MAX_VALUES } from '../pdp/index.js';
import { LIST_METHODS, RPC, rpcError, USE_METHODS, type JsonRpcId, type ListMethod, type UseMethod } from './json-rpc.js';

export interface McpCaller {
  /** The verified identity (`sub`). */
  identity: string;
  token: DecisionToken;
  issuer: string;
  sourceIp: string;
}

export type UseOutcome = { ok: true } | { ok: false; error: ReturnType<typeof rpcError> };

/** How long an approved call may be made, once, after the approval. */
const APPROVED_CALL_TTL_SECONDS = 600;

export function argumentsDigest(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args ?? {})).digest('hex');
}

export function createMcpAuthorizer(deps: {
  pipeline: Pick<DecisionPipeline, 'decide' | 'preview'>;
  grants: Pick<Grants, 'openOrReuse' | 'consume' | 'forgetLive'>;
  /** Where an operator approves (the console's queue). */
  approvalsUrl: () => string;
}) {
  // A token's own approval (its grant was approved at issuance) never stands in for a call's:
  // `@approval` on a tool asks a human for each call (bound to its arguments), so the kernel sees the
  // token without it; only a consumed call approval (below) is passed as one.
  const withoutApproval = (t: DecisionToken): DecisionToken => {
    const { approval: _a, approvals: _n, ...rest } = t;
    return rest;
  };
  const input = (server: string, caller: McpCaller, action: string, resource: { type: string; id: string } | null, extra: Partial<DecideInput> = {}): DecideInput => ({
    entry: 'mcp',
    principal: { type: 'Identity', id: caller.identity },
    action: { name: action },
    resource: resource ? { ...resource, parents: [{ type: 'McpServer', id: server }] } : { type: 'McpServer', id: server },
    token: withoutApproval(caller.token),
    request: { method: 'POST', path: `/mcp/${server}`, source_ip: caller.sourceIp },
    ...extra,
  });

  /** The kernel's 400 (a value Cedar cannot hold) is the caller's bad params, not an HTTP failure. */
  const decide = async (id: JsonRpcId, i: DecideInput) => {
    try {
      return { ok: true as const, out: await deps.pipeline.decide(i) };
    } catch (e) {
      if (e instanceof TetherError && e.code === 'invalid_request') return { ok: false as const, error: rpcError(id, RPC.invalidParams, e.message) };
      throw e;
    }
  };
  const denied = (id: JsonRpcId, what: string, reason: string | undefined, seq: number) =>
    rpcError(id, RPC.forbidden, `Tether refused ${what}${reason ? `: ${reason}` : ''}`, { decision: seq });

  return {
    /** A use request: one recorded decision, or a pending approval, or (approved) the one allowed call. */
    async use(server: string, audience: string, caller: McpCaller, id: JsonRpcId, method: UseMethod, target: string, params: Record<string, unknown>): Promise<UseOutcome> {
      const args = method === 'tools/call' ? (params['arguments'] ?? {}) : {};
      // Refused before it is hashed or converted: the kernel would refuse it anyway (cedar-values.ts).
      if (exceedsValues(args)) return { ok: false, error: rpcError(id, RPC.invalidParams, `${method}: the arguments hold more than ${MAX_VALUES} values in all (members, items and leaves)`) };
      const digest = argumentsDigest(args);
      const resource = { type: USE_METHODS[method].type, id: `${server}/${target}` };
      // The record keeps the arguments' digest, never the arguments (they may carry secrets).
      const context = { arguments: args as Record<string, unknown> };
      const recordContext = { arguments_sha256: digest };
      const what = `${method} ${server}/${target}`;
      const first = await decide(id, input(server, caller, method, resource, { context, recordContext }));
      if (!first.ok) return first;
      if (first.out.decision) return { ok: true };
      const needed = first.out.reasons.approval_required;
      if (needed === undefined) return { ok: false, error: denied(id, what, first.out.reasons.reason, first.out.auditSeq) };

      const request = {
        identity: caller.identity,
        audience,
        actions: [method],
        // One approval per tool, arguments and caller task: a different call, or another task's, asks anew.
        task: { purpose: `${what}`, ticket: `sha256:${digest}`, instance: caller.token.grant },
        issuer: caller.issuer,
        ttlSeconds: APPROVED_CALL_TTL_SECONDS,
        approval: true,
        approvals: needed,
        breakGlass: null,
      };
      for (let attempt = 0; attempt < 2; attempt++) {
        const g = await deps.grants.openOrReuse(request);
        if (g.kind === 'pending') {
          return {
            ok: false,
            error: rpcError(id, RPC.approvalPending, `${what} needs approval by ${needed} operator${needed > 1 ? 's' : ''}: approval ${g.grant.id} is pending; call again once it is approved`, {
              approval_id: g.grant.id,
              approvals_required: needed,
              decide_by: g.grant.decide_by,
              console_url: deps.approvalsUrl(),
            }),
          };
        }
        if (g.kind === 'denied') return { ok: false, error: rpcError(id, RPC.forbidden, `${what} was denied by an operator (approval ${g.grant.id})`, { approval_id: g.grant.id }) };
        if (g.kind === 'expired') return { ok: false, error: rpcError(id, RPC.forbidden, `nobody approved ${what} in time (approval ${g.grant.id})`, { approval_id: g.grant.id }) };
        // Approved: this call uses the approval, once (a concurrent identical call gets a new request).
        if (!(await deps.grants.consume(g.grant.id, caller.identity, { tool: `${server}/${target}`, arguments_sha256: digest }))) {
          deps.grants.forgetLive();
          continue;
        }
        const approved: DecisionToken = { ...caller.token, approval: 'human', approvals: g.grant.approvals.length };
        const second = await decide(id, input(server, caller, method, resource, { context, recordContext, token: approved }));
        if (!second.ok) return second;
        return second.out.decision ? { ok: true } : { ok: false, error: denied(id, what, second.out.reasons.reason, second.out.auditSeq) };
      }
      return { ok: false, error: rpcError(id, RPC.forbidden, `${what}: the approval was already used`) };
    },

    /** Any other request: the method as the action on the server itself. */
    async other(server: string, caller: McpCaller, id: JsonRpcId, method: string): Promise<UseOutcome> {
      const r = await decide(id, input(server, caller, method, null));
      if (!r.ok) return r;
      return r.out.decision ? { ok: true } : { ok: false, error: denied(id, `${method} on ${server}`, r.out.reasons.reason, r.out.auditSeq) };
    },

    /** Which listed items the caller could use (unrecorded: listing is not access). */
    async usable(server: string, caller: McpCaller, method: ListMethod, names: readonly string[]): Promise<Set<string>> {
      const use = LIST_METHODS[method].use;
      const type = USE_METHODS[use].type;
      const ok = new Set<string>();
      for (const name of new Set(names)) {
        const out = await deps.pipeline.preview(input(server, caller, use, { type, id: `${server}/${name}` }, { context: { arguments: {} } })).catch(() => null);
        if (!out) continue;
        // Usable now, or after an approval (its call asks), or with some arguments: asked without
        // arguments, a permit whose condition reads them cannot be evaluated (an error, no forbid
        // deciding). Listing is not access: the call itself is decided with its real arguments.
        const withSomeArguments = !out.decision && out.stage === 'policy' && out.reasons.policies.length === 0 && out.reasons.errors.length > 0;
        if (out.decision || out.reasons.approval_required !== undefined || withSomeArguments) ok.add(name);
      }
      return ok;
    },
  };
}

export type McpAuthorizer = ReturnType<typeof createMcpAuthorizer>;
