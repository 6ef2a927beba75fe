import type { FastifyInstance } from 'fastify';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { authorizationFields } from '../server/authorization-header.js';
import type { DecisionPipeline } from '../pdp/index.js';
import type { ResourceCheck, ResourceCheckOptions, ResourceRequest } from '../tokens/check-resource-request.js';
import type { TokenRefusal } from '../tokens/token-refusal.js';
import { decideForAccess } from '../tokens/decision-token.js';
import { connectorAudience, ISSUE_ACTION } from './config.js';
import type { ConnectorStore } from './connector-store.js';
import type { CredentialIssuer } from './issue.js';

export interface CredentialRouteDeps {
  connectors: Pick<ConnectorStore, 'get'>;
  issuer: Pick<CredentialIssuer, 'issue'>;
  pipeline: Pick<DecisionPipeline, 'decide'>;
  /** The one resource-server check (tokens/check-resource-request.ts), bound to its deps. */
  checkRequest: (r: ResourceRequest, o?: ResourceCheckOptions) => Promise<ResourceCheck>;
  audit: Pick<AuditWriter, 'append'>;
  issuerUrl: () => string;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * `POST /credentials/v1/{connector}/{role}` (DESIGN.md "Standard endpoints"): a per-task account on
 * a legacy target for the holder of a DPoP-bound Tether access token whose audience is
 * `tether:connector:<name>` and whose scope holds `credentials:issue`. One path: the resource-server
 * check → one kernel decision (resource `Connector::"<name>/<role>"`, phase `request`, the token's
 * facts, so `@approval` and `@ttl` hold) → a fresh account whose lease ends with the grant.
 */
export async function credentialRoutes(app: FastifyInstance, deps: CredentialRouteDeps) {
  // The request has no body to read: anything a client sends is refused past a small size, unparsed.
  app.post('/credentials/v1/:connector/:role', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    const { connector, role } = req.params as { connector: string; role: string };
    if (!NAME.test(connector) || !NAME.test(role)) throw new TetherError('invalid_request', 'connector and role names are 1-63 lowercase letters, digits, "-" or "_"');
    const c = deps.connectors.get(connector);
    // Own roles only: a role named like an inherited property (`constructor`) is not a configured role.
    if (!c || !Object.hasOwn(c.roles, role)) throw new TetherError('not_found', `no connector role ${connector}/${role}`);

    const path = `/credentials/v1/${connector}/${role}`;
    // htu is the URL the client knows the broker by (RFC 9449 §4.3), as for the revocation endpoint.
    // Every request that passes the check reaches the kernel: the proof's shared single-use claim
    // (RFC 9449 §11.1) is made with the decision record, one round trip instead of two.
    const checked = await deps.checkRequest(
      { method: 'POST', url: deps.issuerUrl() + path, authorization: authorizationFields(req), dpop: req.headers.dpop, audience: connectorAudience(connector) },
      { deferSharedClaim: true },
    );
    /** The one way a credential refusal is answered: recorded, then the 401. */
    const refuse = async (r: TokenRefusal): Promise<never> => {
      const sub = r.facts.claims?.sub;
      await deps.audit.append({ type: 'credential.failed', actor: sub ?? 'anonymous', identity: sub, data: { connector, role, reason: r.reason, detail: r.message, source_ip: req.ip } });
      throw r;
    };
    if (!checked.ok) return refuse(checked.refusal);
    const { claims } = checked.access;
    const decided = await decideForAccess(
      deps.pipeline,
      { entry: 'credentials', principal: { type: 'Identity', id: claims.sub }, action: { name: ISSUE_ACTION }, resource: { type: 'Connector', id: `${connector}/${role}` }, request: { method: 'POST', path, source_ip: req.ip } },
      checked.access,
    );
    if (!decided.ok) return refuse(decided.refusal);
    const out = decided.out;
    if (!out.decision) throw new TetherError('access_denied', out.reasons.reason ?? 'denied by policy');
    const cred = await deps.issuer.issue({ connector, role, identity: claims.sub, grant: claims.grant, jti: claims.jti, ttlSeconds: out.obligations.ttlSeconds });
    const u = new URL(c.url);
    reply.header('Cache-Control', 'no-store');
    return reply.code(201).send({
      ...cred,
      connector,
      role,
      kind: c.kind,
      host: u.hostname,
      port: u.port ? Number(u.port) : c.kind === 'postgresql' ? 5432 : c.kind === 'mariadb' ? 3306 : 6379,
      ...(c.kind !== 'redis' && u.pathname.length > 1 ? { database: decodeURIComponent(u.pathname.slice(1)) } : {}),
    });
  });
}
