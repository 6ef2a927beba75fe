import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { Grants } from '../grants/grants.js';
import { revokeIn, type RevocationEntry } from '../revocation/index.js';
import type { Metrics } from '../server/metrics.js';
import { checkAccessToken, type TokenCheck } from './check-access-token.js';
import { singleDpopHeader } from './dpop-header.js';
import { DPOP_SIGNING_ALGORITHMS, DpopProofError, verifyDpopProof } from './dpop-proof.js';
import type { ReplayGuard } from './replay-guard.js';
import type { Exchange } from './exchange.js';
import { GRANT_TYPE_TOKEN_EXCHANGE } from './exchange.js';
import { parseForm, required } from './form.js';
import type { KeyStore } from './key-store.js';
import type { Clock } from '../clock.js';

export interface OAuthRouteDeps {
  exchange: Exchange;
  keys: KeyStore;
  grants: Pick<Grants, 'endIn'>;
  audit: Pick<AuditWriter, 'append' | 'transact'>;
  metrics: Pick<Metrics, 'issuances'>;
  /** The token half of the resource-server check (check-access-token.ts). */
  check: (token: string, audience?: string) => Promise<TokenCheck>;
  /** DPoP proof ids are single use here too (RFC 9449 §11.1). */
  replay: ReplayGuard;
  /** The identity's inventory status (from the identity cache); undefined when unknown. */
  identityStatus: (id: string) => Promise<string | undefined>;
  issuerUrl: () => string;
  /** Introspection is for resource servers holding the admin token (for now). */
  requireAdmin: (req: FastifyRequest) => Promise<void>;
  /** The active operator an operator token names, or null (an exchange an operator asks for). */
  operatorOf: (token: string, req: FastifyRequest) => Promise<string | null>;
  clock: Clock;
  /** Revocations committed here: this instance enforces them at once, the others on the notice. */
  onRevoked: (entries: readonly RevocationEntry[]) => void;
}

const oauth = { config: { surface: 'oauth' as const } };
/**
 * What these forms can hold: a token request carries at most a subject token and an actor token
 * (16 KiB each, federation/subject-token.ts), a consent proof (8 KiB) and a small task; revocation and
 * introspection one access token (8 KiB). Anyone may post here, so a body is refused at these sizes
 * rather than parsed at the app's 1 MiB (README "Limits").
 */
const TOKEN_BODY_LIMIT = 128 * 1024;
const ONE_TOKEN_BODY_LIMIT = 64 * 1024;
const single = (h: string | string[] | undefined) => (Array.isArray(h) ? h.join(', ') : h);

/** RFC 8414 metadata, JWKS, RFC 8693 token exchange, RFC 7009 revocation, RFC 7662 introspection. */
export async function oauthRoutes(app: FastifyInstance, deps: OAuthRouteDeps) {
  app.get('/.well-known/oauth-authorization-server', oauth, async () => {
    const base = deps.issuerUrl();
    return {
      issuer: base,
      token_endpoint: `${base}/oauth/token`,
      jwks_uri: `${base}/oauth/jwks`,
      revocation_endpoint: `${base}/oauth/revoke`,
      introspection_endpoint: `${base}/oauth/introspect`,
      grant_types_supported: [GRANT_TYPE_TOKEN_EXCHANGE],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGORITHMS],
      authorization_details_types_supported: ['tether_task'],
      response_types_supported: [],
    };
  });

  app.get('/oauth/jwks', oauth, async (_req, reply) => {
    reply.header('Cache-Control', 'public, max-age=60');
    return deps.keys.ring().jwks();
  });

  app.post('/oauth/token', { ...oauth, bodyLimit: TOKEN_BODY_LIMIT }, async (req, reply) => {
    const facts: Record<string, unknown> = {};
    const note = (f: Record<string, unknown>) => Object.assign(facts, f);
    try {
      const form = parseForm(req.body);
      // An operator asking for the workload (e.g. break-glass from the CLI) says who with its own token;
      // only a verified operator is recorded, and that operator may not approve the grant.
      const opToken = single(req.headers['x-tether-operator-token']);
      const requestedBy = opToken === undefined ? undefined : await deps.operatorOf(opToken, req);
      if (requestedBy === null) throw new TetherError('invalid_client', 'X-Tether-Operator-Token is not an active operator token');
      const out = await deps.exchange({ form, dpop: single(req.headers.dpop), sourceIp: req.ip, requestedBy }, note);
      if (out.nonce) reply.header('DPoP-Nonce', out.nonce);
      reply.header('Cache-Control', 'no-store');
      return out.body;
    } catch (e) {
      if (!(e instanceof TetherError) || e.status >= 500) throw e;
      deps.metrics.issuances.inc({ outcome: e.code });
      // A refusal is audited too; if even that cannot be written, the caller gets a 503.
      const identity = typeof facts.identity === 'string' ? facts.identity : undefined;
      await deps.audit.append({
        type: 'token.refused',
        actor: identity ?? 'anonymous',
        identity,
        data: { error: e.code, reason: e.message, ...facts, source_ip: req.ip },
      });
      throw e;
    }
  });

  // RFC 7009: the holder may revoke its own token. Revoking an access token ends its task: the grant
  // and every token issued under it die with it. A DPoP-bound token is revoked only with a proof
  // of possession of its key (RFC 9449 §7: the key, not a copy of the token, is the credential), so
  // a token seen in a log cannot end a task that other replicas share.
  app.post('/oauth/revoke', { ...oauth, bodyLimit: ONE_TOKEN_BODY_LIMIT }, async (req, reply) => {
    const form = parseForm(req.body);
    const token = required(form, 'token');
    const hint = form.get('token_type_hint');
    if (hint !== undefined && hint !== 'access_token') {
      throw new TetherError('unsupported_token_type', 'only access tokens can be revoked here');
    }
    const checked = await deps.check(token);
    // This instance cannot vouch for its revocation state: say so rather than drop the request.
    if (!checked.ok && checked.refusal.failClosed) throw checked.refusal;
    // §2.2: an invalid, expired or already revoked token is answered with 200 all the same.
    if (checked.ok) {
      const c = checked.claims;
      if (c.cnf) await proveHolder(req, token, c.cnf.jkt);
      const revoked = await deps.audit.transact(async (q, emit) => {
        emit({ type: 'token.revoked', actor: c.sub, identity: c.sub, data: { jti: c.jti, grant: c.grant, via: 'rfc7009' } });
        const r = await revokeIn(q, emit, { kind: 'jti', value: c.jti, reason: 'revoked by its holder', actor: c.sub }, deps.clock());
        await deps.grants.endIn(q, emit, c.grant, 'task ended: token revoked by its holder', c.sub);
        return r;
      });
      deps.onRevoked(revoked.entries);
    }
    reply.header('Cache-Control', 'no-store');
    return reply.code(200).send({});
  });

  /** A DPoP proof for this revocation request (POST to the revocation endpoint), by the token's key, with `ath`. */
  const proveHolder = async (req: FastifyRequest, token: string, jkt: string): Promise<void> => {
    const proof = singleDpopHeader(req.headers.dpop);
    if (proof === undefined) throw new DpopProofError('revoking a DPoP-bound token needs a DPoP proof by its key (RFC 9449)');
    await verifyDpopProof(proof, {
      htm: 'POST',
      htu: `${deps.issuerUrl()}/oauth/revoke`,
      accessToken: token,
      expectedJkt: jkt,
      replayGuard: deps.replay,
      clock: deps.clock,
    });
  };

  app.post('/oauth/introspect', { ...oauth, bodyLimit: ONE_TOKEN_BODY_LIMIT }, async (req, reply) => {
    await deps.requireAdmin(req);
    const form = parseForm(req.body);
    const token = required(form, 'token');
    reply.header('Cache-Control', 'no-store');
    const checked = await deps.check(token);
    if (!checked.ok) {
      if (checked.refusal.failClosed) throw checked.refusal;
      return { active: false };
    }
    const c = checked.claims;
    // RFC 7662 §2.2 "active": a token of a suspended or retired identity is no longer usable.
    if ((await deps.identityStatus(c.sub)) !== 'active') return { active: false };
    return {
      active: true,
      token_type: c.cnf ? 'DPoP' : 'Bearer',
      iss: c.iss,
      sub: c.sub,
      aud: c.aud,
      scope: c.scope,
      client_id: c.client_id,
      exp: c.exp,
      iat: c.iat,
      jti: c.jti,
      ...(c.cnf ? { cnf: c.cnf } : {}),
      grant: c.grant,
      ...(c.task ? { task: c.task } : {}),
      ...(c.act ? { act: c.act } : {}),
    };
  });
}

export { checkAccessToken };
