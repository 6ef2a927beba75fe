import type { FastifyInstance, FastifyRequest } from 'fastify';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { DecisionPipeline } from '../pdp/index.js';
import { bearerMatcher } from '../server/admin-auth.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { toResourceServerError } from '../tokens/dpop-challenge.js';
import { verifyDpopProof } from '../tokens/dpop-proof.js';
import type { ReplayGuard } from '../tokens/replay-guard.js';
import { matchRoute } from './route-config.js';
import type { RouteStore } from './route-store.js';

/** A credential refused before policy (401): what detection needs to see replays. */
export interface CredentialRefusal {
  at: Date;
  route: string;
  reason: string;
  identity?: string;
  jti?: string;
  grant?: string;
  jkt?: string;
  presentedJkt?: string;
  sourceIp: string;
  method: string;
  path: string;
}

export interface ExtAuthzDeps {
  routes: Pick<RouteStore, 'get'>;
  pipeline: Pick<DecisionPipeline, 'decide'>;
  check: (token: string, audience?: string) => Promise<AccessTokenClaims>;
  replay: ReplayGuard;
  audit: Pick<AuditWriter, 'append'>;
  pdpToken?: string | undefined;
  clock: () => Date;
  onRefusal?: (r: CredentialRefusal) => void;
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

/** The caller's address as the gateway saw it (the PDP sits behind the gateway on a private network). */
const sourceIp = (req: FastifyRequest): string => header(req, 'x-real-ip') ?? header(req, 'x-forwarded-for')?.split(',')[0]?.trim() ?? req.ip;

async function presentedKey(proof: string | undefined): Promise<string | undefined> {
  if (!proof) return undefined;
  try {
    const jwk = decodeProtectedHeader(proof).jwk as JWK | undefined;
    return jwk ? await calculateJwkThumbprint(jwk) : undefined;
  } catch {
    return undefined;
  }
}

const unauthorized = (msg: string) => new TetherError('invalid_token', msg, undefined, 401);
const denied = (msg: string) => new TetherError('access_denied', msg, undefined, 403);

/**
 * Gateway enforcement for nginx `auth_request` and Envoy HTTP `ext_authz`: 2xx allow (with
 * X-Tether-Identity / X-Tether-Task for the upstream), 401 + `WWW-Authenticate: DPoP` for a missing,
 * invalid or replayed credential, 403 for a policy deny. Never anything else (nginx turns other codes
 * into 500s): the error renderer folds every other status into 403 on this surface.
 */
export async function extAuthzRoutes(app: FastifyInstance, deps: ExtAuthzDeps) {
  const gate = deps.pdpToken ? bearerMatcher(deps.pdpToken) : null;
  // Gateways may forward the original body's content type; we never read the body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));

  const handler = async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
    if (gate && !gate(`Bearer ${header(req, 'x-tether-pdp-token') ?? ''}`)) throw denied('the gateway did not present the PDP token (X-Tether-PDP-Token)');
    const params = req.params as { route: string; '*'?: string };
    const route = deps.routes.get(params.route);
    if (!route) throw denied(`no route named ${JSON.stringify(params.route.slice(0, 64))}`);
    // Envoy sends the original request as this request (its path appended after the route): then
    // that is the truth, and X-Original-* headers, which a caller could smuggle through a gateway
    // that forwards them, are ignored. nginx's auth_request subrequest has no suffix and passes
    // the original method and URI in headers it sets itself.
    const envoy = params['*'] !== undefined && params['*'] !== '';
    const method = (envoy ? req.method : header(req, 'x-forwarded-method') ?? header(req, 'x-original-method') ?? req.method).toUpperCase();
    const uri = envoy ? `/${params['*']}` : header(req, 'x-forwarded-uri') ?? header(req, 'x-original-uri') ?? '/';
    const path = uri.split('?')[0]!;
    if (!path.startsWith('/') || path.length > 4096) throw denied('the original URI is malformed');
    const ip = sourceIp(req);

    const auth = header(req, 'authorization');
    const proof = header(req, 'dpop');
    const facts: Partial<CredentialRefusal> = {};
    const refuse = async (e: TetherError): Promise<never> => {
      const refusal: CredentialRefusal = { at: deps.clock(), route: route.config.name, reason: e.message, sourceIp: ip, method, path, ...facts };
      await deps.audit.append({
        type: 'decision',
        actor: 'ext-authz',
        identity: refusal.identity,
        data: {
          entry: 'ext-authz',
          phase: 'request',
          stage: 'credential',
          decision: 'deny',
          reason: e.message,
          route: route.config.name,
          jti: refusal.jti ?? null,
          grant: refusal.grant ?? null,
          jkt: refusal.jkt ?? null,
          presented_jkt: refusal.presentedJkt ?? null,
          source_ip: ip,
          method,
          path,
        },
      });
      deps.onRefusal?.(refusal);
      throw e;
    };

    const m = /^(DPoP|Bearer) ([A-Za-z0-9._~+/-]+=*)$/i.exec(auth ?? '');
    if (!m) return refuse(unauthorized(auth ? 'malformed Authorization header' : 'a DPoP-bound access token is required'));
    const scheme = m[1]!.toLowerCase();
    const token = m[2]!;
    let claims: AccessTokenClaims;
    try {
      claims = await deps.check(token, route.config.audience);
    } catch (e) {
      try {
        const c = decodeJwt(token);
        Object.assign(facts, { identity: typeof c.sub === 'string' ? c.sub : undefined, jti: typeof c.jti === 'string' ? c.jti : undefined });
      } catch {
        /* not even a JWT */
      }
      return refuse(e instanceof TetherError ? unauthorized(e.message) : unauthorized('invalid access token'));
    }
    Object.assign(facts, { identity: claims.sub, jti: claims.jti, grant: claims.grant, jkt: claims.cnf?.jkt, presentedJkt: await presentedKey(proof) });

    if (claims.cnf) {
      // RFC 9449 §7.1: a DPoP-bound token is only accepted with the DPoP scheme and a proof by its key.
      if (scheme !== 'dpop') return refuse(unauthorized('this token is DPoP-bound: use the DPoP authorization scheme'));
      if (!proof || proof.includes(',')) return refuse(unauthorized('exactly one DPoP proof is required'));
      try {
        await verifyDpopProof(proof, {
          htm: method,
          htu: route.base + path,
          accessToken: token,
          expectedJkt: claims.cnf.jkt,
          replayGuard: deps.replay,
          clock: () => Math.floor(deps.clock().getTime() / 1000),
        });
      } catch (e) {
        return refuse(e instanceof TetherError ? toResourceServerError(e) : unauthorized('invalid DPoP proof'));
      }
    } else if (scheme !== 'bearer') {
      return refuse(unauthorized('this token is not DPoP-bound: use the Bearer scheme'));
    }

    const match = matchRoute(route, method, path);
    const target = match ?? { action: `${method} ${path}`.slice(0, 128), resource: { type: 'Route', id: route.config.name } };
    const out = match
      ? await deps.pipeline.decide({
          entry: 'ext-authz',
          principal: { type: 'Identity', id: claims.sub },
          action: { name: target.action },
          resource: target.resource,
          token: {
            jti: claims.jti,
            grant: claims.grant,
            scopes: claims.scope.split(' '),
            jkt: claims.cnf?.jkt ?? '',
            presented_jkt: facts.presentedJkt,
            ...(claims.act ? { act: claims.act as unknown as Record<string, unknown> } : {}),
            ...(claims.task ? { task: claims.task } : {}),
          },
          request: { method, path, source_ip: ip },
        })
      : null;
    if (!out) {
      await deps.audit.append({ type: 'decision', actor: 'ext-authz', identity: claims.sub, data: { entry: 'ext-authz', phase: 'request', stage: 'route', decision: 'deny', reason: 'no route rule matches', route: route.config.name, method, path, jti: claims.jti, grant: claims.grant, source_ip: ip } });
      throw denied(`no rule of route ${route.config.name} matches ${method} ${path}`);
    }
    if (!out.decision) throw denied(out.reasons.reason ?? (out.reasons.errors.length ? `policy error: ${out.reasons.errors.join('; ')}` : 'denied by policy'));
    reply.header('X-Tether-Identity', claims.sub);
    reply.header('X-Tether-Task', claims.task?.id ?? claims.grant);
    reply.header('X-Tether-Decision', String(out.auditSeq));
    return reply.code(200).send();
  };

  const opts = { config: { surface: 'extauthz' as const } };
  app.all('/ext-authz/:route', opts, handler);
  app.all('/ext-authz/:route/*', opts, handler);
}
