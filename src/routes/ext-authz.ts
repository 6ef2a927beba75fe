import { decideForAccess } from '../tokens/decision-token.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { DecisionPipeline } from '../pdp/index.js';
import { bearerMatcher } from '../server/admin-auth.js';
import { authorizationFields } from '../server/authorization-header.js';
import type { ResourceCheck, ResourceCheckOptions, ResourceRequest } from '../tokens/check-resource-request.js';
import type { TokenRefusal } from '../tokens/token-refusal.js';
import type { CredentialRefusal } from './credential-refusal.js';
import { originalRequest } from './original-request.js';
import { parseRequestTarget } from './request-target.js';
import { matchRoute } from './route-config.js';
import type { RouteStore } from './route-store.js';
import type { Clock } from '../clock.js';

export interface ExtAuthzDeps {
  routes: Pick<RouteStore, 'get'>;
  pipeline: Pick<DecisionPipeline, 'decide'>;
  /** The one resource-server check (tokens/check-resource-request.ts), bound to its deps. */
  checkRequest: (r: ResourceRequest, o?: ResourceCheckOptions) => Promise<ResourceCheck>;
  audit: Pick<AuditWriter, 'append'>;
  /** TETHER_PDP_TOKEN: when set, the gateway must present it in `X-Tether-PDP-Token`. */
  pdpToken?: string | undefined;
  clock: Clock;
  onRefusal?: (r: CredentialRefusal) => void;
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

const denied = (msg: string) => new TetherError('access_denied', msg, undefined, 403);

/** Printable ASCII, bounded: what an unverified value may look like in the audit log. */
const printable = (v: unknown): string | undefined => (typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '?').slice(0, 128) : undefined);

/** The claims a refused token says it has, labelled unverified: for forensics, never for attribution. */
function unverifiedClaims(authorization: string | undefined): { sub?: string; jti?: string } | undefined {
  const token = /^\S+ +(\S+)$/.exec(authorization ?? '')?.[1];
  if (!token) return undefined;
  try {
    const c = decodeJwt(token);
    const sub = printable(c.sub);
    const jti = printable(c.jti);
    return sub || jti ? { ...(sub ? { sub } : {}), ...(jti ? { jti } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Gateway enforcement for nginx `auth_request` and Envoy HTTP `ext_authz`: 2xx allow (with
 * X-Tether-Identity / X-Tether-Task for the upstream), 401 + `WWW-Authenticate: DPoP` for a missing,
 * invalid or replayed credential, 403 for everything else (nginx turns other codes into 500s: the
 * error renderer folds them into 403 on this surface).
 *
 * One path: the original request, by the route's configured gateway mode (original-request.ts) →
 * its target, refused when ambiguous (request-target.ts) → the resource-server check → route
 * match → the decision pipeline.
 */
export async function extAuthzRoutes(app: FastifyInstance, deps: ExtAuthzDeps) {
  const gate = deps.pdpToken ? bearerMatcher(deps.pdpToken) : null;
  // Gateways may forward the original body's content type; we never read the body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    if (gate && !gate(`Bearer ${header(req, 'x-tether-pdp-token') ?? ''}`)) throw denied('the gateway did not present the PDP token (X-Tether-PDP-Token)');
    const name = (req.params as { route: string }).route;
    const route = deps.routes.get(name);
    if (!route) throw denied(`no route named ${JSON.stringify(name.slice(0, 64))}`);

    const record = (identity: string | undefined, data: Record<string, unknown>) =>
      deps.audit.append({ type: 'decision', actor: 'ext-authz', identity, data: { entry: 'ext-authz', phase: 'request', decision: 'deny', route: route.config.name, ...data } });

    const original = originalRequest(route.config, {
      method: req.method,
      url: req.url,
      prefix: `/ext-authz/${route.config.name}`,
      header: (n) => header(req, n),
      peer: req.ip,
    });
    if (!original.ok) {
      await record(undefined, { stage: 'route', refusal: 'gateway_mismatch', reason: original.description });
      throw denied(original.description);
    }
    const { method, sourceIp } = original;
    const target = parseRequestTarget(original.target);
    if (!target.ok) {
      await record(undefined, { stage: 'route', refusal: target.refusal, reason: target.description, method, source_ip: sourceIp });
      throw denied(`request target refused: ${target.description}`);
    }
    const path = target.path;

    const authorization = authorizationFields(req);
    // Pure, so it may run before the credential check (whose refusal still comes first): a request
    // that will reach the kernel defers its proof's shared single-use claim (RFC 9449 §11.1) to the
    // decision record's statement: the request waits only for the audit commit, one round trip
    // instead of two (DESIGN.md "Storage", "Performance budget").
    // A route refusal has no decision to carry it: its check claims as before.
    const match = matchRoute(route, method, path);
    const checked = await deps.checkRequest({ method, url: route.base + path, authorization, dpop: req.headers.dpop, audience: route.config.audience }, { deferSharedClaim: match !== null });
    /** The one way a credential refusal is answered: recorded, reported to detection, 401. */
    const refuse = async (r: TokenRefusal): Promise<never> => {
      const c = r.facts.claims;
      const unverified = c || typeof authorization !== 'string' ? undefined : unverifiedClaims(authorization);
      await record(c?.sub, {
        stage: 'credential',
        refusal: r.reason,
        reason: r.message,
        jti: c?.jti ?? null,
        grant: c?.grant ?? null,
        jkt: c?.cnf?.jkt ?? null,
        presented_jkt: r.facts.presentedJkt ?? null,
        source_ip: sourceIp,
        method,
        path,
        ...(r.failClosed ? { fail_closed: true } : {}),
        ...(unverified ? { unverified } : {}),
      });
      // A refusal because this instance may be stale says nothing about the caller.
      if (!r.failClosed) {
        deps.onRefusal?.({
          at: deps.clock(),
          route: route.config.name,
          code: r.reason,
          reason: r.message,
          sourceIp,
          method,
          path,
          ...(c ? { identity: c.sub, jti: c.jti, grant: c.grant, ...(c.cnf ? { jkt: c.cnf.jkt } : {}) } : {}),
          ...(r.facts.presentedJkt ? { presentedJkt: r.facts.presentedJkt } : {}),
        });
      }
      throw r;
    };
    if (!checked.ok) return refuse(checked.refusal);
    const { claims } = checked.access;

    if (!match) {
      await record(claims.sub, { stage: 'route', reason: 'no route rule matches', method, path, jti: claims.jti, grant: claims.grant, source_ip: sourceIp });
      throw denied(`no rule of route ${route.config.name} matches ${method} ${path}`);
    }
    const decided = await decideForAccess(
      deps.pipeline,
      { entry: 'ext-authz', principal: { type: 'Identity', id: claims.sub }, action: { name: match.action }, resource: match.resource, request: { method, path, source_ip: sourceIp } },
      checked.access,
    );
    if (!decided.ok) return refuse(decided.refusal);
    const out = decided.out;
    if (!out.decision) {
      // Envoy forwards this body to the client: the reasons go only to an authenticated gateway.
      throw denied(gate ? (out.reasons.reason ?? (out.reasons.errors.length ? `policy error: ${out.reasons.errors.join('; ')}` : 'denied by policy')) : 'denied');
    }
    reply.header('X-Tether-Identity', claims.sub);
    reply.header('X-Tether-Task', claims.task?.id ?? claims.grant);
    reply.header('X-Tether-Decision', String(out.auditSeq));
    return reply.code(200).send();
  };

  const opts = { config: { surface: 'extauthz' as const } };
  app.all('/ext-authz/:route', opts, handler);
  app.all('/ext-authz/:route/*', opts, handler);
}
