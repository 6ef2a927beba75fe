import { createHash, randomUUID } from 'node:crypto';
import { METHODS } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAuditWriter, type AuditWriter } from '../audit/index.js';
import { auditRoutes } from '../audit/routes.js';
import { createAuditAnchors } from '../audit/anchors.js';
import { auditAnchorAdminRoutes, auditAnchorPublicRoutes } from '../audit/anchor-routes.js';
import type { Config } from '../config/index.js';
import { identitiesSection, type ApplySection } from '../declarative/apply.js';
import { applyRoutes } from '../declarative/routes.js';
import { createInventory, type Inventory } from '../inventory/identities.js';
import { inventoryRoutes } from '../inventory/routes.js';
import { createChangeFeed, type ChangeFeed } from '../cluster/index.js';
import { createTokenDomain, type TokenDomain } from '../tokens/wire.js';
import { createRouteStore, type CredentialRefusal, type RouteStore } from '../routes/index.js';
import { extAuthzRoutes } from '../routes/ext-authz.js';
import { createRevocationSet, schedulePruning, type RevocationSet } from '../revocation/index.js';
import { schemaVersion, MIGRATIONS, type Store } from '../store/index.js';
import { bearerMatcher } from './admin-auth.js';
import { createAdminAccess } from './admin-access.js';
import { createAuthFailureLimiter } from './auth-failures.js';
import { createOperators } from '../operators/operators.js';
import { operatorRoutes } from '../operators/routes.js';
import { createNotifier } from '../notify/notifier.js';
import { slackRoutes } from '../notify/slack-routes.js';
import { consoleRoutes } from '../console/routes.js';
import { createMcpAuthorizer } from '../mcp/authorize.js';
import { mcpRoutes } from '../mcp/routes.js';
import { createMcpServerStore } from '../mcp/server-config.js';
import { createConsoleSessions } from '../console/sessions.js';
import { TetherError } from '../errors.js';
import { renderError } from './error-render.js';
import { refuseUnstorableInput } from './input-guard.js';
import { capConnections, serverTimeoutOptions } from './limits.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createPdpDomain, type PdpDomain } from '../pdp/index.js';
import { authzenRoutes } from '../pdp/authzen-routes.js';
import { policyRoutes } from '../policy/routes.js';
import { postureRoutes } from '../posture/routes.js';
import { claimsFingerprint, createReviews } from '../reviews/index.js';
import { reviewRoutes } from '../reviews/routes.js';
import { createWebhookNotifier } from '../detect/index.js';
import { detectionRoutes } from '../detect/routes.js';
import { createDetectionService, type DetectionService } from '../detect/service.js';
import { loadDetectionConfig } from '../detect/config-file.js';
import { matchRoute } from '../routes/index.js';
import { createIdentityCache } from '../inventory/identity-cache.js';
import { systemClock, type Clock } from '../clock.js';
import { createConnectorDomain, type ConnectorDomain } from '../connectors/domain.js';
import { credentialRoutes } from '../connectors/credential-routes.js';
import { leaseRoutes } from '../connectors/lease-routes.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  adminToken: string;
  clock?: Clock;
}

export interface Broker {
  app: FastifyInstance<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- pino-typed instance
  config: Config;
  store: Store;
  audit: AuditWriter;
  inventory: Inventory;
  metrics: Metrics;
  changes: ChangeFeed;
  revocations: RevocationSet;
  tokens: TokenDomain;
  routes: RouteStore;
  onCredentialRefusal(cb: (r: CredentialRefusal) => void): void;
  issuerUrl: () => string;
  /** Tells the broker the address it listens on, when no --issuer-url was given. */
  setListenUrl(url: string): void;
  clock: Clock;
  /** The decision pipeline (`pdp.pipeline.decide`) and its caches. */
  pdp: PdpDomain;
  /** Detection and response. */
  detection: DetectionService;
  /** The legacy bridge: connectors, credential leases, their sweeper and discovery. */
  legacy: ConnectorDomain;
  /** Stops accepting, finishes in-flight requests, flushes the audit queue, closes the store. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The composition root: every domain is built here from one Config, and mounted as one plugin. */
export async function buildApp(deps: AppDeps): Promise<Broker> {
  const { config, store, logger } = deps;
  const clock = deps.clock ?? systemClock;
  // The audit log first: every domain writes to it. Metrics read its queue and time its commits;
  // checkpoints and notifications subscribe to its commits where they are built, further down.
  const audit = createAuditWriter(store, { clock });
  const metrics = createMetrics({ auditQueueDepth: () => audit.queueDepth() });
  audit.onCommit((n, s) => {
    metrics.auditBatchSize.observe(n);
    metrics.auditCommitSeconds.observe(s);
  });
  audit.onError((err) => {
    metrics.auditFailures.inc();
    logger.error({ err: { message: (err as Error).message } }, 'audit write failed: refusing the operations it records');
  });

  const inventory = createInventory({ db: store, audit, clock });
  const applySections: ApplySection[] = [identitiesSection(inventory)];

  // The URL clients know the broker by: --issuer-url, else the address it listens on (set at listen).
  let listenUrl = 'http://127.0.0.1:8080';
  const issuerUrl = () => (config.issuerUrl ?? listenUrl).replace(/\/+$/, '');
  // Subscribers to credentials refused at the gateway (detection sees replays here).
  const credentialRefusals: Array<(r: CredentialRefusal) => void> = [];

  // Cluster-wide state: caches register here and are refreshed by notification and on resync.
  const changes = createChangeFeed(store, logger, { staleAfterMs: config.staleAfterMs });
  const revocations = createRevocationSet();
  changes.on('revocation', (n) => revocations.add({ kind: n.rkind, value: n.value, at: n.at }));
  changes.onResync(() => revocations.reload(store));
  const stopPruning = schedulePruning(store, (err) => logger.warn({ err: { message: err.message } }, 'revocation pruning failed'));

  // ---- domain wiring, in dependency order (each domain: build its services, add apply sections,
  //      register resyncs); nothing below is assigned after it is built ----

  // Inventory identities as the kernel and detection read them (invalidated by notification).
  const identities = createIdentityCache({ db: store });

  // Gateway route rules (ext-authz; detection names a refused request's target by them).
  const routes = createRouteStore({ db: store, clock });
  changes.on('routes', () => routes.reload());
  changes.onResync(() => routes.reload());

  // MCP servers Tether fronts at /mcp/{name} (mcp/server-config.ts), kept like routes.
  const mcpServers = createMcpServerStore({ db: store, clock });
  changes.on('mcp_servers', () => mcpServers.reload());
  changes.onResync(() => mcpServers.reload());

  // Detection and response: the risk and approval holds decisions read (context.risk in both phases),
  // answered from memory, so it is built before the kernel and the token endpoint that read it. It is
  // fed off the request path by committed decisions, gateway credential refusals and issuances;
  // findings are cluster-wide (table + `findings` notice).
  const webhook =
    config.webhookUrl && config.webhookSecret
      ? createWebhookNotifier({ url: config.webhookUrl, secret: config.webhookSecret, clock, logger })
      : null;
  if (config.webhookUrl && !config.webhookSecret) logger.warn('TETHER_WEBHOOK_URL is set without TETHER_WEBHOOK_SECRET: finding alerts are not sent (unsigned alerts could be forged)');
  if (!config.detection) logger.warn('detection is switched off (TETHER_DETECTION=false): no findings, risk stays 0');
  const detectionTuning = config.detectionConfig ? loadDetectionConfig(config.detectionConfig) : {};
  const detection = createDetectionService({
    ...detectionTuning,
    db: store,
    shared: store.kind === 'pg',
    audit,
    logger,
    clock,
    enabled: config.detection,
    webhook,
    responder: { setStatusIn: (q, id, status) => inventory.setStatusIn(q, id, status) },
    routeTarget: (name, method, path) => {
      const route = routes.get(name);
      const m = route ? matchRoute(route, method, path) : null;
      return m ? { action: m.action, resource: `${m.resource.type}::${m.resource.id}` } : undefined;
    },
    identityInfo: (id) => {
      const e = identities.peek(id);
      return e ? { kind: e.kind, ...(e.environment ? { environment: e.environment } : {}) } : undefined;
    },
  });
  changes.on('findings', (n) => detection.reload(n.identity));
  changes.on('activity', (n) => detection.observeActivity(n));
  changes.onResync(() => detection.reload());
  credentialRefusals.push((r) => detection.observeRefusal(r));

  // The authorization kernel and its caches: every decision, issuance included.
  const pdp = createPdpDomain({ store, audit, logger, clock, changes, metrics, identities, risk: detection });
  applySections.push(...pdp.sections);
  pdp.pipeline.onDecision((e) => detection.observeDecision(e));

  // Lifecycle reviews (created before tokens: the token endpoint reports claim sets to them).
  const reviews = createReviews({ db: store, audit, inventory, clock, logger });
  applySections.push(reviews.signals.applySection);

  // Federation, grants and tokens.
  const tokens = await createTokenDomain({
    config,
    store,
    audit,
    inventory,
    revocations,
    changes,
    metrics,
    logger,
    clock,
    issuerUrl,
    kernel: pdp.pipeline,
    onIssued: (f) => detection.observeIssuance(f),
    onIdentityChanged: (id) => identities.invalidate(id),
    identityFacts: (id) => identities.get(id),
    onClaims: (id, issuer, claims) => {
      reviews.signals.claimSetSeen(id, claimsFingerprint(claims), { issuer }).catch((err: Error) => logger.warn({ err: { message: err.message } }, 'claim-set review failed'));
    },
  });
  applySections.push(tokens.applySection);
  // Signed checkpoints and streaming export, fed by commits (README "Audit checkpoints"); built after
  // the token domain, which creates the master key they derive their key from.
  const anchors = await createAuditAnchors({ store, logger, registry: metrics.registry, clock, config });
  audit.onCommit((n) => anchors.committed(n));
  // A suspension or retirement made here is enforced here at once; other instances learn it by notice.
  inventory.onRevoked((entries) => {
    for (const e of entries) revocations.add(e);
    tokens.grants.forgetLive();
  });
  applySections.push(routes.section());
  applySections.push(mcpServers.section());

  // Legacy bridge: per-task accounts on databases and brokers, ended with their grants. Its sweeper
  // wakes on revocation and identity notices (every way a grant ends sends one).
  const legacy = createConnectorDomain({ db: store, audit, changes, inventory, clock, logger, registry: metrics.registry });
  applySections.push(legacy.applySection);

  // Reviews are opened by lifecycle signals. The apply section runs after identities (and the
  // policy sections), so an identity applied with a past review_by gets its review in the same
  // transaction; identity notices cover admin create/patch on any instance; the resync backstop runs
  // the sweep (review due, owner departed, dormancy, policy widening) at most every 5 minutes.
  changes.on('identity', (n) => reviews.signals.identityNotice(n.id).then(() => undefined));
  changes.on('policy', () => reviews.signals.policyChanged().then(() => undefined));
  changes.onResync(async () => {
    void reviews.signals.sweepIfDue(); // in the background: never delays start or a resync
  });

  detection.start();
  // ---- end of domain wiring ----
  await changes.start();
  anchors.start();
  legacy.start();

  const app = Fastify({
    loggerInstance: logger,
    // Our onResponse hook logs one line per request; fastify's two default lines would double it.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // `__proto__` / `constructor.prototype` keys are dropped from parsed JSON: inert, not an error.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    return503OnClosing: true,
    ...serverTimeoutOptions(),
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: false },
    // Errors fastify raises before routing (a malformed URL) go through the one renderer too.
    frameworkErrors: (err, req, reply) => renderError(err, req, reply),
  });

  capConnections(app.server, { exempt: config.gatewayAddresses });
  app.setErrorHandler((err, req, reply) => renderError(err, req, reply));
  // Through the one renderer, so an unknown path under /ext-authz is a 403 like every other refused
  // check (a gateway hands anything else to the client, or turns it into a 500), and 404 elsewhere.
  app.setNotFoundHandler((req, reply) => renderError(new TetherError('not_found', `no route for ${req.method} ${req.url.split('?')[0]!.slice(0, 256)}`), req, reply));
  // Envoy's check request carries the client's own method (README "Gateway trust model"): every method
  // Node parses (WebDAV's PROPFIND, PURGE, …) must reach ext-authz to be matched against the route's
  // rules (`*` included) and audited, instead of ending as fastify's 404. CONNECT never reaches
  // request routing in Node.
  for (const m of METHODS) if (m !== 'CONNECT' && !app.supportedMethods.includes(m)) app.addHttpMethod(m, { hasBody: true });

  // Forms are parsed by the OAuth routes themselves, which must refuse duplicate parameters.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('preValidation', refuseUnstorableInput);

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const secs = reply.elapsedTime / 1000;
    metrics.httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ route, method: req.method }, secs);
    if (reply.statusCode >= 500 || logger.isLevelEnabled('debug')) {
      req.log.info({ method: req.method, route, status: reply.statusCode, ms: Math.round(secs * 1e4) / 10 }, 'request');
    }
  });
  // Echo the request id (AuthZEN §"Request Identification"), on errors too.
  app.addHook('onSend', async (req, reply) => {
    if (typeof req.headers['x-request-id'] === 'string') reply.header('X-Request-ID', req.id);
  });

  // Operations: no credentials, nothing sensitive.
  app.get('/healthz', { config: { surface: 'ops' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { surface: 'ops' } }, async (_req, reply) => {
    try {
      const v = await schemaVersion(store);
      const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
      if (v < latest) return reply.code(503).send({ status: 'migrating', schema_version: v });
      // Not ready as soon as the listener misses a liveness probe, before decisions fail closed.
      if (!store.listenerHealthy() || !changes.current()) return reply.code(503).send({ status: 'degraded', reason: 'change notifications are down' });
      return { status: 'ready', schema_version: v, store: store.kind };
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'store unreachable' });
    }
  });
  app.get('/metrics', { config: { surface: 'ops' } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  // Who calls the admin API, and may they (server/admin-access.ts: one table of roles).
  const operators = createOperators({ db: store, audit, clock });
  const consoleSessions = createConsoleSessions({ db: store, audit, clock, ttlSeconds: config.consoleSessionTtl, bootstrapDigest: createHash('sha256').update(deps.adminToken).digest('hex') });
  const access = createAdminAccess({ bootstrap: bearerMatcher(deps.adminToken), operators, limiter: createAuthFailureLimiter(), audit, sessions: consoleSessions, now: () => clock().getTime() });
  await app.register(
    async (admin) => {
      admin.addHook('onRequest', access.authenticate('admin or operator token'));
      admin.addHook('preHandler', access.authorize('/admin/v1'));
      await admin.register(operatorRoutes, { operators });
      await admin.register(inventoryRoutes, { inventory, view: (i) => ({ ...i, risk: detection.riskOf(i.id), open_findings: detection.openCount(i.id) }) });
      await admin.register(auditRoutes, { db: store });
      await admin.register(auditAnchorAdminRoutes, { anchors, db: store });
      await admin.register(applyRoutes, { audit, sections: applySections, settle: () => changes.resync().catch((err: Error) => logger.warn({ err: { message: err.message } }, 'refresh after apply failed; the change notification will bring it')) });
      // ---- admin routes of domains ----
      await admin.register(policyRoutes, { db: store, audit, cache: pdp.policies, versions: pdp.versions, replay: pdp.replay });
      await admin.register(tokens.adminRoutes);
      await admin.register(reviewRoutes, reviews.routeOptions);
      await admin.register(postureRoutes, { db: store, clock, riskOf: (id: string) => detection.riskOf(id) });
      await admin.register(detectionRoutes, { db: store, service: detection });
      await admin.register(leaseRoutes, { leases: legacy.leases, connectors: legacy.connectors, discovery: legacy.discovery, audit, clock, kick: legacy.sweeper.kick });
      // ---- end of admin routes ----
    },
    { prefix: '/admin/v1' },
  );
  // Public routes of domains (non-admin).
  const adminGuard = access.authenticate('admin or operator token (introspection is for resource servers holding one)');
  await app.register(
    tokens.publicRoutes(adminGuard, access.operatorOf),
  );
  await app.register(auditAnchorPublicRoutes, { anchors });
  // The web console: static pages and the session endpoints; its screens call the admin API above.
  await app.register(consoleRoutes, { sessions: consoleSessions, login: access.login, secure: () => issuerUrl().startsWith('https:') });
  await app.register(extAuthzRoutes, {
    routes,
    pipeline: pdp.pipeline,
    checkRequest: tokens.checkRequest,
    audit,
    pdpToken: config.pdpToken,
    clock,
    onRefusal: (r) => credentialRefusals.forEach((f) => f(r)),
  });
  // The MCP gateway: every JSON-RPC request through the token check and the kernel (mcp/authorize.ts).
  await app.register(mcpRoutes, {
    servers: mcpServers,
    authorizer: createMcpAuthorizer({ pipeline: pdp.pipeline, grants: tokens.grants, approvalsUrl: () => `${issuerUrl()}/console#/approvals` }),
    checkRequest: tokens.checkRequest,
    issuerUrl,
  });
  await app.register(credentialRoutes, { connectors: legacy.connectors, issuer: legacy.issuer, pipeline: pdp.pipeline, checkRequest: tokens.checkRequest, audit, issuerUrl });
  await app.register(authzenRoutes, { pipeline: pdp.pipeline, pdpToken: config.pdpToken, baseUrl: config.issuerUrl });
  if (config.slackSigningSecret) {
    await app.register(slackRoutes, { signingSecret: config.slackSigningSecret, operators, grants: tokens.grants, audit, refused: access.refused, now: () => clock().getTime() });
  }
  // Notifications: committed audit events to webhooks and Slack, from a cursor (the audit log is the outbox).
  const notifier = createNotifier({ db: store, specs: config.notify, secret: config.notifySecret, consoleBase: issuerUrl, now: () => clock().getTime(), logger, registry: metrics.registry });
  audit.onCommit(() => notifier.kick());
  await notifier.start();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      // Findings being recorded finish first (bounded: a history replay still running is abandoned).
      const bounded = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 2000).unref())]);
      await bounded(detection.idle());
      if (webhook) await bounded(webhook.flush());
      await bounded(notifier.stop());
      tokens.stop();
      await bounded(legacy.stop());
      stopPruning();
      pdp.policies.close();
      await changes.stop();
      await audit.flush();
      await anchors.stop();
      await store.close();
    })());

  return {
    app,
    config,
    store,
    audit,
    inventory,
    metrics,
    changes,
    revocations,
    tokens,
    routes,
    onCredentialRefusal: (cb: (r: CredentialRefusal) => void) => {
      credentialRefusals.push(cb);
    },
    issuerUrl,
    setListenUrl: (url: string) => {
      listenUrl = url;
    },
    clock,
    pdp,
    detection,
    legacy,
    close,
  };
}
