import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditWriter } from '../audit/index.js';
import type { Config } from '../config/index.js';
import type { ChangeFeed } from '../cluster/index.js';
import { createIssuerStore } from '../federation/issuer-store.js';
import { issuerRoutes } from '../federation/issuer-routes.js';
import { createJwksCache } from '../federation/index.js';
import { createGrants } from '../grants/grants.js';
import { grantRoutes } from '../grants/routes.js';
import type { Inventory } from '../inventory/identities.js';
import type { RevocationEntry, RevocationSet } from '../revocation/index.js';
import { revocationRoutes } from '../revocation/routes.js';
import type { Metrics } from '../server/metrics.js';
import type { Store } from '../store/index.js';
import { checkAccessToken } from './check-access-token.js';
import { checkResourceRequest, type ResourceCheckOptions, type ResourceRequest } from './check-resource-request.js';
import { createClusterReplayGuard } from './cluster-replay-guard.js';
import { createDpopNonces } from './dpop-nonce.js';
import { createExchange, type ExchangeDeps, type IdentityFacts } from './exchange.js';
import { createKeyStore, resolveMasterKey } from './key-store.js';
import { keyRoutes } from './key-routes.js';
import { oauthRoutes } from './oauth-routes.js';
import type { Clock } from '../clock.js';

export interface TokenDomainDeps {
  config: Config;
  store: Store;
  audit: AuditWriter;
  inventory: Inventory;
  revocations: RevocationSet;
  changes: ChangeFeed;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  issuerUrl: () => string;
  /** The authorization kernel: issuance asks it once per requested action. */
  kernel: ExchangeDeps['kernel'];
  onIdentityChanged: (id: string) => void;
  /** Status, kind and environment of an identity, from the identity cache (invalidated by notification). */
  identityFacts: (id: string) => Promise<IdentityFacts | null>;
  onClaims?: (identity: string, issuer: string, claims: Record<string, unknown>) => void;
  /** Detection's issuance feed. */
  onIssued?: ExchangeDeps['onIssued'];
}

/** Federation, grants and tokens: built once, mounted by the composition root. */
export async function createTokenDomain(d: TokenDomainDeps) {
  const master = resolveMasterKey(d.config.masterKey, d.config.dataDir);
  if (master.source === 'file') {
    d.logger.warn({ path: `${d.config.dataDir}/master-key` }, master.created ? 'generated a master key for signing keys (set TETHER_MASTER_KEY for clusters)' : 'using the master key from the data dir');
  }
  const keys = createKeyStore({ store: d.store, audit: d.audit, masterKey: master.key, clock: d.clock });
  await keys.load();
  d.changes.on('keys', () => keys.load().then(() => undefined));

  const issuers = createIssuerStore({ db: d.store, clock: d.clock });
  d.changes.on('issuers', () => issuers.reload());
  d.changes.on('revocation', (n) => {
    if (n.rkind === 'issuer') issuers.stop(n.value);
  });
  d.changes.onResync(() => issuers.reload());
  await issuers.reload();

  const grants = createGrants({ db: d.store, audit: d.audit, clock: d.clock, approvalWindowSeconds: d.config.approvalWindow });
  d.changes.on('revocation', () => grants.forgetLive());
  d.changes.onResync(async () => grants.forgetLive());
  const jwks = createJwksCache({ clock: d.clock });
  // PGlite serves one process: the local LRU is the whole cluster. PostgreSQL: shared claims.
  const replay = createClusterReplayGuard(d.store.kind === 'pg' ? d.store : null);
  const nonces = d.config.requireDpopNonce ? createDpopNonces({ secret: master.key, clock: d.clock }) : null;
  if (nonces) d.logger.info('DPoP server nonces are required at the token endpoint');

  const inventory = {
    get: d.identityFacts,
    discover: async (id: string, issuer: string, kind: Parameters<Inventory['discover']>[2]) => {
      const i = await d.inventory.discover(id, issuer, kind);
      d.onIdentityChanged(id);
      return i;
    },
  };
  // The resource-server check, bound once: ext-authz, introspection, RFC 7009 revocation and
  // delegation (a Tether token as subject_token) use it.
  const checkDeps = { keys, revocations: d.revocations, issuerUrl: d.issuerUrl, clock: d.clock, isCurrent: () => d.changes.current(), replay };
  const check = (token: string, audience?: string) => checkAccessToken(checkDeps, token, audience);
  const exchange = createExchange({
    checkToken: (t) => check(t),
    delegationMaxDepth: d.config.delegationMaxDepth,
    issuerUrl: d.issuerUrl,
    tokenTtl: d.config.tokenTtl,
    issuers,
    jwks,
    replay,
    nonces,
    inventory,
    kernel: d.kernel,
    grants,
    keys,
    audit: d.audit,
    metrics: d.metrics,
    clock: d.clock,
    ...(d.onClaims ? { onClaims: d.onClaims } : {}),
    isCurrent: () => d.changes.current(),
    ...(d.onIssued ? { onIssued: d.onIssued } : {}),
  });
  const checkRequest = (r: ResourceRequest, o?: ResourceCheckOptions) => checkResourceRequest(checkDeps, r, o);

  // Housekeeping: expired grants are marked (audited), stale proof ids pruned.
  const timer = setInterval(() => {
    grants.expireDue().catch((err: Error) => d.logger.warn({ err: { message: err.message } }, 'grant expiry sweep failed'));
    replay.prune().catch(() => {});
  }, 5000);
  timer.unref();

  // Revocations committed on this instance are enforced here at once; the others learn them by notice.
  const onRevoked = (entries: readonly RevocationEntry[]) => {
    for (const e of entries) {
      d.revocations.add(e);
      if (e.kind === 'issuer') issuers.stop(e.value);
    }
    grants.forgetLive();
  };

  return {
    keys,
    issuers,
    grants,
    replay,
    check,
    checkRequest,
    applySection: issuers.section(),
    stop: () => clearInterval(timer),
    publicRoutes: (requireAdmin: (req: FastifyRequest) => Promise<void>, operatorOf: (token: string, req: FastifyRequest) => Promise<string | null>) => async (app: FastifyInstance) =>
      oauthRoutes(app, { exchange, keys, grants, audit: d.audit, metrics: d.metrics, check, replay, identityStatus: async (id) => (await d.identityFacts(id))?.status, issuerUrl: d.issuerUrl, requireAdmin, operatorOf, clock: d.clock, onRevoked }),
    adminRoutes: async (app: FastifyInstance) => {
      await app.register(issuerRoutes, { issuers, audit: d.audit, db: d.store });
      await app.register(grantRoutes, { grants });
      await app.register(revocationRoutes, {
        audit: d.audit,
        db: d.store,
        clock: d.clock,
        suspendIn: async (q, id) => {
          await d.inventory.setStatusIn(q, id, 'suspended');
          d.onIdentityChanged(id); // this instance at once; the others on the notification
        },
        onRevoked,
      });
      await app.register(keyRoutes, { keys });
    },
  };
}

export type TokenDomain = Awaited<ReturnType<typeof createTokenDomain>>;
